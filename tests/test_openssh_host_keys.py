"""Host keys as OpenSSH handles them, judged by OpenSSH itself on a real sshd.

The server has ed25519, ecdsa and rsa host keys and an ed25519 host certificate signed by a CA
made here with ``ssh-keygen -s``. Every expectation is what the real ``ssh`` client does with the
same known_hosts file, never a value written into the test.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import asyncssh
import pytest

from spark_tui import cli
from spark_tui.config import locations
from spark_tui.core.errors import ConnectError
from spark_tui.core.models import DeviceProfile
from spark_tui.services.ssh import ConnectionService
from tests.sshd_server import Sshd, SshdUnavailable

SPARK_TUI = str(Path(sys.executable).parent / "spark-tui")


def keygen(*args: str) -> None:
    subprocess.run(["ssh-keygen", "-q", *args], check=True, capture_output=True)


@pytest.fixture(scope="module")
def many_keys(tmp_path_factory: pytest.TempPathFactory):
    """A real sshd with ed25519 + ecdsa + rsa host keys and a CA-signed ed25519 host certificate.

    Shared by this module's tests: none of them changes the server, each has its own known_hosts.
    """
    root = tmp_path_factory.mktemp("many-keys")
    keys = root / "hostkeys"
    keys.mkdir()
    for kind in ("ecdsa", "rsa"):
        keygen("-t", kind, "-N", "", "-f", str(keys / f"ssh_host_{kind}_key"))
    keygen("-t", "ed25519", "-N", "", "-C", "test-ca", "-f", str(keys / "ca"))
    try:
        server = Sshd(root / "sshd", extra_config=f"HostKey {keys / 'ssh_host_ecdsa_key'}\nHostKey {keys / 'ssh_host_rsa_key'}\n")
    except SshdUnavailable as error:
        pytest.fail(str(error), pytrace=False)
    keygen("-s", str(keys / "ca"), "-I", "spark-test-host", "-h", "-n", server.host, str(server.host_key) + ".pub")
    server.extra_config += f"HostCertificate {server.host_key}-cert.pub\n"
    server.write_config()
    server.keys = keys
    try:
        server.start()
        yield server
    finally:
        server.close()


def pub(path: Path) -> str:
    return " ".join(Path(f"{path}.pub" if not str(path).endswith(".pub") else path).read_text().split()[:2])


def openssh(server, known_hosts: Path) -> subprocess.CompletedProcess:
    """What ``ssh -vv`` does with this known_hosts file (key login, no questions)."""
    return subprocess.run(
        ["ssh", "-vv", "-F", "/dev/null", "-i", str(server.client_key), "-p", str(server.port),
         "-o", f"UserKnownHostsFile={known_hosts}", "-o", "GlobalKnownHostsFile=/dev/null",
         "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes",
         f"{server.user}@{server.host}", "true"],
        capture_output=True, text=True, timeout=30,
    )


def openssh_server_key(stderr: str) -> tuple[str, str]:
    """The key type and fingerprint OpenSSH's debug output says the server presented."""
    found = re.search(r"Server host (?:key|certificate): (\S+) (SHA256:[A-Za-z0-9+/]+)", stderr)
    assert found, stderr
    return found.group(1).replace("-cert-v01@openssh.com", ""), found.group(2)


def profile(server) -> DeviceProfile:
    return DeviceProfile("dev", server.host, user=server.user, port=server.port, identity_file=str(server.client_key))


async def connect(server, known_hosts: Path, confirm=None):
    service = ConnectionService(known_hosts=known_hosts, confirm_host_key=confirm)
    try:
        conn = await service.connect(profile(server))
        return conn.get_server_host_key()
    finally:
        await service.close()


async def test_first_use_offers_the_key_type_and_fingerprint_openssh_meets_first(many_keys, tmp_path: Path) -> None:
    empty = tmp_path / "empty_known_hosts"
    empty.write_text("")
    kind, fp = openssh_server_key(openssh(many_keys, empty).stderr)
    asked = []

    async def confirm(host, fingerprint, key_type):
        asked.append((fingerprint, key_type))
        return True

    ours = tmp_path / "ours"
    await connect(many_keys, ours, confirm)
    assert asked == [(fp, "ssh-ed25519" if kind.startswith("ssh-ed25519") else kind)]
    # what we stored is what OpenSSH then accepts with no certificate authority at all
    assert openssh(many_keys, ours).returncode == 0


