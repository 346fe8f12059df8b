"""Key onboarding against a real OpenSSH sshd: password once, key installed, password nowhere."""

from __future__ import annotations

import io
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from spark_tui import cli
from spark_tui.config import locations
from spark_tui.core.errors import ConnectError
from spark_tui.core.models import DeviceProfile
from spark_tui.services.ssh.onboarding import key_path_for, onboard, revoke


async def trust(host: str, fp: str) -> bool:
    return True


@pytest.fixture
def device(sshd):
    """The shared sshd with the test user's ~/.ssh emptied."""
    sshd.clear_user_keys()
    yield sshd
    sshd.clear_user_keys()


def profile_for(server, name: str = "spark") -> DeviceProfile:
    return DeviceProfile(name, server.host, server.user, server.port)


def openssh_login(server, key: Path) -> int:
    """Exit status of a plain OpenSSH BatchMode login with ``key`` and our known_hosts."""
    command = server.ssh_command("true", key=key)
    command[command.index(f"UserKnownHostsFile={server.known_hosts}")] = f"UserKnownHostsFile={locations.known_hosts_path()}"
    return subprocess.run(command, capture_output=True, timeout=30).returncode


def authorized_keys(server) -> Path:
    return server.home / ".ssh" / "authorized_keys"


def seed_authorized_keys(server, content: bytes) -> None:
    ssh_dir = server.home / ".ssh"
    ssh_dir.mkdir(mode=0o700, exist_ok=True)
    authorized_keys(server).write_bytes(content)
    authorized_keys(server).chmod(0o600)
    for path in (ssh_dir, authorized_keys(server)):
        os.chown(path, server.entry.pw_uid, server.entry.pw_gid)


def password_log_lines(server) -> int:
    text = server.log.read_text()
    return text.count("Accepted password") + text.count("Failed password")


OTHER_LINES = (
    b"# keys of the lab admins\n"
    b'command="/bin/echo hi",no-pty ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDeE6c3kF2mJk8c1dSGK5L0Q6G+6xdWw8g2y5i2aH9Xh admin@lab\n'
    b"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIH9WdU9rZsIQq3hJ4bqf1nJ2o1Bn8rE2K8fYQvLk1Y0m no-newline-at-end"
)


async def test_onboarding_installs_a_key_that_plain_openssh_then_uses_without_a_password(device) -> None:
    steps: list[tuple[str, str]] = []
    result = await onboard(profile_for(device), device.password, confirm_host_key=trust, on_step=lambda s, t: steps.append((s, t)))
    key = key_path_for("spark")
    assert result == DeviceProfile("spark", device.host, device.user, device.port, identity_file=str(key))
    assert openssh_login(device, key) == 0
    order = [s for i, (s, _) in enumerate(steps) if i == 0 or steps[i - 1][0] != s]
    assert order == ["connect", "host-key", "key", "install", "verify"]
    assert key.with_name(key.name + ".pub").read_text().split()[2].startswith("spark-tui@")
    assert stat.S_IMODE((device.home / ".ssh").stat().st_mode) == 0o700
    assert stat.S_IMODE(authorized_keys(device).stat().st_mode) == 0o600
    assert authorized_keys(device).stat().st_uid == device.entry.pw_uid


async def test_onboarding_twice_leaves_one_key_line(device) -> None:
    for _ in range(2):
        await onboard(profile_for(device), device.password, confirm_host_key=trust, on_step=lambda s, t: None)
    pub = Path(f"{key_path_for('spark')}.pub").read_text().split()[1]
    assert authorized_keys(device).read_text().count(pub) == 1
    assert len(authorized_keys(device).read_text().splitlines()) == 1


async def test_other_lines_in_authorized_keys_are_left_byte_for_byte(device) -> None:
    seed_authorized_keys(device, OTHER_LINES)
    await onboard(profile_for(device), device.password, confirm_host_key=trust, on_step=lambda s, t: None)
    content = authorized_keys(device).read_bytes()
    pub = Path(f"{key_path_for('spark')}.pub").read_text().split()[1]
    assert content.startswith(OTHER_LINES + b"\n")
    assert content[len(OTHER_LINES) + 1 :].decode().split()[1] == pub


