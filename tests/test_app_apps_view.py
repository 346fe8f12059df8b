"""The dashboard's Apps and Containers dialogs and the editor key, driven with Pilot on real parts."""

from __future__ import annotations

import asyncio
import os
import urllib.request

from textual.widgets import DataTable, Log, Static

from spark_tui.config.store import ProfileStore
from spark_tui.core.apps import AppSpec, AppState
from spark_tui.screens.apps import AppsScreen
from spark_tui.screens.containers import ContainersScreen
from spark_tui.services.apps import app_record_status, stop_on_device
from spark_tui.widgets.shell_tabs import ShellTabs
from spark_tui.widgets.tunnel_list import TunnelList
from tests.sshd_server import free_port
from tests.test_app import make_app, sshd_profile, wait_for
from tests.test_apps import forget_app_records, gone, group_members, unique, web_script  # noqa: F401  (autouse)
from tests.test_cli_apps import _wait_for, fake_editor
from tests.test_containers import denied_device, docker, docker_device  # noqa: F401  (module fixtures)
from tests.test_interop import trust_server


def lab_with_app(tmp_path, sshd, auto_open: bool = False):
    trust_server(sshd)
    path = tmp_path / "profiles.toml"
    store = ProfileStore(path)
    store.add_device(sshd_profile(sshd))
    port = free_port()
    app = AppSpec(unique("web"), port, start_script=web_script(port, "hello-dashboard"), local_port=free_port(), auto_open=auto_open)
    store.save_app("lab", app)
    return path, app


def browser_calls(monkeypatch) -> list[str]:
    opened: list[str] = []
    monkeypatch.setattr("webbrowser.open", lambda url, *a, **k: opened.append(url) or True)
    return opened


async def test_an_app_started_from_the_apps_dialog_shows_its_log_and_tunnel_and_stops_on_quit(tmp_path, sshd, monkeypatch):
    path, spec = lab_with_app(tmp_path, sshd, auto_open=True)
    opened = browser_calls(monkeypatch)
    app = make_app(path)
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.press("A")
        await wait_for(pilot, lambda: isinstance(app.screen, AppsScreen), what="the apps dialog")
        await pilot.press("s")
        service = app.app_service("lab")
        await wait_for(pilot, lambda: (s := service.status(spec.name)) is not None and s.state is AppState.RUNNING, what="app running")
        url = service.status(spec.name).local_url
        await wait_for(pilot, lambda: opened == [url], what="the browser at the app's URL")
        body = await asyncio.to_thread(lambda: urllib.request.urlopen(url, timeout=10).read())
        assert body == b"hello-dashboard\n"
        await wait_for(pilot, lambda: any("serving" in line for line in app.screen.query_one(Log).lines), what="the log view")
        row = app.screen.query_one(DataTable).get_row(spec.name)
        assert str(row[2]) == "running" and str(row[3]) == url
        await pilot.press("escape")
        tunnels = app.query_one(TunnelList)
        await wait_for(pilot, lambda: any(s.spec.name == spec.name for s in tunnels.rows_of("lab")), what="the app's tunnel in the Tunnels pane")
        _, pgid = await app_record_status(await app.services.fleet.connections.connect(app.profile("lab")), spec.name)
        await pilot.press("q")
    assert await gone(int(pgid)), group_members(int(pgid))
    assert app.exit_notes == []


async def test_an_app_the_user_chose_to_leave_running_survives_quit_and_is_named(tmp_path, sshd, monkeypatch):
    path, spec = lab_with_app(tmp_path, sshd)
    browser_calls(monkeypatch)
    app = make_app(path)
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.press("A")
        await wait_for(pilot, lambda: isinstance(app.screen, AppsScreen), what="the apps dialog")
        await pilot.press("s")
        service = app.app_service("lab")
        await wait_for(pilot, lambda: (s := service.status(spec.name)) is not None and s.state is AppState.RUNNING, what="app running")
        await pilot.press("l")
        await wait_for(pilot, lambda: service.status(spec.name).leave_running, what="leave running")
        await pilot.press("escape", "q")
    assert app.exit_notes == [f"{spec.name} keeps running on lab; stop it with: spark-tui app stop lab/{spec.name}"]
    from spark_tui.config import locations
    from spark_tui.services.ssh import ConnectionService

    connections = ConnectionService(known_hosts=locations.known_hosts_path())
    try:
        conn = await connections.connect(sshd_profile(sshd))
        state, pgid = await app_record_status(conn, spec.name)
        assert state == "running" and group_members(int(pgid))
        assert await stop_on_device(conn, spec.name, 2) == "stopped"
    finally:
        await connections.close()


