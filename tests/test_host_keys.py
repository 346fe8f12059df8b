"""Host-key trust against a real OpenSSH sshd: trust on first use, refusal of changed keys."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import asyncssh
import pytest

from spark_tui.core.errors import ConnectError, HostKeyChanged
from spark_tui.core.models import DeviceProfile
from spark_tui.services.ssh.connection import ConnectionService
from spark_tui.services.ssh.known_hosts import KnownHosts, fingerprint


def profile_for(server, name: str = "dev", host: str | None = None) -> DeviceProfile:
    return DeviceProfile(name, host or server.host, server.user, server.port, identity_file=str(server.client_key))


class Answers:
    """A confirm_host_key that records the questions and answers with a fixed choice."""

    def __init__(self, answer: bool) -> None:
        self.answer = answer
        self.asked: list[tuple[str, str]] = []

    async def __call__(self, host: str, fp: str) -> bool:
        self.asked.append((host, fp))
        return self.answer


async def test_the_first_connection_asks_with_the_openssh_fingerprint_and_stores_the_key(sshd, tmp_path: Path) -> None:
    known = tmp_path / "known_hosts"
    answers = Answers(True)
    service = ConnectionService(known_hosts=known, confirm_host_key=answers)
    try:
        await service.connect(profile_for(sshd))
    finally:
        await service.close()
    assert answers.asked == [(f"[127.0.0.1]:{sshd.port}", sshd.fingerprint())]
    assert os.stat(known).st_mode & 0o777 == 0o600
    found = subprocess.run(["ssh-keygen", "-F", f"[127.0.0.1]:{sshd.port}", "-f", str(known)], capture_output=True, text=True)
    assert found.returncode == 0 and "ssh-ed25519" in found.stdout


async def test_a_trusted_key_is_not_asked_about_again(sshd, tmp_path: Path) -> None:
    known = tmp_path / "known_hosts"
    first = ConnectionService(known_hosts=known, confirm_host_key=Answers(True))
    await first.connect(profile_for(sshd))
    await first.close()
    again = Answers(False)
    second = ConnectionService(known_hosts=known, confirm_host_key=again)
    try:
        conn = await second.connect(profile_for(sshd))
        assert (await conn.run("echo ok", check=True)).stdout == "ok\n"
    finally:
        await second.close()
    assert again.asked == []


async def test_a_rejected_host_key_is_not_stored_and_fails_as_host_key_unknown(sshd, tmp_path: Path) -> None:
    known = tmp_path / "known_hosts"
    service = ConnectionService(known_hosts=known, confirm_host_key=Answers(False))
    with pytest.raises(ConnectError) as caught:
        await service.connect(profile_for(sshd))
    assert caught.value.kind == "host-key-unknown"
    assert sshd.fingerprint() in caught.value.message
    assert not known.exists() or known.read_text() == ""


async def test_without_anyone_to_ask_an_unknown_key_is_refused_with_a_hint(sshd, tmp_path: Path) -> None:
    service = ConnectionService(known_hosts=tmp_path / "known_hosts")
    with pytest.raises(ConnectError) as caught:
        await service.connect(profile_for(sshd))
    assert caught.value.kind == "host-key-unknown"
    assert "--setup-key" in caught.value.hint


async def test_a_changed_host_key_is_refused_with_both_fingerprints(sshd_factory, tmp_path: Path) -> None:
    server = sshd_factory()
    known = tmp_path / "known_hosts"
    old = server.fingerprint()
    service = ConnectionService(known_hosts=known, confirm_host_key=Answers(True))
    await service.connect(profile_for(server))
    await service.close()
    new = server.regenerate_host_key()
    server.restart()
    asked = Answers(True)
    again = ConnectionService(known_hosts=known, confirm_host_key=asked)
    with pytest.raises(HostKeyChanged) as caught:
        await again.connect(profile_for(server))
    assert caught.value.kind == "host-key-changed"
    assert (caught.value.old_fingerprint, caught.value.new_fingerprint) == (old, new)
    assert old in str(caught.value) and new in str(caught.value)
    assert "ssh-keygen -R" in caught.value.hint and str(known) in caught.value.hint
    assert asked.asked == []  # a changed key is never offered for trust
    assert KnownHosts(known).keys_for(server.host, server.port)[0].get_fingerprint("sha256") == old


async def test_clearing_the_old_key_with_ssh_keygen_lets_the_new_one_be_trusted(sshd_factory, tmp_path: Path) -> None:
    server = sshd_factory()
    known = tmp_path / "known_hosts"
    service = ConnectionService(known_hosts=known, confirm_host_key=Answers(True))
    await service.connect(profile_for(server))
    await service.close()
    new = server.regenerate_host_key()
    server.restart()
    subprocess.run(["ssh-keygen", "-R", f"[127.0.0.1]:{server.port}", "-f", str(known)], check=True, capture_output=True)
    asked = Answers(True)
    again = ConnectionService(known_hosts=known, confirm_host_key=asked)
    await again.connect(profile_for(server))
    await again.close()
    assert asked.asked == [(f"[127.0.0.1]:{server.port}", new)]


async def test_a_known_hosts_file_others_can_write_is_refused(sshd, tmp_path: Path) -> None:
    known = tmp_path / "known_hosts"
    known.write_text("")
    known.chmod(0o666)
    service = ConnectionService(known_hosts=known, confirm_host_key=Answers(True))
    with pytest.raises(ConnectError) as caught:
        await service.connect(profile_for(sshd))
    assert "chmod 600" in caught.value.hint
    assert known.read_text() == ""


async def test_entries_are_keyed_by_the_profile_host_name_not_the_address(sshd, tmp_path: Path) -> None:
    known = tmp_path / "known_hosts"
    service = ConnectionService(known_hosts=known, confirm_host_key=Answers(True))
    try:
        await service.connect(profile_for(sshd, host="localhost"))
    finally:
        await service.close()
    assert known.read_text().startswith(f"[localhost]:{sshd.port} ssh-ed25519 ")
    assert KnownHosts(known).keys_for("127.0.0.1", sshd.port) == []


def test_port_22_entries_are_written_as_a_plain_host_name_that_ssh_keygen_finds(tmp_path: Path) -> None:
    known = KnownHosts(tmp_path / "known_hosts")
    key = asyncssh.generate_private_key("ssh-ed25519")
    known.add("spark-1a2b.local", 22, key)
    known.add("spark-1a2b.local", 22, key)  # twice: still one line
    lines = known.path.read_text().splitlines()
    assert len(lines) == 1 and lines[0].startswith("spark-1a2b.local ssh-ed25519 ")
    found = subprocess.run(["ssh-keygen", "-F", "spark-1a2b.local", "-f", str(known.path)], capture_output=True, text=True)
    assert found.returncode == 0
    assert known.keys_for("spark-1a2b.local", 2222) == []  # another port is another host


def test_adding_a_key_keeps_the_other_lines_and_comments(tmp_path: Path) -> None:
    path = tmp_path / "known_hosts"
    other = asyncssh.generate_private_key("ssh-ed25519").export_public_key().decode().split()
    path.write_text(f"# my comment\nbastion {other[0]} {other[1]}")
    path.chmod(0o600)
    KnownHosts(path).add("spark-1a2b.local", 22, asyncssh.generate_private_key("ssh-ed25519"))
    lines = path.read_text().splitlines()
    assert lines[:2] == ["# my comment", f"bastion {other[0]} {other[1]}"]
    assert lines[2].startswith("spark-1a2b.local ")


async def test_hashed_entries_made_by_ssh_keygen_still_match(sshd, tmp_path: Path) -> None:
    known = tmp_path / "known_hosts"
    first = ConnectionService(known_hosts=known, confirm_host_key=Answers(True))
    await first.connect(profile_for(sshd))
    await first.close()
    subprocess.run(["ssh-keygen", "-H", "-f", str(known)], check=True, capture_output=True)
    assert known.read_text().startswith("|1|")
    asked = Answers(False)
    second = ConnectionService(known_hosts=known, confirm_host_key=asked)
    await second.connect(profile_for(sshd))
    await second.close()
    assert asked.asked == []


async def test_a_key_marked_revoked_is_refused(sshd, tmp_path: Path) -> None:
    known = tmp_path / "known_hosts"
    pub = Path(f"{sshd.host_key}.pub").read_text().split()
    known.write_text(f"@revoked * {pub[0]} {pub[1]}\n")
    known.chmod(0o600)
    service = ConnectionService(known_hosts=known, confirm_host_key=Answers(True))
    with pytest.raises(ConnectError) as caught:
        await service.connect(profile_for(sshd))
    assert caught.value.kind == "host-key-changed" and "revoked" in caught.value.message


async def test_openssh_trusts_the_entry_we_wrote(sshd, tmp_path: Path) -> None:
    known = tmp_path / "known_hosts"
    service = ConnectionService(known_hosts=known, confirm_host_key=Answers(True))
    await service.connect(profile_for(sshd))
    await service.close()
    command = sshd.ssh_command("true")
    command[command.index(f"UserKnownHostsFile={sshd.known_hosts}")] = f"UserKnownHostsFile={known}"
    assert subprocess.run(command, capture_output=True, timeout=30).returncode == 0


def test_fingerprints_match_what_ssh_keygen_prints(tmp_path: Path) -> None:
    key = asyncssh.generate_private_key("ssh-ed25519")
    pub = tmp_path / "k.pub"
    pub.write_bytes(key.export_public_key())
    printed = subprocess.run(["ssh-keygen", "-lf", str(pub)], capture_output=True, text=True, check=True).stdout.split()[1]
    assert fingerprint(key) == printed and "=" not in printed
