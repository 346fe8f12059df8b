"""What ``ssh-config`` and ``export ansible`` write, judged by ``ssh -G``, a real ``ssh`` login,
the real ``ansible-inventory`` and ``ansible -m ping`` over the real sshd fixture."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import asyncssh
import pytest

from spark_tui import cli
from spark_tui.config import locations
from spark_tui.core.models import DeviceProfile
from spark_tui.services.ssh.known_hosts import KnownHosts


def tool(name: str) -> str:
    """An ansible program: beside the ``ansible`` package's interpreter (a shared venv), beside
    ours (a normal venv), or on PATH."""
    import ansible

    folders = [Path(ansible.__file__).resolve().parents[4] / "bin", Path(sys.executable).parent, Path(sys.prefix) / "bin"]
    for folder in folders:
        if (folder / name).exists():
            return str(folder / name)
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} not found: pip install 'ansible-core>=2.17' (the test extra)", pytrace=False)
    return found


def run_cli(argv, monkeypatch, capsys) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    code = cli.main(argv)
    out = capsys.readouterr()
    return code, out.out, out.err


def store():
    return cli.CliContext(config_path=locations.config_path()).store()


def trust_server(server) -> None:
    key = asyncssh.read_public_key(f"{server.host_key}.pub")
    KnownHosts(locations.known_hosts_path()).add(server.host, server.port, key)


def awkward_key(server, folder: Path) -> str:
    """The test user's key copied to a path with a space, a double quote, a % and a backslash."""
    target = folder / 'my keys' / 'id "100%" \\k'
    target.parent.mkdir(parents=True)
    shutil.copyfile(server.client_key, target)
    target.chmod(0o600)
    return str(target)


def ssh_g(config: Path, alias: str) -> dict[str, list[str]]:
    done = subprocess.run(["ssh", "-G", "-F", str(config), alias], capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=30)
    assert done.returncode == 0, done.stderr
    values: dict[str, list[str]] = {}
    for line in done.stdout.splitlines():
        key, _, value = line.partition(" ")
        values.setdefault(key, []).append(value)
    return values


@pytest.fixture
def data_with_space(tmp_path: Path, monkeypatch) -> Path:
    """The data folder (our known_hosts) under a name with a space, like macOS's Application Support."""
    folder = tmp_path / "Application Support"
    monkeypatch.setenv("XDG_DATA_HOME", str(folder))
    return folder


# --- ssh-config -----------------------------------------------------------------------------


def test_ssh_g_reads_back_a_percent_in_a_host_name_and_odd_key_paths_exactly(sshd, tmp_path: Path, data_with_space, monkeypatch, capsys) -> None:
    key = awkward_key(sshd, tmp_path)
    store().add_device(DeviceProfile("scoped", "fe80::2%enp1s0", identity_file=key, extra_identity_files=("~/.ssh/100%_key",)))
    out_file = tmp_path / "exported.conf"
    code, out, err = run_cli(["ssh-config", "-o", str(out_file)], monkeypatch, capsys)
    assert code == 0, err
    seen = ssh_g(out_file, "scoped")
    assert seen["hostname"] == ["fe80::2%enp1s0"]
    assert seen["userknownhostsfile"] == [str(locations.known_hosts_path())]
    # ssh -G prints IdentityFile before expanding tokens: %% there is what OpenSSH turns into %
    assert seen["identityfile"] == [key.replace("%", "%%"), "~/.ssh/100%%_key"]