async def test_the_containers_dialog_lists_ports_tunnels_to_one_and_opens_the_browser_for_http(tmp_path, docker_device, monkeypatch):  # noqa: F811
    opened = browser_calls(monkeypatch)
    trust_server(docker_device)
    path = tmp_path / "profiles.toml"
    ProfileStore(path).add_device(sshd_profile(docker_device))
    app = make_app(path)
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.press("D")
        await wait_for(pilot, lambda: isinstance(app.screen, ContainersScreen) and app.screen.rows, what="containers listed")
        screen = app.screen
        names = [c.name for c, _ in screen.rows]
        assert names[0] == "web" and "gpu-job" in names
        assert screen.rows[0][1].container_port == 8080
        await pilot.press("enter")
        await wait_for(pilot, lambda: opened, what="the browser")
        body = await asyncio.to_thread(lambda: urllib.request.urlopen(opened[0], timeout=10).read())
        assert body == b"hello from a container\n"
        await pilot.press("l")
        tabs = app.query_one(ShellTabs)
        await wait_for(pilot, lambda: tabs._command, what="a logs tab")
        assert list(tabs._command.values()) == ["docker logs -f --tail 200 web"]
        view = tabs.view(next(iter(tabs._command)))
        await wait_for(pilot, lambda: any("web: serving /www" in line for line in view.terminal.display), what="the followed log")
        await pilot.press("q")


async def test_the_containers_dialog_says_how_to_get_docker_permission(tmp_path, denied_device):  # noqa: F811
    trust_server(denied_device)
    path = tmp_path / "profiles.toml"
    ProfileStore(path).add_device(sshd_profile(denied_device))
    app = make_app(path)
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.press("D")
        await wait_for(pilot, lambda: isinstance(app.screen, ContainersScreen)
                       and "usermod" in str(app.screen.query_one("#containers-note", Static).render()), what="the hint")
        text = str(app.screen.query_one("#containers-note", Static).render())
        assert "not in the docker group" in text and "sudo usermod -aG docker $USER" in text


async def test_v_opens_the_selected_device_in_vs_code_over_remote_ssh(tmp_path, sshd, monkeypatch):
    record = fake_editor(tmp_path, "code")
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:{os.environ['PATH']}")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    path = tmp_path / "profiles.toml"
    ProfileStore(path).add_device(sshd_profile(sshd))
    app = make_app(path)
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.press("v")
        assert _wait_for(record).splitlines() == ["--remote", "ssh-remote+lab"]
        await pilot.pause()
        assert any("Include" in n.message for n in app._notifications)


async def test_a_preset_added_from_the_apps_dialog_is_saved_with_its_playbook_script(tmp_path, sshd):
    path = tmp_path / "profiles.toml"
    ProfileStore(path).add_device(sshd_profile(sshd))
    app = make_app(path)
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.press("A")
        await wait_for(pilot, lambda: isinstance(app.screen, AppsScreen), what="the apps dialog")
        await pilot.press("n")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "PresetScreen", what="the preset list")
        await pilot.press("enter")  # the first preset: Open WebUI
        await wait_for(pilot, lambda: isinstance(app.screen, AppsScreen) and app.screen.apps, what="the new row")
        assert [a.name for a in app.screen.apps] == ["open-webui"]
        assert app.screen.query_one(DataTable).row_count == 1
    saved = ProfileStore(path).load().device("lab").apps
    assert saved[0].name == "open-webui" and "trap cleanup INT TERM HUP QUIT EXIT" in saved[0].start_script
