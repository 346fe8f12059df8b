"""Copies that get interrupted, damaged or cut off: SIGKILL and --resume, checksums, a restarted sshd."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from spark_tui.core.files import Place, TransferState, part_name
from spark_tui.services.files import ChecksumMismatch, CopyOptions, Transfer
from spark_tui.services.ssh import ConnectionService
from tests.files_helpers import RemoteFolder, kill_copy_when, run_cli, trust_and_save

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def remote(sshd):
    trust_and_save(sshd)
    folder = RemoteFolder(sshd)
    yield folder
    folder.remove()


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


async def transfer(profile_name: str, sources, dest, **kwargs):
    from spark_tui.config import locations
    from spark_tui.config.store import ProfileStore

    config = ProfileStore(locations.config_path()).load()
    service = ConnectionService(profiles=config.device)
    seen = []
    on_progress = kwargs.pop("on_progress", None)
    expect_openssh = kwargs.pop("expect_openssh", True)
    if kwargs.pop("openssh", False):
        from spark_tui.services.tunnels import master_factory

        kwargs["make_master"] = master_factory(lambda: config.device(profile_name), service.known_hosts.path)

    def progress(p):
        seen.append(p)
        if on_progress:
            on_progress(p)

    job = Transfer(sources, dest, connect=lambda: service.connect(config.device(profile_name)), on_progress=progress, **kwargs)
    try:
        result = await job.run()
    finally:
        await service.close()
    if "make_master" in kwargs and expect_openssh:
        assert job.files_by_openssh >= 1, "OpenSSH (the master) was asked to move the bytes but did not"
    return result, seen


def test_a_copy_killed_mid_file_leaves_only_the_part_and_resume_completes_it(remote, tmp_path: Path, monkeypatch, capsys):
    src = tmp_path / "big.bin"
    with src.open("wb") as handle:
        for _ in range(256):
            handle.write(os.urandom(1 << 20))
    part = remote.local / part_name("big.bin")
    child = subprocess.Popen(
        [sys.executable, "-m", "spark_tui", "copy", "--quiet", str(src), remote.spec()],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    kill_copy_when(child, lambda: part.exists() and part.stat().st_size > 48 << 20, poll=0.002)
    assert not (remote.local / "big.bin").exists()
    left = part.stat().st_size
    assert 0 < left < src.stat().st_size

    code, _, err = run_cli(["copy", "--resume", "--quiet", str(src), remote.spec()], monkeypatch, capsys)
    assert code == 0, err
    assert digest(remote.local / "big.bin") == digest(src)
    assert not part.exists()


@pytest.mark.parametrize("openssh", [False, True], ids=["asyncssh", "openssh-sftp"])
async def test_resume_sends_only_what_the_verified_part_lacks(remote, tmp_path: Path, openssh: bool):
    src = tmp_path / "model.safetensors"
    data = os.urandom(24 << 20)
    src.write_bytes(data)
    part = remote.local / part_name(src.name)
    part.write_bytes(data[: 16 << 20])
    remote.own(part)
    result, _ = await transfer("dev", [Place(None, str(src))], Place("dev", remote.name), options=CopyOptions(resume=True), openssh=openssh)
    assert digest(remote.local / src.name) == digest(src)
    assert result.done == len(data)
    assert result.sent == 8 << 20  # only the missing 8 MiB


@pytest.mark.parametrize("openssh", [False, True], ids=["asyncssh", "openssh-sftp"])
async def test_a_part_that_does_not_match_the_source_is_started_over(remote, tmp_path: Path, openssh: bool):
    src = tmp_path / "data.bin"
    data = os.urandom(24 << 20)
    src.write_bytes(data)
    part = remote.local / part_name(src.name)
    part.write_bytes(bytes([data[0] ^ 0xFF]) + data[1: 16 << 20])  # one byte differs from the source's prefix
    remote.own(part)
    result, _ = await transfer("dev", [Place(None, str(src))], Place("dev", remote.name), options=CopyOptions(resume=True), openssh=openssh)
    assert digest(remote.local / src.name) == digest(src)
    assert result.sent == len(data)


async def test_checksum_catches_a_byte_damaged_between_the_copy_and_the_verification(remote, tmp_path: Path):
    src = tmp_path / "weights.bin"
    src.write_bytes(os.urandom(2 << 20))

    async def damage(side, part: str) -> None:
        with open(part, "r+b") as handle:  # the device's disk is this machine's: flip one byte there
            handle.seek(12345)
            byte = handle.read(1)
            handle.seek(12345)
            handle.write(bytes([byte[0] ^ 0x01]))

    with pytest.raises(ChecksumMismatch) as caught:
        await transfer("dev", [Place(None, str(src))], Place("dev", remote.name), options=CopyOptions(checksum=True, before_verify=damage))
    assert "weights.bin" in str(caught.value)
    assert not (remote.local / "weights.bin").exists()

    async def nothing(side, part: str) -> None:
        pass

    back = tmp_path / "back"
    back.mkdir()
    await transfer("dev", [Place(None, str(src))], Place("dev", remote.name), options=CopyOptions(checksum=True, before_verify=nothing))
    with pytest.raises(ChecksumMismatch):
        await transfer("dev", [Place("dev", f"{remote.name}/weights.bin")], Place(None, str(back)),
                       options=CopyOptions(checksum=True, before_verify=damage))
    assert not (back / "weights.bin").exists()


def test_checksum_from_the_command_line_passes_for_a_good_copy_both_ways(remote, tmp_path: Path, monkeypatch, capsys):
    src = tmp_path / "a.bin"
    src.write_bytes(os.urandom(700_000))
    assert run_cli(["copy", "--checksum", str(src), remote.spec()], monkeypatch, capsys)[0] == 0
    assert run_cli(["copy", "--checksum", remote.spec(sub="a.bin"), str(tmp_path / "b.bin")], monkeypatch, capsys)[0] == 0
    assert digest(tmp_path / "b.bin") == digest(src)


@pytest.mark.parametrize("openssh", [False, True], ids=["asyncssh", "openssh-sftp"])
async def test_a_copy_goes_on_after_the_sshd_is_restarted_under_it(sshd_factory, tmp_path: Path, openssh: bool):
    server = sshd_factory()
    trust_and_save(server)
    folder = RemoteFolder(server)
    try:
        src = tmp_path / "big.bin"
        src.write_bytes(os.urandom(160 << 20))
        restarted = []

        def restart_once(progress) -> None:
            if not restarted and progress.done > 40 << 20:
                restarted.append(progress.done)
                server.restart()  # blocks the loop meanwhile: the kill lands mid-file for sure

        result, seen = await transfer("dev", [Place(None, str(src))], Place("dev", folder.name), on_progress=restart_once, openssh=openssh)
        assert restarted
        assert any(p.state is TransferState.RECONNECTING for p in seen)
        assert result.state is TransferState.DONE
        assert digest(folder.local / "big.bin") == digest(src)
        assert result.sent < src.stat().st_size + (16 << 20)  # continued: starting over would resend > 40 MiB
    finally:
        folder.remove()
