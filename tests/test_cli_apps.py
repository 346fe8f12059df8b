"""``spark-tui app ...`` and ``spark-tui open``: the profile side, and start/stop on a real device.

``app start`` runs in a real terminal (tmux, on a private socket) exactly as a user runs it:
the local URL it prints is fetched with curl, then Ctrl-C stops the app on the device.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from pathlib import Path

import pytest

from spark_tui.config.store import ProfileStore
from spark_tui.core.app_presets import OPEN_WEBUI
from spark_tui.core.apps import AppSpec
from spark_tui.core.models import DeviceProfile
from tests.sshd_server import free_port
from tests.test_apps import forget_app_records, group_members, unique, web_script  # noqa: F401  (autouse)
from tests.test_e2e_tmux import SPARK_TUI, Terminal
from tests.test_interop import run_cli, save, store, trust_server


def test_apps_are_added_listed_as_json_and_removed_keeping_the_files_comments(tmp_path, monkeypatch, capsys):
    store().add_device(DeviceProfile("spark", host="spark-1a2b.local"))
    path = store().path
    path.write_text("# my lab\n" + path.read_text() + "# the end\n")
    script = tmp_path / "start.sh"
    script.write_text("echo hi\n")
    assert run_cli(["app", "add", "spark", "web", "--port", "8080", "--script", str(script), "--path", "/ui", "--open"], monkeypatch, capsys)[0] == 0
    assert run_cli(["app", "add", "spark", "chat", "--preset", "open-webui"], monkeypatch, capsys)[0] == 0
    code, out, err = run_cli(["app", "list", "spark", "--json"], monkeypatch, capsys)
    assert code == 0, err
    apps = {a["name"]: a for a in json.loads(out)}
    assert apps["web"] == {"name": "web", "port": 8080, "local_port": None, "browser_path": "/ui", "auto_open": True,
                           "start_script": None, "script_file": str(script.resolve())}
    assert apps["chat"]["port"] == 12000 and "trap cleanup INT TERM HUP QUIT EXIT" in apps["chat"]["start_script"]
    assert apps["chat"]["start_script"] == OPEN_WEBUI.start_script
    text = path.read_text()
    assert text.startswith("# my lab\n") and "# the end" in text and "[[devices.spark.apps]]" in text
    assert run_cli(["app", "remove", "spark", "web"], monkeypatch, capsys)[0] == 0
    code, out, _ = run_cli(["app", "list", "spark"], monkeypatch, capsys)
    assert "chat" in out and "web " not in out and "inline" in out
    assert path.read_text().startswith("# my lab\n")


def test_app_add_without_port_or_preset_is_a_usage_error_and_saves_nothing(monkeypatch, capsys):
    store().add_device(DeviceProfile("spark", host="spark-1a2b.local"))
    before = store().path.read_text()
    code, out, err = run_cli(["app", "add", "spark", "web"], monkeypatch, capsys)
    assert code == 2 and "--port" in err and err.count("\n") == 1
    assert store().path.read_text() == before


def test_unknown_device_or_app_is_one_clear_line(monkeypatch, capsys):
    store().add_device(DeviceProfile("spark", host="spark-1a2b.local"))
    code, _, err = run_cli(["app", "start", "spark/nope"], monkeypatch, capsys)
    assert code == 1 and "spark has no app named 'nope'" in err and err.count("\n") == 1
    code, _, err = run_cli(["app", "stop", "spark-nope"], monkeypatch, capsys)
    assert code == 1 and "is not NAME/APP" in err


def test_app_start_with_a_failing_script_prints_its_last_lines_and_fails(sshd, monkeypatch, capsys):
    trust_server(sshd)
    save(sshd, "dev")
    store().save_app("dev", AppSpec(unique("bad"), free_port(),
                                    start_script="echo step one\necho 'fatal: no GPU found' >&2\nexit 2\n"))
    app = store().load().device("dev").apps[0].name
    code, out, err = run_cli(["app", "start", f"dev/{app}", "--timeout", "20"], monkeypatch, capsys)
    assert code == 1
    assert "  | step one\n  | fatal: no GPU found\n" in err
    assert err.splitlines()[-1].startswith("spark-tui: error: the start script of") and "exited with status 2" in err


def _pgid_on_device(sshd, app: str) -> int:
    return int((sshd.home / ".cache" / "spark-tui" / "apps" / f"{app}.pid").read_text())


@pytest.fixture
def lab(tmp_path, sshd):
    """A profile file with the sshd as device ``lab`` and one web app; env for a terminal."""
    config = tmp_path / "profiles.toml"
    profiles = ProfileStore(config)
    profiles.add_device(DeviceProfile(name="lab", host=sshd.host, port=sshd.port, user=sshd.user, identity_file=str(sshd.client_key)))
    port = free_port()
    name = unique("web")
    profiles.save_app("lab", AppSpec(name, port, start_script=web_script(port, "hello-through-tmux"), browser_path="/index.html"))
    home = tmp_path / "term"
    env = dict(os.environ, TERM="xterm-256color", XDG_CONFIG_HOME=str(home / "config"),
               XDG_DATA_HOME=str(home / "data"), XDG_STATE_HOME=str(home / "state"), XDG_CACHE_HOME=str(home / "cache"))
    known = home / "data" / "spark-tui" / "known_hosts"
    known.parent.mkdir(parents=True)
    known.write_bytes(sshd.known_hosts.read_bytes())
    return config, name, port, env


def _url(screen: str) -> str:
    return re.search(r"is up: (http://127\.0\.0\.1:\d+/index\.html)", screen).group(1)


def test_app_start_in_a_real_terminal_serves_its_url_to_curl_and_ctrl_c_stops_it(lab, sshd):
    config, name, port, env = lab
    term = Terminal(f"{SPARK_TUI} --config {config} app start lab/{name} --timeout 30; echo EXIT=$?; sleep 30", env, cols=160)
    try:
        screen = term.wait_for("is up: ")
        url = _url(screen)
        assert int(url.split(":")[2].split("/")[0]) != port  # the device's port is taken here (same machine): moved
        curl = subprocess.run(["curl", "-sS", "--max-time", "10", url], capture_output=True, text=True)
        assert curl.stdout == "hello-through-tmux\n", curl.stderr
        pgid = _pgid_on_device(sshd, name)
        assert group_members(pgid)
        term.keys("C-c")
        screen = term.wait_for("EXIT=", timeout=30)
        assert "EXIT=0" in screen and f"{name}: stopped" in screen
        assert not group_members(pgid)
        assert subprocess.run(["curl", "-sS", "--max-time", "5", url], capture_output=True).returncode != 0
    finally:
        term.close()


def test_app_stop_from_another_process_stops_an_app_started_in_a_terminal(lab, sshd, monkeypatch, capsys):
    config, name, port, env = lab
    term = Terminal(f"{SPARK_TUI} --config {config} app start lab/{name} --timeout 30; echo EXIT=$?; sleep 30", env, cols=160)
    try:
        term.wait_for("is up: ")
        pgid = _pgid_on_device(sshd, name)
        stop = subprocess.run([SPARK_TUI, "--config", str(config), "app", "stop", f"lab/{name}", "--grace", "3"],
                              capture_output=True, text=True, env=env, timeout=60)
        assert stop.returncode == 0 and stop.stdout.strip() == f"lab/{name}: stopped", stop.stderr
        assert not group_members(pgid)
        screen = term.wait_for("EXIT=", timeout=30)
        assert "exited with status 143" in screen and "EXIT=1" in screen  # killed by SIGTERM: 128 + 15
    finally:
        term.close()


def fake_editor(tmp_path: Path, name: str) -> Path:
    """An executable named like the editor that records its argv: the real one can't run here."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    record = tmp_path / f"{name}.argv"
    program = bin_dir / name
    program.write_text(f"#!/bin/sh\nfor a in \"$@\"; do printf '%s\\n' \"$a\"; done > {record}\n")
    program.chmod(0o755)
    return record