def test_openssh_logs_in_with_a_key_whose_path_has_a_quote_space_and_percent(sshd, tmp_path: Path, data_with_space, monkeypatch, capsys) -> None:
    trust_server(sshd)
    code, _, err = run_cli(["device", "add", "dev", "--host", sshd.host, "--port", str(sshd.port), "--user", sshd.user,
                            "--identity", awkward_key(sshd, tmp_path)], monkeypatch, capsys)
    assert code == 0, err
    out_file = tmp_path / "exported.conf"
    run_cli(["ssh-config", "-o", str(out_file)], monkeypatch, capsys)
    done = subprocess.run(["ssh", "-F", str(out_file), "-o", "BatchMode=yes", "dev", "echo", "ok"],
                          capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
    assert (done.returncode, done.stdout) == (0, "ok\n"), done.stderr


def test_openssh_goes_through_a_user_at_host_port_hop_checked_against_our_known_hosts(sshd, tmp_path: Path, monkeypatch, capsys) -> None:
    trust_server(sshd)
    store().add_device(DeviceProfile("inner", sshd.host, user=sshd.user, port=sshd.port, identity_file=str(sshd.client_key),
                                     jump_host=f"{sshd.user}@{sshd.host}:{sshd.port}"))
    out_file = tmp_path / "exported.conf"
    run_cli(["ssh-config", "-o", str(out_file)], monkeypatch, capsys)
    done = subprocess.run(["ssh", "-F", str(out_file), "-o", "BatchMode=yes", "inner", "echo", "ok"],
                          capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
    assert (done.returncode, done.stdout) == (0, "ok\n"), done.stderr


def test_the_export_hint_says_to_put_the_include_line_at_the_top(tmp_path: Path, monkeypatch, capsys) -> None:
    store().add_device(DeviceProfile("a", "192.0.2.7"))
    target = tmp_path / "out dir" / "spark.conf"
    code, out, _ = run_cli(["ssh-config", "-o", str(target)], monkeypatch, capsys)
    assert code == 0 and "TOP of ~/.ssh/config" in out
    include = out.rsplit("Include ", 1)[1].strip()
    # the Include line printed is one OpenSSH reads back as this very file
    config = tmp_path / "user_config"
    config.write_text(f"Include {include}\n")
    assert ssh_g(config, "a")["hostname"] == ["192.0.2.7"]


# --- export ansible -------------------------------------------------------------------------


def ansible_env(tmp_path: Path) -> dict[str, str]:
    home = tmp_path / "ansible-home"
    home.mkdir(exist_ok=True)
    env = dict(os.environ)
    env.update(
        ANSIBLE_HOME=str(home), ANSIBLE_LOCAL_TEMP=str(home / "tmp"), ANSIBLE_CONFIG=str(home / "none.cfg"),
        ANSIBLE_SSH_ARGS="-o ControlMaster=no", ANSIBLE_PYTHON_INTERPRETER="auto_silent", ANSIBLE_NOCOLOR="1",
        ANSIBLE_TIMEOUT="30", ANSIBLE_FORKS="4",
    )
    return env


def ansible_ping(inventory: Path, tmp_path: Path, pattern: str = "all") -> dict[str, str]:
    """Each host's one-word result of ``ansible PATTERN -m ping`` (SUCCESS, UNREACHABLE...)."""
    done = subprocess.run([tool("ansible"), "-i", str(inventory), pattern, "-m", "ping", "-o"],
                          capture_output=True, text=True, timeout=240, env=ansible_env(tmp_path), stdin=subprocess.DEVNULL)
    results = {}
    for line in done.stdout.splitlines():
        if " | " in line:
            host, status = line.split(" | ")[:2]
            results[host.strip()] = status.split()[0]
    assert results, done.stdout + done.stderr
    return results


def export(tmp_path: Path, monkeypatch, capsys) -> Path:
    target = tmp_path / "inventory.yml"
    code, _, err = run_cli(["export", "ansible", "-o", str(target)], monkeypatch, capsys)
    assert code == 0, err
    return target


def test_ansible_pings_directly_through_a_saved_jump_device_and_through_a_user_at_host_port_hop(
    sshd, tmp_path: Path, data_with_space, monkeypatch, capsys
) -> None:
    trust_server(sshd)
    key = awkward_key(sshd, tmp_path)
    base = {"host": sshd.host, "user": sshd.user, "port": sshd.port}
    store().add_device(DeviceProfile("direct", identity_file=key, **base))
    store().add_device(DeviceProfile("via-device", identity_file=str(sshd.client_key), jump_host="direct", **base))
    store().add_device(DeviceProfile("via-address", identity_file=str(sshd.client_key),
                                     jump_host=f"{sshd.user}@{sshd.host}:{sshd.port}", **base))
    store().add_device(DeviceProfile("via-chain", identity_file=str(sshd.client_key),
                                     jump_host=f"direct,{sshd.user}@{sshd.host}:{sshd.port}", **base))
    assert " " in str(locations.known_hosts_path())
    results = ansible_ping(export(tmp_path, monkeypatch, capsys), tmp_path)
    assert results == {name: "SUCCESS" for name in ("direct", "via-device", "via-address", "via-chain")}


def test_every_tag_is_a_group_ansible_accepts_and_reaches(sshd, tmp_path: Path, monkeypatch, capsys) -> None:
    trust_server(sshd)
    tags = ("all", "nvidia-sync", "2nd-floor", "lab.gpu", "ungrouped")
    store().add_device(DeviceProfile("dev", sshd.host, user=sshd.user, port=sshd.port, identity_file=str(sshd.client_key), tags=tags))
    store().add_device(DeviceProfile("other", "192.0.2.7", tags=("lab",)))
    inventory = export(tmp_path, monkeypatch, capsys)
    done = subprocess.run([tool("ansible-inventory"), "-i", str(inventory), "--list"], capture_output=True, text=True,
                          timeout=120, env=ansible_env(tmp_path), stdin=subprocess.DEVNULL)
    assert done.returncode == 0 and "WARNING" not in done.stderr and "ERROR" not in done.stderr, done.stderr
    listed = json.loads(done.stdout)
    groups = [g for g in listed["all"]["children"] if g != "ungrouped"]
    assert sorted(listed["_meta"]["hostvars"]) == ["dev", "other"]
    # one group per tag, each holding dev, and none of them Ansible's own "all"
    dev_groups = [g for g in groups if "dev" in listed.get(g, {}).get("hosts", [])]
    assert len(dev_groups) == len(tags), listed
    for group in dev_groups:
        assert ansible_ping(inventory, tmp_path, group) == {"dev": "SUCCESS"}
        break  # one ping proves the group reaches the host; the listing proved the rest


async def test_the_tunnels_openssh_master_starts_with_a_spaced_data_folder_and_an_odd_key_path(sshd, tmp_path: Path) -> None:
    from spark_tui.services.ssh import OpenSSHMaster, host_pattern

    known = tmp_path / "Application Support" / "100% known_hosts"
    known.parent.mkdir()
    known.write_text(sshd.known_hosts.read_text())
    master = OpenSSHMaster(sshd.host, sshd.port, sshd.user, host_key_alias=host_pattern(sshd.host, sshd.port),
                           known_hosts=known, identity_file=awkward_key(sshd, tmp_path))
    try:
        await master.start()
        assert master.alive
    finally:
        await master.close()