async def test_revoke_removes_exactly_our_line_and_the_key_stops_working(device) -> None:
    seed_authorized_keys(device, OTHER_LINES + b"\n")
    profile = await onboard(profile_for(device), device.password, confirm_host_key=trust, on_step=lambda s, t: None)
    key = Path(profile.identity_file)
    assert await revoke(profile) is True
    assert authorized_keys(device).read_bytes() == OTHER_LINES + b"\n"
    assert stat.S_IMODE(authorized_keys(device).stat().st_mode) == 0o600
    assert not key.exists()  # a key spark-tui generated goes with the device


async def test_a_key_the_user_picked_is_installed_and_never_deleted(device, tmp_path: Path) -> None:
    mine = tmp_path / "mine_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "me@laptop", "-f", str(mine)], check=True)
    profile = await onboard(profile_for(device), device.password, key=mine, confirm_host_key=trust, on_step=lambda s, t: None)
    assert profile.identity_file == str(mine)
    assert "me@laptop" in authorized_keys(device).read_text()
    assert openssh_login(device, mine) == 0
    await revoke(profile)
    assert mine.exists() and authorized_keys(device).read_text() == ""
    assert list(locations.keys_dir().iterdir()) == []


async def test_a_wrong_password_fails_at_connect_as_auth_and_leaves_nothing_behind(device) -> None:
    with pytest.raises(ConnectError) as caught:
        await onboard(profile_for(device), "not-the-password", confirm_host_key=trust, on_step=lambda s, t: None)
    assert caught.value.kind == "auth" and caught.value.message.startswith("connect:")
    assert "password" in caught.value.hint and "not-the-password" not in str(caught.value)
    assert list(locations.keys_dir().iterdir()) == []
    assert not (device.home / ".ssh").exists()


async def test_a_rejected_host_key_stops_before_the_password_is_sent(device) -> None:
    before = password_log_lines(device)

    async def refuse(host: str, fp: str) -> bool:
        return False

    with pytest.raises(ConnectError) as caught:
        await onboard(profile_for(device), device.password, confirm_host_key=refuse, on_step=lambda s, t: None)
    assert caught.value.kind == "host-key-unknown" and caught.value.message.startswith("host-key:")
    assert password_log_lines(device) == before
    assert not locations.known_hosts_path().exists()


async def test_a_key_that_fails_to_verify_is_taken_back_from_the_device(sshd_factory) -> None:
    server = sshd_factory(extra_config="AuthenticationMethods password\n")
    server.clear_user_keys()
    seed_authorized_keys(server, OTHER_LINES)
    try:
        with pytest.raises(ConnectError) as caught:
            await onboard(profile_for(server), server.password, confirm_host_key=trust, on_step=lambda s, t: None)
        assert caught.value.step == "verify" and caught.value.message.startswith("verify:") and caught.value.kind == "auth"
        assert authorized_keys(server).read_bytes().rstrip(b"\n") == OTHER_LINES
        assert list(locations.keys_dir().iterdir()) == []
    finally:
        server.clear_user_keys()


# -- the command line ----------------------------------------------------------------------


def run_cli(argv: list[str], stdin: str, monkeypatch, capsys) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    code = cli.main(argv)
    out = capsys.readouterr()
    return code, out.out, out.err


def add_argv(server, *extra: str) -> list[str]:
    return ["device", "add", "spark", "--host", server.host, "--user", server.user, "--port", str(server.port), "--setup-key", *extra]


def every_file_under(*roots: Path) -> list[Path]:
    return [p for root in roots if root.exists() for p in root.rglob("*") if p.is_file()]


