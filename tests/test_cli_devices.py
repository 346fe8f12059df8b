"""``spark-tui device list | add | remove`` through the real argument parser, and once as a process."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from spark_tui.cli import main
from spark_tui.config.store import ProfileStore
from spark_tui.core.models import Config, DeviceProfile, TunnelSpec

REPO = Path(__file__).resolve().parents[1]


class Run:
    """The result of one ``spark_tui.cli.main`` call with captured streams."""

    def __init__(self, argv: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
        self.stdout, self.stderr = io.StringIO(), io.StringIO()
        monkeypatch.setattr(sys, "stdout", self.stdout)
        monkeypatch.setattr(sys, "stderr", self.stderr)
        try:
            self.code = main(argv)
        except SystemExit as exit_:  # argparse usage errors
            self.code = exit_.code
        finally:
            monkeypatch.undo()
        self.out, self.err = self.stdout.getvalue(), self.stderr.getvalue()


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return tmp_path / "profiles.toml"


@pytest.fixture
def run(config: Path, monkeypatch: pytest.MonkeyPatch):
    def go(*argv: str) -> Run:
        return Run(["--config", str(config), *argv], monkeypatch)

    return go


def test_add_saves_a_device_and_list_shows_it_in_a_table(run, config: Path, tmp_path: Path) -> None:
    key = tmp_path / "id_ed25519"
    key.write_text("not really a key")

    added = run("device", "add", "spark-1a2b", "--host", "spark-1a2b.local", "--user", "me", "--port", "2222",
                "--identity", str(key), "--jump", "me@bastion", "--tag", "lab", "--tag", "gpu")
    listed = run("device", "list")

    assert added.code == 0 and added.out.startswith("saved spark-1a2b (me@spark-1a2b.local:2222)")
    saved = ProfileStore(config).load().device("spark-1a2b")
    assert saved == DeviceProfile("spark-1a2b", "spark-1a2b.local", "me", 2222, str(key), "me@bastion", ("lab", "gpu"))
    header, row = listed.out.splitlines()
    assert header.split() == ["NAME", "HOST", "USER", "PORT", "TAGS", "TUNNELS"]
    assert row.split() == ["spark-1a2b", "spark-1a2b.local", "me", "2222", "lab,gpu", "-"]


def test_list_json_follows_the_documented_format(run, config: Path) -> None:
    ProfileStore.create_seeded(config, Config(devices=(
        DeviceProfile("a", "a.local", tunnels=(TunnelSpec("dashboard", 11000, auto_start=True, browser_path="/"),)),
        DeviceProfile("b", "b.local", user="me", identity_file="~/.ssh/id"),
    )))

    listed = run("device", "list", "--json")

    assert listed.code == 0
    assert json.loads(listed.out) == [
        {"name": "a", "host": "a.local", "user": None, "port": 22, "identity_file": None, "identity_files": [],
         "jump_host": None, "proxy_command": None, "tags": [],
         "tunnels": [{"name": "dashboard", "remote_port": 11000, "local_port": 11000, "remote_host": "localhost",
                      "bind_address": "127.0.0.1", "kind": "local", "auto_start": True, "browser_path": "/"}]},
        {"name": "b", "host": "b.local", "user": "me", "port": 22, "identity_file": "~/.ssh/id",
         "identity_files": ["~/.ssh/id"], "jump_host": None, "proxy_command": None, "tags": [], "tunnels": []},
    ]


def test_list_of_no_devices_says_how_to_add_one_and_json_is_an_empty_array(run) -> None:
    assert "spark-tui device add" in run("device", "list").out
    assert json.loads(run("device", "list", "--json").out) == []


def test_adding_an_existing_name_fails_with_one_line_and_keeps_the_file(run, config: Path) -> None:
    run("device", "add", "a", "--host", "a.local")
    before = config.read_bytes()

    again = run("device", "add", "a", "--host", "other.local")

    assert again.code == 1
    assert again.err.startswith("spark-tui: error: a device named 'a' already exists")
    assert len(again.err.splitlines()) == 1
    assert config.read_bytes() == before


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--port", "70000"], "devices.a.port"),
        (["--user=-oProxyCommand=x"], "devices.a.user"),
        (["--tag", "no spaces"], "devices.a.tags[0]"),
        (["--identity", "/no/such/key"], "identity file /no/such/key does not exist"),
    ],
)
def test_bad_values_are_refused_with_a_clear_error_and_nothing_saved(run, config: Path, argv: list[str], expected: str) -> None:
    result = run("device", "add", "a", "--host", "a.local", *argv)

    assert result.code == 1 and expected in result.err and "(" in result.err  # message and hint
    assert not config.exists()


def test_a_bad_device_name_is_refused(run, config: Path) -> None:
    result = run("device", "add", "../etc", "--host", "a.local")

    assert result.code == 1 and "invalid device name" in result.err
    assert not config.exists()


def test_trust_without_setup_key_is_a_usage_error(run, config: Path) -> None:
    result = run("device", "add", "a", "--host", "a.local", "--trust", "SHA256:abc")

    assert result.code == 2 and "--setup-key" in result.err
    assert not config.exists()


def test_missing_host_is_an_argparse_usage_error(run) -> None:
    assert run("device", "add", "a").code == 2


def test_remove_forgets_the_device_and_an_unknown_name_is_an_error(run, config: Path) -> None:
    run("device", "add", "a", "--host", "a.local")
    run("device", "add", "b", "--host", "b.local")

    removed = run("device", "remove", "a")
    missing = run("device", "remove", "a")

    assert removed.code == 0 and "removed a" in removed.out
    assert [d.name for d in ProfileStore(config).load().devices] == ["b"]
    assert missing.code == 1 and "no saved device named 'a'" in missing.err and "saved devices: b" in missing.err


@pytest.mark.parametrize("argv", [["device", "list"], ["device", "add", "x", "--host", "x"], ["device", "remove", "a"]])
def test_a_corrupt_file_fails_every_command_with_its_line_and_is_left_untouched(run, config: Path, argv: list[str]) -> None:
    config.write_text('# mine\n[devices.a]\nhost = "a"\nport = "twenty-two"\n')
    before = config.read_bytes()

    result = run(*argv)

    assert result.code == 1
    assert f"{config}:4 [devices.a.port]" in result.err
    assert config.read_bytes() == before


def test_a_revoke_that_cannot_reach_the_device_keeps_the_device(run, config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A closed port on loopback: the revoke step fails for real, so nothing may be forgotten.
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    key = tmp_path / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    run("device", "add", "a", "--host", "127.0.0.1", "--port", str(closed_port), "--identity", str(key))

    failed = Run(["--config", str(config), "device", "remove", "a", "--revoke"], monkeypatch)

    assert failed.code == 1 and "refused" in failed.err
    assert ProfileStore(config).load().device("a") is not None


def test_device_list_works_as_a_real_process(config: Path) -> None:
    ProfileStore.create_seeded(config, Config(devices=(DeviceProfile("spark-1a2b", "spark-1a2b.local", user="me"),)))
    env = {**os.environ, "PYTHONPATH": str(REPO)}

    done = subprocess.run(
        [sys.executable, "-m", "spark_tui", "--config", str(config), "device", "list", "--json"],
        capture_output=True, text=True, timeout=60, env=env, cwd=REPO,
    )
    broken = config.with_name("broken.toml")
    broken.write_text("[devices.x\n")
    failed = subprocess.run(
        [sys.executable, "-m", "spark_tui", "--config", str(broken), "device", "list"],
        capture_output=True, text=True, timeout=60, env=env, cwd=REPO,
    )

    assert done.returncode == 0, done.stderr
    assert [d["name"] for d in json.loads(done.stdout)] == ["spark-1a2b"]
    assert failed.returncode == 1 and failed.stderr.startswith(f"spark-tui: error: {broken}:1")
