"""``device import`` agrees with OpenSSH: every imported host is what ``ssh -G`` resolves from the
user's own file, checked by exporting the profiles again and asking ``ssh -G`` about both files,
and by logging in through the real sshd fixture."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import asyncssh

from spark_tui import cli
from spark_tui.config import locations
from spark_tui.services.ssh.known_hosts import KnownHosts

COMPARED = ("hostname", "port", "user", "identityfile", "proxycommand")


def run_cli(argv, monkeypatch, capsys, stdin: str = "") -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    code = cli.main(argv)
    out = capsys.readouterr()
    return code, out.out, out.err


def store():
    return cli.CliContext(config_path=locations.config_path()).store()


def ssh_g(config: Path, alias: str) -> dict[str, list[str]]:
    done = subprocess.run(["ssh", "-G", "-F", str(config), alias], capture_output=True, stdin=subprocess.DEVNULL, timeout=30)
    assert done.returncode == 0, done.stderr
    values: dict[str, list[str]] = {}
    for line in done.stdout.decode(errors="replace").splitlines():
        key, _, value = line.partition(" ")
        values.setdefault(key, []).append(value)
    return values


def realistic_config(tmp_path: Path) -> Path:
    drop_ins = tmp_path / "config.d"
    drop_ins.mkdir()
    # read in sorted order: 10-a's HostName wins, 20-b still gives the Port 10-a left unset
    (drop_ins / "20-b.conf").write_text("Host dropin\n    HostName 10.3.0.21\n    Port 2201\n")
    (drop_ins / "10-a.conf").write_text("Host dropin\n    HostName 10.3.0.20\n\nHost only-in-dropin\n    HostName 10.3.0.30\n")
    source = tmp_path / "config"
    source.write_bytes(
        b"# my laptop\n"
        b"Host *\n    ServerAliveInterval 30\n\n"
        + f"Include {drop_ins}/*.conf\n\n".encode()
        + b"Host spark1   # the lab one\n"
        b"    HostName 10.3.0.3 # static lease\n"
        b"    User nv\n"
        b"    IdentityFile ~/.ssh/id_spark\n"
        b"    IdentityFile ~/.ssh/id_backup\n"
        b"    # caf\xe9 au lait (one Latin-1 byte)\n\n"
        b"Host bastion\n    HostName 192.0.2.50\n    Port 2200\n    User jump\n\n"
        b"Host inner\n    HostName 10.3.0.9\n    ProxyJump bastion,nv@10.3.0.3:22\n\n"
        b"Host proxied\n    HostName 10.3.0.10\n    ProxyCommand nc -X 5 -x 127.0.0.1:1080 %h %p\n\n"
        b'Match exec "test %n = matched"\n    Port 2022\n\n'
        b"Host matched\n    HostName 10.3.0.11\n\n"
        b"Match final host 10.3.0.11\n    User finaluser\n"
    )
    return source


def test_every_imported_host_is_what_openssh_resolves_from_the_same_file(tmp_path: Path, monkeypatch, capsys) -> None:
    source = realistic_config(tmp_path)
    code, out, err = run_cli(["device", "import", "--from", str(source)], monkeypatch, capsys)
    assert code == 0, err
    names = sorted(d.name for d in store().load().devices)
    assert names == sorted(["dropin", "only-in-dropin", "spark1", "bastion", "inner", "proxied", "matched"])
    exported = tmp_path / "exported.conf"
    assert run_cli(["ssh-config", "-o", str(exported)], monkeypatch, capsys)[0] == 0
    for alias in names:
        theirs, ours = ssh_g(source, alias), ssh_g(exported, alias)
        for key in COMPARED:
            if key == "proxycommand" and theirs.get("proxyjump"):
                continue  # a chain with a user@host hop is exported as a ProxyCommand (see test_openssh_export)
            assert ours.get(key) == theirs.get(key), (alias, key, ours.get(key), theirs.get(key))
        assert store().load().device(alias).jump_host == (theirs.get("proxyjump") or [None])[0]


def test_importing_one_host_brings_its_jump_hops_and_keeps_the_chain(tmp_path: Path, monkeypatch, capsys) -> None:
    source = realistic_config(tmp_path)
    code, out, err = run_cli(["device", "import", "--from", str(source), "inner"], monkeypatch, capsys)
    assert code == 0, err
    config = store().load()
    assert sorted(d.name for d in config.devices) == ["bastion", "inner"]
    assert config.device("inner").jump_host == ssh_g(source, "inner")["proxyjump"][0]


def test_a_host_that_cannot_be_represented_is_skipped_naming_the_directive_and_the_others_imported(tmp_path: Path, monkeypatch, capsys) -> None:
    source = tmp_path / "config"
    source.write_text(
        "Host fd\n    ProxyCommand nc %h %p\n    ProxyUseFdpass yes\n\n"
        "Host usercert\n    CertificateFile ~/.ssh/id_ed25519-cert.pub\n\n"
        "Host fine\n    HostName 192.0.2.8\n"
    )
    code, out, err = run_cli(["device", "import", "--from", str(source)], monkeypatch, capsys)
    assert code == 0
    assert [d.name for d in store().load().devices] == ["fine"]
    lines = err.splitlines()
    assert any(line.startswith("skipped fd: ProxyUseFdpass") for line in lines), err
    assert any(line.startswith("skipped usercert: CertificateFile") for line in lines), err
    assert "1 imported, 2 skipped" in out


def trust_sshd(server) -> None:
    key = asyncssh.read_public_key(f"{server.host_key}.pub")
    KnownHosts(locations.known_hosts_path()).add(server.host, server.port, key)


def test_an_imported_proxy_command_and_jump_chain_reach_the_real_sshd(sshd, tmp_path: Path, monkeypatch, capsys) -> None:
    trust_sshd(sshd)
    login = f"    HostName {sshd.host}\n    Port {sshd.port}\n    User {sshd.user}\n    IdentityFile {sshd.client_key}\n"
    proxy = (
        f"ssh -F /dev/null -i {sshd.client_key} -o UserKnownHostsFile={sshd.known_hosts} -o StrictHostKeyChecking=yes "
        f"-o BatchMode=yes -p %p -l %r -W %h:%p %h"
    )
    source = tmp_path / "config"
    source.write_text(
        f"Host hop1\n{login}\nHost hop2\n{login}\n"
        f"Host chained\n{login}    ProxyJump hop1,hop2\n\n"
        f"Host proxied\n{login}    ProxyCommand {proxy}\n"
    )
    code, out, err = run_cli(["device", "import", "--from", str(source), "chained", "proxied"], monkeypatch, capsys)
    assert code == 0, err
    assert sorted(d.name for d in store().load().devices) == ["chained", "hop1", "hop2", "proxied"]
    for name in ("chained", "proxied"):
        code, out, err = run_cli(["exec", name, "--", "echo", name], monkeypatch, capsys)
        assert (code, out) == (0, f"{name}\n"), err


def test_keys_openssh_trusts_are_listed_with_their_file_and_trusted_only_when_asked(sshd, tmp_path: Path, monkeypatch, capsys) -> None:
    theirs = tmp_path / "their_known_hosts"
    theirs.write_text(sshd.known_hosts.read_text())
    subprocess.run(["ssh-keygen", "-q", "-H", "-f", str(theirs)], check=True, capture_output=True)  # hashed, as Debian does
    assert "|1|" in theirs.read_text()
    source = tmp_path / "config"
    source.write_text(
        f"Host dev\n    HostName {sshd.host}\n    Port {sshd.port}\n    User {sshd.user}\n"
        f"    IdentityFile {sshd.client_key}\n    UserKnownHostsFile {theirs}\n"
    )
    code, out, err = run_cli(["device", "import", "--from", str(source)], monkeypatch, capsys)
    assert code == 0, err
    assert f"{sshd.fingerprint()} from {theirs}" in out and "--trust-known-hosts" in out
    assert not locations.known_hosts_path().exists()
    assert run_cli(["exec", "dev", "--", "true"], monkeypatch, capsys)[0] == 1  # still unknown to us

    run_cli(["device", "remove", "dev"], monkeypatch, capsys)
    code, out, err = run_cli(["device", "import", "--from", str(source), "--trust-known-hosts"], monkeypatch, capsys)
    assert code == 0 and "trusted 1 line(s)" in out, out + err
    code, out, err = run_cli(["exec", "dev", "--", "echo", "ok"], monkeypatch, capsys)
    assert (code, out) == (0, "ok\n"), err


def test_without_an_ssh_client_the_asyncssh_parser_still_imports(tmp_path: Path, monkeypatch, capsys) -> None:
    source = tmp_path / "config"
    source.write_text("Host plain\n    HostName 192.0.2.7\n    User me\n")
    monkeypatch.setenv("PATH", str(tmp_path / "no-programs-here"))
    code, out, err = run_cli(["device", "import", "--from", str(source)], monkeypatch, capsys)
    assert code == 0, err
    plain = store().load().device("plain")
    assert (plain.host, plain.user) == ("192.0.2.7", "me")