def test_device_add_setup_key_saves_a_keyed_profile_and_writes_the_password_nowhere(
    device, isolated_folders: Path, monkeypatch, capsys
) -> None:
    code, out, err = run_cli(add_argv(device), f"{device.password}\ny\n", monkeypatch, capsys)
    assert code == 0, err
    assert device.fingerprint() in err and "[verify]" in out
    saved = cli.CliContext(config_path=locations.config_path()).store().load().device("spark")
    assert saved is not None and saved.identity_file == str(key_path_for("spark"))
    assert openssh_login(device, key_path_for("spark")) == 0
    written = every_file_under(isolated_folders, locations.config_path().parent)
    assert locations.config_path() in written and key_path_for("spark") in written and locations.known_hosts_path() in written
    for path in (locations.config_path(), key_path_for("spark"), locations.known_hosts_path()):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    for path in written:
        assert device.password.encode() not in path.read_bytes(), path
    assert device.password not in out + err


def test_device_add_setup_key_with_a_wrong_trust_fingerprint_saves_nothing(device, monkeypatch, capsys) -> None:
    wrong = "SHA256:" + "A" * 43
    code, _, err = run_cli(add_argv(device, "--trust", wrong), f"{device.password}\n", monkeypatch, capsys)
    assert code == 1 and wrong in err and device.fingerprint() in err
    assert cli.CliContext(config_path=locations.config_path()).store().load().device("spark") is None
    assert not (device.home / ".ssh").exists()


def test_device_add_setup_key_with_the_right_trust_fingerprint_asks_nothing(device, monkeypatch, capsys) -> None:
    bare = device.fingerprint().removeprefix("SHA256:")  # pasted without the prefix is fine too
    code, _, err = run_cli(add_argv(device, "--trust", bare), f"{device.password}\n", monkeypatch, capsys)
    assert code == 0, err
    assert "[y/N]" not in err


def test_device_add_setup_key_with_a_wrong_password_exits_1_and_saves_nothing(device, monkeypatch, capsys) -> None:
    code, out, err = run_cli(add_argv(device), "wrong-password\ny\n", monkeypatch, capsys)
    assert code == 1 and "check the user name and password" in err
    assert "wrong-password" not in out + err
    assert cli.CliContext(config_path=locations.config_path()).store().load().device("spark") is None
    assert list(locations.keys_dir().iterdir()) == []


def test_device_remove_revoke_takes_our_key_off_the_device(device, monkeypatch, capsys) -> None:
    seed_authorized_keys(device, OTHER_LINES + b"\n")
    assert run_cli(add_argv(device, "--trust", device.fingerprint()), f"{device.password}\n", monkeypatch, capsys)[0] == 0
    code, out, err = run_cli(["device", "remove", "spark", "--revoke"], "", monkeypatch, capsys)
    assert code == 0, err
    assert authorized_keys(device).read_bytes() == OTHER_LINES + b"\n"
    assert cli.CliContext(config_path=locations.config_path()).store().load().device("spark") is None


async def test_the_password_buffer_is_zeroed_and_core_dumps_are_off_during_onboarding(device) -> None:
    import resource

    from spark_tui.core.secret import Secret

    before = resource.getrlimit(resource.RLIMIT_CORE)
    secret = Secret(device.password)
    buffer = secret._buffer  # the one mutable copy we hold
    seen: list[tuple[str, int]] = []

    def on_step(step: str, _text: str) -> None:
        seen.append((step, resource.getrlimit(resource.RLIMIT_CORE)[0]))

    try:
        await onboard(profile_for(device), secret, confirm_host_key=trust, on_step=on_step)
        assert seen and all(limit == 0 for _, limit in seen), seen  # no core file while it is in memory
        assert secret.wiped and buffer == bytearray()  # overwritten, then emptied
        assert device.password not in repr(secret) and "***" in repr(secret)
    finally:
        resource.setrlimit(resource.RLIMIT_CORE, before)


async def test_a_failed_login_wipes_the_password_buffer_too(device) -> None:
    from spark_tui.core.errors import OnboardingFailed
    from spark_tui.core.secret import Secret

    secret = Secret(device.password + "-wrong")
    with pytest.raises(OnboardingFailed):
        await onboard(profile_for(device), secret, confirm_host_key=trust, on_step=lambda s, t: None)
    assert secret.wiped
