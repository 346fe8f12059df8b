"""Shared set-up for the Files tests: a saved device on the test sshd and a private remote folder."""

from __future__ import annotations

import io
import os
import pwd
import shutil
import sys
import uuid
from pathlib import Path

import asyncssh

from spark_tui import cli
from spark_tui.config import locations
from spark_tui.core.models import DeviceProfile
from spark_tui.services.ssh.known_hosts import KnownHosts


def trust_and_save(server, name: str = "dev") -> DeviceProfile:
    """Trust the sshd's host key and save it as device ``name``."""
    key = asyncssh.read_public_key(f"{server.host_key}.pub")
    KnownHosts(locations.known_hosts_path()).add(server.host, server.port, key)
    profile = DeviceProfile(name, host=server.host, user=server.user, port=server.port, identity_file=str(server.client_key))
    cli.CliContext(config_path=locations.config_path()).store().add_device(profile)
    return profile


class RemoteFolder:
    """A folder in the test user's home, seen both as the device path and (we are root, on the same
    machine) as a local path to inspect; removed afterwards."""

    def __init__(self, server) -> None:
        self.name = f"files-test-{uuid.uuid4().hex[:10]}"
        self.local = server.home / self.name
        self.local.mkdir()
        entry = pwd.getpwnam(server.user)
        os.chown(self.local, entry.pw_uid, entry.pw_gid)
        self.uid, self.gid = entry.pw_uid, entry.pw_gid

    def spec(self, device: str = "dev", sub: str = "") -> str:
        """``dev:files-test-.../sub`` (relative: the device's home)."""
        return f"{device}:{self.name}{'/' + sub if sub else ''}"

    def own(self, path: Path) -> None:
        """Give ``path`` (recursively) to the test user, as if it had made it."""
        for root, dirs, files in os.walk(path):
            for name in [*dirs, *files]:
                os.lchown(os.path.join(root, name), self.uid, self.gid)
        os.lchown(path, self.uid, self.gid)

    def remove(self) -> None:
        shutil.rmtree(self.local, ignore_errors=True)


def run_cli(argv: list[str], monkeypatch, capsys) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    code = cli.main(argv)
    out = capsys.readouterr()
    return code, out.out, out.err


def make_tree(root: Path) -> None:
    """A small model-like tree: nested folders, modes, a Hugging Face style blobs/ + snapshots/."""
    (root / "blobs").mkdir(parents=True)
    (root / "snapshots" / "abc123" / "deep" / "er").mkdir(parents=True)
    (root / "blobs" / "1f2e").write_bytes(os.urandom(300_000))
    (root / "blobs" / "9a8b").write_bytes(b"config\n")
    (root / "snapshots" / "abc123" / "model.bin").symlink_to("../../blobs/1f2e")
    (root / "snapshots" / "abc123" / "config.json").symlink_to("../../blobs/9a8b")
    (root / "snapshots" / "abc123" / "outside").symlink_to("/etc/hostname")
    (root / "snapshots" / "abc123" / "deep" / "er" / "run.sh").write_text("#!/bin/sh\necho hi\n")
    (root / "snapshots" / "abc123" / "deep" / "er" / "run.sh").chmod(0o751)
    (root / "empty").mkdir()
    os.utime(root / "blobs" / "1f2e", (1_600_000_000, 1_600_000_000))
    os.utime(root / "snapshots" / "abc123" / "deep", (1_500_000_000, 1_500_000_000))


def tree_listing(root: Path) -> dict[str, tuple]:
    """What must survive a copy: kinds, bytes, link targets, modes and (whole-second) times."""
    found = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        st = path.lstat()
        if path.is_symlink():
            found[rel] = ("link", os.readlink(path))
        elif path.is_dir():
            found[rel] = ("dir", oct(st.st_mode & 0o7777), int(st.st_mtime))
        else:
            found[rel] = ("file", path.read_bytes(), oct(st.st_mode & 0o7777), int(st.st_mtime))
    return found


def kill_copy_when(child, ready, poll: float = 0.002, timeout: float = 60.0) -> None:
    """SIGKILL the ``spark-tui copy`` process ``child`` as soon as ``ready()`` holds (it must
    still be running then: a copy that ended first proves nothing)."""
    import signal
    import time

    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and child.poll() is None:
            if ready():
                break
            time.sleep(poll)
        assert child.poll() is None, "the copy ended before it could be killed: " + child.stderr.read().decode()
        child.send_signal(signal.SIGKILL)
        child.wait()
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