def _wait_for(path: Path) -> str:
    for _ in range(100):
        if path.exists() and path.read_text():
            return path.read_text()
        time.sleep(0.05)
    raise AssertionError(f"{path} was never written")


def test_open_starts_vs_code_remote_ssh_on_an_alias_that_resolves_through_the_exported_config(sshd, tmp_path, monkeypatch, capsys):
    record = fake_editor(tmp_path, "code")
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:{os.environ['PATH']}")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    trust_server(sshd)
    save(sshd, "lab")
    code, out, err = run_cli(["open", "lab", "/srv/project"], monkeypatch, capsys)
    assert code == 0, err
    assert _wait_for(record).splitlines() == ["--remote", "ssh-remote+lab", "/srv/project"]
    exported = re.search(r"Include (\S+)", out).group(1)
    resolved = subprocess.run(["ssh", "-G", "-F", exported, "lab"], capture_output=True, text=True, check=True).stdout
    settings = dict(line.split(" ", 1) for line in resolved.splitlines())
    assert (settings["hostname"], settings["port"], settings["user"]) == (sshd.host, str(sshd.port), sshd.user)
    # The Include advice is given once.
    code, out, _ = run_cli(["open", "lab"], monkeypatch, capsys)
    assert code == 0 and "Include" not in out