async def test_a_host_known_only_by_its_rsa_key_is_checked_with_rsa_like_openssh(many_keys, tmp_path: Path) -> None:
    known = tmp_path / "known_hosts"
    known.write_text(f"[{many_keys.host}]:{many_keys.port} {pub(many_keys.keys / 'ssh_host_rsa_key')}\n")
    done = openssh(many_keys, known)
    assert done.returncode == 0, done.stderr
    kind, fp = openssh_server_key(done.stderr)
    key = await connect(many_keys, known)
    assert key.get_fingerprint("sha256") == fp and kind in ("ssh-rsa", "rsa-sha2-512", "rsa-sha2-256")


@pytest.mark.parametrize("also_trusted", ["", "ssh_host_rsa_key"], ids=["revoked-only", "revoked-and-rsa-trusted"])
async def test_a_revoked_ed25519_key_stops_us_exactly_where_it_stops_openssh(many_keys, tmp_path: Path, also_trusted: str) -> None:
    known = tmp_path / "known_hosts"
    where = f"[{many_keys.host}]:{many_keys.port}"
    lines = f"@revoked {where} {pub(many_keys.host_key)}\n"
    if also_trusted:
        lines += f"{where} {pub(many_keys.keys / also_trusted)}\n"
    known.write_text(lines)
    done = openssh(many_keys, known)
    openssh_ok = done.returncode == 0
    asked = []

    async def confirm(*args):
        asked.append(args)
        return False

    try:
        await connect(many_keys, known, confirm)
        ours_ok = True
    except ConnectError as error:
        ours_ok = False
        if not openssh_ok:
            assert "revoked" in str(error) and not asked, (error, asked)
    assert ours_ok == openssh_ok, done.stderr


async def test_a_host_certificate_signed_by_a_trusted_authority_is_accepted_without_a_question(many_keys, tmp_path: Path) -> None:
    known = tmp_path / "known_hosts"
    known.write_text(f"@cert-authority [{many_keys.host}]:* {pub(many_keys.keys / 'ca')}\n")
    assert openssh(many_keys, known).returncode == 0

    async def never(*_):
        raise AssertionError("a certified host must not be asked about")

    key = await connect(many_keys, known, never)  # no plain key is trusted: only the CA vouches
    assert key.get_fingerprint("sha256") == many_keys.fingerprint()


async def test_a_revoked_certificate_authority_is_refused_as_openssh_refuses_it(many_keys, tmp_path: Path) -> None:
    known = tmp_path / "known_hosts"
    ca = pub(many_keys.keys / "ca")
    known.write_text(f"@cert-authority [{many_keys.host}]:* {ca}\n@revoked * {ca}\n")
    assert openssh(many_keys, known).returncode != 0
    with pytest.raises(ConnectError):
        await connect(many_keys, known)


# --- trust from the command line -----------------------------------------------------------


def run_cli(argv, monkeypatch, capsys, stdin: str = ""):
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    code = cli.main(argv)
    out = capsys.readouterr()
    return code, out.out, out.err


def save(server) -> None:
    cli.CliContext(config_path=locations.config_path()).store().add_device(profile(server))


def test_exec_without_a_terminal_refuses_with_the_fingerprint_and_the_flag_to_pass(many_keys, tmp_path, monkeypatch, capsys) -> None:
    save(many_keys)
    empty = tmp_path / "empty"
    empty.write_text("")
    _, fp = openssh_server_key(openssh(many_keys, empty).stderr)
    code, out, err = run_cli(["exec", "dev", "--", "echo", "hi"], monkeypatch, capsys)
    assert code == 1 and out == ""
    assert fp in err and f"--trust {fp}" in err and "device trust dev" in err
    assert not locations.known_hosts_path().exists()
    code, out, err = run_cli(["exec", "dev", "--trust", fp, "--", "echo", "hi"], monkeypatch, capsys)
    assert (code, out) == (0, "hi\n"), err


@pytest.mark.parametrize("command", [["containers", "dev"], ["copy", "dev:/etc/hostname", "/tmp"]], ids=lambda c: c[0])
def test_every_connecting_command_refuses_an_unknown_key_without_a_terminal_and_names_it(
    many_keys, tmp_path, monkeypatch, capsys, command
) -> None:
    save(many_keys)
    empty = tmp_path / "empty"
    empty.write_text("")
    _, fp = openssh_server_key(openssh(many_keys, empty).stderr)
    code, _, err = run_cli(command, monkeypatch, capsys)
    assert code == 1
    assert fp in err and f"--trust {fp}" in err
    assert not locations.known_hosts_path().exists()


