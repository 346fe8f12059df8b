"""OpenSSH interop through ``spark_tui.cli.main``: config import/export and ``exec``, on real sshd."""

from __future__ import annotations

import io
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from spark_tui import cli
from spark_tui.config import locations
from spark_tui.core.models import DeviceProfile
from spark_tui.services.ssh.known_hosts import KnownHosts
from tests.sshd_server import free_port

import asyncssh


def run_cli(argv: list[str], monkeypatch, capsys, stdin: str = "") -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    code = cli.main(argv)
    out = capsys.readouterr()
    return code, out.out, out.err


def store():
    return cli.CliContext(config_path=locations.config_path()).store()


def trust_server(server) -> None:
    """Put the sshd's host key in our known_hosts, as a reviewed first connection would."""
    key = asyncssh.read_public_key(f"{server.host_key}.pub")
    KnownHosts(locations.known_hosts_path()).add(server.host, server.port, key)


def save(server, name: str, **changes) -> DeviceProfile:
    values = {"host": server.host, "user": server.user, "port": server.port, "identity_file": str(server.client_key)}
    values.update(changes)
    profile = DeviceProfile(name, **values)
    store().add_device(profile)
    return profile


SSH_CONFIG = """\
# my own hosts
Host spark1 spark1-alias
    HostName spark-1a2b.local
    User nv
    Port 2222
    IdentityFile ~/.ssh/id_spark
    ProxyJump me@bastion:2200

Host *.lab lab-?? !nope
    User labuser

Host plain
    HostName 192.0.2.7

Host *
    User fallback
"""


def test_import_saves_concrete_host_blocks_and_skips_wildcard_patterns(tmp_path: Path, monkeypatch, capsys) -> None:
    source = tmp_path / "config"
    source.write_text(SSH_CONFIG)
    code, out, err = run_cli(["device", "import", "--from", str(source)], monkeypatch, capsys)
    assert code == 0, err
    config = store().load()
    assert sorted(d.name for d in config.devices) == ["plain", "spark1", "spark1-alias"]
    spark1 = config.device("spark1")
    assert (spark1.host, spark1.user, spark1.port, spark1.jump_host) == ("spark-1a2b.local", "nv", 2222, "me@bastion:2200")
    assert spark1.identity_file == "~/.ssh/id_spark"
    plain = config.device("plain")
    assert (plain.host, plain.user, plain.port, plain.identity_file) == ("192.0.2.7", "fallback", 22, None)
    assert "3 imported" in out


def test_import_of_named_hosts_takes_only_those_and_reports_a_missing_one(tmp_path: Path, monkeypatch, capsys) -> None:
    source = tmp_path / "config"
    source.write_text(SSH_CONFIG)
    code, _, err = run_cli(["device", "import", "--from", str(source), "plain", "ghost"], monkeypatch, capsys)
    assert code == 1 and "ghost" in err
    assert [d.name for d in store().load().devices] == ["plain"]


def test_importing_twice_skips_what_is_already_saved(tmp_path: Path, monkeypatch, capsys) -> None:
    source = tmp_path / "config"
    source.write_text(SSH_CONFIG)
    run_cli(["device", "import", "--from", str(source)], monkeypatch, capsys)
    code, out, _ = run_cli(["device", "import", "--from", str(source)], monkeypatch, capsys)
    assert code == 0 and "0 imported, 3 skipped" in out
    assert len(store().load().devices) == 3


def test_import_reads_ssh_config_and_nvidia_sync_config_by_default(tmp_path: Path, monkeypatch, capsys) -> None:
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "config").write_text("Host mine\n    HostName 192.0.2.10\n")
    sync = home / ".config" / "NVIDIA" / "Sync" / "config"
    sync.mkdir(parents=True)
    (sync / "ssh_config").write_text("Host spark-1a2b\n    HostName spark-1a2b.local\n    User nv\n    IdentityFile ~/.config/NVIDIA/Sync/config/nvsync.key\n")
    monkeypatch.setenv("HOME", str(home))
    code, _, err = run_cli(["device", "import"], monkeypatch, capsys)
    assert code == 0, err
    config = store().load()
    assert config.device("mine").tags == ()
    assert config.device("spark-1a2b").tags == ("nvidia-sync",)
    assert config.device("spark-1a2b").identity_file.endswith("nvsync.key")


def test_a_config_file_asyncssh_cannot_parse_is_a_clear_error(tmp_path: Path, monkeypatch, capsys) -> None:
    source = tmp_path / "config"
    source.write_text("Host broken\n    Port notanumber\n")
    code, _, err = run_cli(["device", "import", "--from", str(source)], monkeypatch, capsys)
    assert code == 1 and str(source) in err
    assert store().load().devices == ()