def test_open_says_nothing_about_include_when_ssh_config_already_includes_it(sshd, tmp_path, monkeypatch, capsys):
    record = fake_editor(tmp_path, "cursor")
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:{os.environ['PATH']}")
    home = tmp_path / "home"
    monkeypatch.setenv("HOME", str(home))
    from spark_tui.services.apps import exported_config_path

    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "config").write_text(f"Include {exported_config_path()}\n\nHost mine\n    User me\n")
    save(sshd, "lab")
    code, out, err = run_cli(["open", "lab", "--editor", "cursor"], monkeypatch, capsys)
    assert code == 0 and "Include" not in out
    assert _wait_for(record).splitlines() == ["--remote", "ssh-remote+lab"]


def test_open_with_an_editor_not_on_path_says_how_to_install_its_command(sshd, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    save(sshd, "lab")
    code, _, err = run_cli(["open", "lab"], monkeypatch, capsys)
    assert code == 1 and "not on PATH" in err and "Shell Command" in err


def test_ctrl_c_while_an_app_waits_for_its_port_stops_it_on_the_device(tmp_path, sshd):
    config = tmp_path / "profiles.toml"
    profiles = ProfileStore(config)
    profiles.add_device(DeviceProfile(name="lab", host=sshd.host, port=sshd.port, user=sshd.user, identity_file=str(sshd.client_key)))
    name = unique("slow")
    profiles.save_app("lab", AppSpec(name, free_port(), start_script="echo warming up\nsleep 60\n"))
    home = tmp_path / "term"
    env = dict(os.environ, TERM="xterm-256color", XDG_DATA_HOME=str(home / "data"), XDG_STATE_HOME=str(home / "state"))
    known = home / "data" / "spark-tui" / "known_hosts"
    known.parent.mkdir(parents=True)
    known.write_bytes(sshd.known_hosts.read_bytes())
    term = Terminal(f"{SPARK_TUI} --config {config} app start lab/{name} --timeout 60 --grace 2; echo EXIT=$?; sleep 30", env, cols=160)
    try:
        term.wait_for("[" + name + "] warming up")
        pgid = _pgid_on_device(sshd, name)
        term.keys("C-c")
        screen = term.wait_for("EXIT=", timeout=30)
        assert "start interrupted; stopped" in screen and "EXIT=130" in screen
        assert not group_members(pgid)
    finally:
        term.close()