def test_exec_with_a_wrong_trust_fingerprint_saves_nothing(many_keys, monkeypatch, capsys) -> None:
    save(many_keys)
    code, _, err = run_cli(["exec", "dev", "--trust", "SHA256:" + "A" * 43, "--", "true"], monkeypatch, capsys)
    assert code == 1 and "not the expected" in err
    assert not locations.known_hosts_path().exists()


def test_device_trust_with_the_openssh_fingerprint_stores_the_key_openssh_then_accepts(many_keys, tmp_path, monkeypatch, capsys) -> None:
    save(many_keys)
    empty = tmp_path / "empty"
    empty.write_text("")
    _, fp = openssh_server_key(openssh(many_keys, empty).stderr)
    code, out, err = run_cli(["device", "trust", "dev", "--fingerprint", fp], monkeypatch, capsys)
    assert code == 0 and fp in out and "ED25519" in out, err
    assert openssh(many_keys, locations.known_hosts_path()).returncode == 0
    code, out, _ = run_cli(["device", "trust", "dev"], monkeypatch, capsys)
    assert code == 0 and "already trusted" in out
    code, out, err = run_cli(["exec", "dev", "--", "echo", "ok"], monkeypatch, capsys)
    assert (code, out) == (0, "ok\n"), err


def test_device_trust_without_a_terminal_or_fingerprint_refuses_and_saves_nothing(many_keys, monkeypatch, capsys) -> None:
    save(many_keys)
    code, _, err = run_cli(["device", "trust", "dev"], monkeypatch, capsys)
    assert code == 1 and "--fingerprint SHA256:" in err
    assert not locations.known_hosts_path().exists()


def test_exec_in_a_real_terminal_asks_like_openssh_and_works_after_yes(many_keys, tmp_path: Path) -> None:
    if not shutil.which("tmux"):
        pytest.fail("tmux is needed: apt-get install -y tmux", pytrace=False)
    save(many_keys)
    done = tmp_path / "exit-status"
    socket = f"openssh-trust-{os.getpid()}-{time.monotonic_ns()}"
    command = f"{SPARK_TUI} exec dev -- echo remote-ok; echo $? > {done}; sleep 30"
    tmux = ["tmux", "-L", socket]
    subprocess.run([*tmux, "new-session", "-d", "-s", "t", "-x", "160", "-y", "20", command], check=True, env=os.environ.copy())
    try:
        deadline = time.monotonic() + 30
        screen = ""
        while time.monotonic() < deadline and "(yes/no)" not in screen:
            time.sleep(0.1)
            screen = subprocess.run([*tmux, "capture-pane", "-p", "-t", "t"], capture_output=True, text=True).stdout
        assert "(yes/no)" in screen and "ED25519 key fingerprint is SHA256:" in screen, screen
        subprocess.run([*tmux, "send-keys", "-t", "t", "-l", "yes"], check=True)
        subprocess.run([*tmux, "send-keys", "-t", "t", "Enter"], check=True)
        while time.monotonic() < deadline and not done.exists():
            time.sleep(0.1)
        screen = subprocess.run([*tmux, "capture-pane", "-p", "-t", "t"], capture_output=True, text=True).stdout
        assert done.read_text().strip() == "0" and "remote-ok" in screen, screen
    finally:
        subprocess.run([*tmux, "kill-server"], capture_output=True)
    assert openssh(many_keys, locations.known_hosts_path()).returncode == 0


def test_tunnel_without_a_terminal_refuses_with_the_fingerprint_then_runs_with_trust(many_keys, tmp_path: Path) -> None:
    from tests.sshd_server import free_port

    save(many_keys)
    empty = tmp_path / "empty"
    empty.write_text("")
    _, fp = openssh_server_key(openssh(many_keys, empty).stderr)
    forward = f"{many_keys.port}:{free_port()}"
    done = subprocess.run([SPARK_TUI, "tunnel", "dev", forward], capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=60)
    assert done.returncode == 1 and f"--trust {fp}" in done.stderr, done.stderr
    tunnel = subprocess.Popen([SPARK_TUI, "tunnel", "dev", forward, "--trust", fp], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, stdin=subprocess.DEVNULL)
    try:
        first = tunnel.stdout.readline()
        assert f"-> dev localhost:{many_keys.port}" in first, first + tunnel.stderr.read()
    finally:
        tunnel.terminate()
        tunnel.communicate(timeout=30)
    assert tunnel.returncode == 0
