"""A private, real docker daemon for tests (Debian's docker.io), touching nothing shared.

Its own ``--data-root``/``--exec-root``/pidfile under ``/tmp/apps-docker-*`` (0755 so the sshd
test user can reach the socket), its own bridge ``appsbr<N>`` with an address from
198.19.40.0/24 (inside 198.18.0.0/15), ``--iptables=false`` and ``--ip6tables=false`` (no host
firewall rules; published ports go through docker-proxy) and ``--ip 127.0.0.1`` (a container
publishes on loopback only). It starts its own managed containerd. Two sockets: ``allowed`` is
``root:GROUP 0660`` with the test user in GROUP (like the ``docker`` group), ``denied`` is
``root:root 0660`` (a user not in the group). Images are made offline by ``docker import`` of
a busybox-static root file system. Stopped by its pid; its folders and bridge are removed.
"""

from __future__ import annotations

import contextlib
import grp
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

GROUP = "apps-docker-t"
BRIDGE_NET = "198.19.40"
IMAGE = "apps-busybox:test"


class DockerUnavailable(RuntimeError):
    """dockerd could not start here; the message carries its log's last lines."""


def _run(*cmd: str, env: dict | None = None, check: bool = True, input: bytes | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, check=check, env=env, input=input, timeout=120)


class DockerDaemon:
    """One dockerd; ``start()``, use ``allowed``/``denied``/``client_env()``, ``stop()``."""

    def __init__(self, user: str) -> None:
        self.user = user
        self.root = Path(tempfile.mkdtemp(prefix="apps-docker-", dir="/tmp"))
        os.chmod(self.root, 0o755)
        self.allowed = self.root / "docker.sock"
        self.denied = self.root / "denied.sock"
        self.bridge = f"appsbr{os.getpid() % 10000}"
        self.pid: int | None = None
        self.log = self.root / "dockerd.log"
        self._added_user = False

    def client_env(self, sock: Path | None = None) -> dict:
        return {**os.environ, "DOCKER_HOST": f"unix://{sock or self.allowed}"}

    def docker(self, *args: str, input: bytes | None = None, check: bool = True) -> subprocess.CompletedProcess:
        return _run("docker", *args, env=self.client_env(), input=input, check=check)

    def start(self, timeout: float = 30.0) -> None:
        if shutil.which("dockerd") is None or shutil.which("docker") is None:
            raise DockerUnavailable("dockerd/docker not installed (apt-get install docker.io)")
        try:
            grp.getgrnam(GROUP)
        except KeyError:
            _run("groupadd", GROUP)
        if self.user not in grp.getgrnam(GROUP).gr_mem:
            _run("gpasswd", "-a", self.user, GROUP)
            self._added_user = True
        _run("ip", "link", "add", self.bridge, "type", "bridge")
        _run("ip", "addr", "add", f"{BRIDGE_NET}.1/24", "dev", self.bridge)
        _run("ip", "link", "set", self.bridge, "up")
        cmd = [
            "dockerd",
            "--data-root", str(self.root / "data"), "--exec-root", str(self.root / "exec"),
            "--pidfile", str(self.root / "dockerd.pid"),
            "-H", f"unix://{self.allowed}", "-H", f"unix://{self.denied}", "--group", GROUP,
            "--bridge", self.bridge, "--iptables=false", "--ip6tables=false", "--ip-masq=false", "--ip", "127.0.0.1",
            "--storage-driver", "vfs", "--userland-proxy=true", "--log-level", "warn",
        ]
        with open(self.log, "wb") as log:
            process = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.pid = process.pid
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise DockerUnavailable(f"dockerd exited with {process.returncode}: {self.tail()}")
            if self.denied.exists() and _run("docker", "version", env=self.client_env(), check=False).returncode == 0:
                break
            time.sleep(0.2)
        else:
            self.stop()
            raise DockerUnavailable(f"dockerd did not answer within {timeout:g} s: {self.tail()}")
        os.chown(self.denied, 0, 0)  # a user outside the group: the socket is root:root 0660
        os.chmod(self.denied, 0o660)

    def build_image(self) -> str:
        """``docker import`` a busybox-static root file system (offline) as ``IMAGE``."""
        rootfs = self.root / "rootfs"
        (rootfs / "bin").mkdir(parents=True)
        (rootfs / "www").mkdir()
        shutil.copy2("/bin/busybox", rootfs / "bin" / "busybox")
        for applet in ("sh", "httpd", "sleep", "echo", "cat"):
            (rootfs / "bin" / applet).symlink_to("busybox")
        (rootfs / "www" / "index.html").write_text("hello from a container\n")
        tar = _run("tar", "-C", str(rootfs), "-c", ".").stdout
        self.docker("import", "-", IMAGE, input=tar)
        return IMAGE

    def tail(self, lines: int = 15) -> str:
        try:
            return " | ".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        if self.pid is not None:
            with contextlib.suppress(Exception):
                self.docker("rm", "-f", *self.docker("ps", "-aq").stdout.decode().split(), check=False)
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGTERM)
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                try:
                    os.kill(self.pid, 0)
                    waited = os.waitpid(self.pid, os.WNOHANG)
                    if waited[0] == self.pid:
                        break
                except (ProcessLookupError, ChildProcessError):
                    break
                time.sleep(0.1)
            else:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.pid, signal.SIGKILL)
            self.pid = None
        with open("/proc/mounts") as mounts:
            ours = [line.split()[1] for line in mounts if str(self.root) in line.split()[1]]
        for mount in sorted(ours, key=len, reverse=True):
            _run("umount", "-l", mount, check=False)
        _run("ip", "link", "del", self.bridge, check=False)
        if self._added_user:
            _run("gpasswd", "-d", self.user, GROUP, check=False)
        shutil.rmtree(self.root, ignore_errors=True)