def test_the_exported_config_lets_plain_openssh_log_in_directly_and_through_a_jump(sshd, tmp_path: Path, monkeypatch, capsys) -> None:
    trust_server(sshd)
    save(sshd, "dev")
    save(sshd, "inner", jump_host="dev")
    out_file = tmp_path / "exported" / "spark-tui.conf"
    code, out, err = run_cli(["ssh-config", "-o", str(out_file)], monkeypatch, capsys)
    assert code == 0, err
    assert stat.S_IMODE(out_file.stat().st_mode) == 0o600 and f"Include {out_file}" in out
    text = out_file.read_text()
    assert "StrictHostKeyChecking yes" in text and f"UserKnownHostsFile {locations.known_hosts_path()}" in text
    for name in ("dev", "inner"):
        done = subprocess.run(["ssh", "-F", str(out_file), "-o", "BatchMode=yes", name, "echo", "ok"], capture_output=True, text=True, timeout=30)
        assert done.returncode == 0 and done.stdout == "ok\n", done.stderr


def test_openssh_with_the_exported_config_refuses_a_host_we_never_trusted(sshd, tmp_path: Path, monkeypatch, capsys) -> None:
    save(sshd, "dev")
    out_file = tmp_path / "spark-tui.conf"
    run_cli(["ssh-config", "-o", str(out_file)], monkeypatch, capsys)
    done = subprocess.run(["ssh", "-F", str(out_file), "-o", "BatchMode=yes", "dev", "true"], capture_output=True, text=True, timeout=30)
    assert done.returncode == 255 and "verification failed" in done.stderr


def test_ssh_config_without_a_file_prints_one_block_per_device(sshd, monkeypatch, capsys) -> None:
    save(sshd, "dev")
    save(sshd, "other", host="spark-1a2b.local", port=22, identity_file=None)
    code, out, _ = run_cli(["ssh-config"], monkeypatch, capsys)
    assert code == 0
    assert out.count("\nHost ") == 2 and "Host other\n    HostName spark-1a2b.local\n" in out


def test_exec_streams_output_and_returns_the_remote_exit_status(sshd, monkeypatch, capsys) -> None:
    trust_server(sshd)
    save(sshd, "dev")
    code, out, err = run_cli(["exec", "dev", "--", "echo out; echo err >&2; exit 3"], monkeypatch, capsys)
    assert (code, out, err) == (3, "out\n", "err\n")


def test_exec_joins_words_like_ssh_does(sshd, monkeypatch, capsys) -> None:
    trust_server(sshd)
    save(sshd, "dev")
    code, out, _ = run_cli(["exec", "dev", "--", "echo", "--all", "$((6*7))"], monkeypatch, capsys)
    assert (code, out) == (0, "--all 42\n")


def test_exec_on_a_tag_prefixes_each_line_and_returns_the_worst_status(sshd, monkeypatch, capsys) -> None:
    trust_server(sshd)
    save(sshd, "a", tags=("lab",))
    save(sshd, "b", tags=("lab",))
    save(sshd, "dead", port=free_port(), tags=("lab",))
    save(sshd, "elsewhere", tags=("home",))
    code, out, err = run_cli(["exec", "--tag", "lab", "--", "echo one; printf two"], monkeypatch, capsys)
    assert code == 255
    assert sorted(out.splitlines()) == ["a: one", "a: two", "b: one", "b: two"]
    assert "dead: error:" in err and "refused" in err and "elsewhere" not in out + err


def test_exec_on_all_devices_runs_them_at_the_same_time(sshd, monkeypatch, capsys) -> None:
    trust_server(sshd)
    save(sshd, "a")
    save(sshd, "b")
    meeting = Path(tempfile.mkdtemp(prefix="spark-tui-exec-"))
    meeting.chmod(0o777)
    try:
        # each side marks its arrival, then waits (bounded) for the other: run one after the
        # other, the first would give up and exit 1.
        script = (
            f'd={meeting}; touch "$d/$(hostname)-$$"; '
            f'for i in $(seq 100); do [ "$(ls "$d" | wc -l)" -ge 2 ] && exit 0; sleep 0.05; done; exit 1'
        )
        code, out, err = run_cli(["exec", "--all", "--", script], monkeypatch, capsys)
        assert code == 0, err
        assert len(list(meeting.iterdir())) == 2
    finally:
        shutil.rmtree(meeting, ignore_errors=True)


def test_exec_refuses_an_unknown_host_key_and_says_how_to_trust_it(sshd, monkeypatch, capsys) -> None:
    save(sshd, "dev")
    code, out, err = run_cli(["exec", "dev", "--", "true"], monkeypatch, capsys)
    assert code == 1 and out == ""
    assert "not known yet" in err and "device trust dev --fingerprint SHA256:" in err
    assert not locations.known_hosts_path().exists()


def test_exec_on_an_unknown_device_or_without_a_command_is_an_error(sshd, monkeypatch, capsys) -> None:
    save(sshd, "dev")
    code, _, err = run_cli(["exec", "ghost", "--", "true"], monkeypatch, capsys)
    assert code == 1 and "ghost" in err
    code, _, err = run_cli(["exec", "dev"], monkeypatch, capsys)
    assert code == 1 and "no command" in err
