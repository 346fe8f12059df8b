"""The dashboard driven with Textual's Pilot, against a real profile file and a real sshd."""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path

import pytest

from spark_tui.app import Services, SparkApp
from spark_tui.config import locations
from spark_tui.config.store import ProfileStore
from spark_tui.core.models import ConnectionState, DeviceProfile
from spark_tui.screens.add_device import AddDeviceScreen
from spark_tui.screens.host_key import HostKeyScreen
from spark_tui.services.fleet import Fleet
from spark_tui.widgets.device_list import DeviceList
from spark_tui.widgets.fleet_grid import FleetGrid
from spark_tui.widgets.shell_tabs import ShellTabs

HEADER = "# my devices\n"


def make_app(path: Path, **kwargs) -> SparkApp:
    store = ProfileStore(path)
    config = store.load()
    fleet = Fleet(telemetry_interval=0.5, profiles=lambda name: app.config.device(name))
    app = SparkApp(Services(store, fleet), config, **kwargs)
    return app


def sshd_profile(sshd, name: str = "lab") -> DeviceProfile:
    return DeviceProfile(name=name, host=sshd.host, port=sshd.port, user=sshd.user, identity_file=str(sshd.client_key))


async def wait_for(pilot, condition, timeout: float = 20.0, what: str = "condition") -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            app = pilot.app
            seen = {
                "screens": [type(screen).__name__ for screen in app.screen_stack],
                "focused": repr(app.focused),
                "states": getattr(app, "_states", None),
                "notifications": [n.message for n in app._notifications],
            }
            raise AssertionError(f"timed out waiting for {what}; app: {seen}")
        await pilot.pause(0.05)


def shown_names(app: SparkApp) -> list[str]:
    return [row.name for row in app.query_one(DeviceList)._shown]


async def test_the_dashboard_lists_the_saved_devices(tmp_path):
    path = tmp_path / "profiles.toml"
    store = ProfileStore(path)
    store.add_device(DeviceProfile(name="spark-1a2b", host="spark-1a2b.local", tags=("lab",)))
    store.add_device(DeviceProfile(name="gx10-00ff", host="192.0.2.7"))
    app = make_app(path)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert sorted(shown_names(app)) == ["gx10-00ff", "spark-1a2b"]


async def test_the_first_frame_already_lists_the_saved_devices_so_a_key_pressed_at_once_finds_them(tmp_path):
    path = tmp_path / "profiles.toml"
    ProfileStore(path).add_device(DeviceProfile(name="lab", host="192.0.2.9"))
    app = make_app(path)
    async with app.run_test(size=(120, 40)):
        # No pause: this is the moment the dashboard is first on screen.
        assert shown_names(app) == ["lab"]
        assert app.query_one(DeviceList).highlighted.name == "lab"


async def test_the_filter_keeps_only_matching_devices_and_escape_clears_it(tmp_path):
    path = tmp_path / "profiles.toml"
    store = ProfileStore(path)
    store.add_device(DeviceProfile(name="spark-1a2b", host="spark-1a2b.local", tags=("lab",)))
    store.add_device(DeviceProfile(name="gx10-00ff", host="192.0.2.7"))
    app = make_app(path)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("slash", "l", "a", "b")
        await pilot.pause()
        assert shown_names(app) == ["spark-1a2b"]
        await pilot.press("escape")
        await pilot.pause()
        assert len(shown_names(app)) == 2


async def test_adding_a_device_by_hand_saves_it_and_keeps_the_users_comment(tmp_path):
    path = tmp_path / "profiles.toml"
    path.write_text(HEADER)
    app = make_app(path)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("a")
        await pilot.pause()
        assert isinstance(app.screen, AddDeviceScreen)
        await pilot.press(*"spark-00aa")
        app.screen.query_one("#host").value = "spark-00aa.local"
        app.screen.query_one("#host").focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: not isinstance(app.screen, AddDeviceScreen), what="the dialog to close")
        assert "spark-00aa" in shown_names(app)
    text = path.read_text()
    assert text.startswith(HEADER)
    assert ProfileStore(path).load().device("spark-00aa").host == "spark-00aa.local"


async def test_a_hand_edit_while_the_dashboard_runs_shows_up(tmp_path):
    path = tmp_path / "profiles.toml"
    path.write_text(HEADER)
    app = make_app(path)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        with path.open("a") as f:
            f.write('\n[devices.edited-by-hand]\nhost = "10.0.0.9"\n')
        await wait_for(pilot, lambda: "edited-by-hand" in shown_names(app), timeout=5, what="the reload")


async def test_enter_connects_then_telemetry_arrives_and_a_shell_runs_a_command(tmp_path, sshd):
    path = tmp_path / "profiles.toml"
    ProfileStore(path).add_device(sshd_profile(sshd))
    shutil.copy(sshd.known_hosts, locations.known_hosts_path())
    app = make_app(path)
    async with app.run_test(size=(140, 45)) as pilot:
        await pilot.pause()
        await pilot.press("enter")
        await wait_for(pilot, lambda: app._states.get("lab") and app._states["lab"].state is ConnectionState.CONNECTED, what="connected")
        await wait_for(pilot, lambda: app.query_one(FleetGrid).card("lab") is not None, what="a telemetry card")
        card = app.query_one(FleetGrid).card("lab")
        # CPU busy needs two readings of /proc/stat, so it is known from the second sample on.
        await wait_for(pilot, lambda: card.latest.cpu is not None, what="a CPU reading")
        assert 0 <= card.latest.cpu <= 100 and card.latest.mem_total > 0
        await pilot.press("t")
        tabs = app.query_one(ShellTabs)
        await wait_for(pilot, lambda: app._sessions, what="a shell session")
        tab = next(iter(app._sessions))
        view = tabs.view(tab)
        await pilot.press(*"echo hel''lo", "enter")

        def shows_hello() -> bool:
            return any(line.strip() == "hello" for line in view.terminal.display)

        await wait_for(pilot, shows_hello, what="hello in the terminal")
        # The shell was opened at the size the pane shows, not at a default 80x24.
        await pilot.press(*"stty size", "enter")
        expected = f"{view.size.height} {view.size.width}"
        await wait_for(pilot, lambda: any(line.strip() == expected for line in view.terminal.display), what=f"stty size {expected}")


async def test_an_unknown_host_key_is_shown_and_trusted_only_after_yes(tmp_path, sshd):
    path = tmp_path / "profiles.toml"
    ProfileStore(path).add_device(sshd_profile(sshd))
    app = make_app(path)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, HostKeyScreen), what="the host key question")
        assert app.screen.fingerprint == sshd.fingerprint()
        await pilot.press("y")
        await wait_for(pilot, lambda: app._states.get("lab") and app._states["lab"].state is ConnectionState.CONNECTED, what="connected")
    assert f"[{sshd.host}]:{sshd.port}" in locations.known_hosts_path().read_text()


async def test_refusing_an_unknown_host_key_does_not_connect_or_store_it(tmp_path, sshd):
    path = tmp_path / "profiles.toml"
    ProfileStore(path).add_device(sshd_profile(sshd))
    app = make_app(path)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, HostKeyScreen), what="the host key question")
        await pilot.press("n")
        await wait_for(pilot, lambda: app._states.get("lab") and app._states["lab"].state is ConnectionState.FAILED, what="failed")
    known = locations.known_hosts_path()
    assert not known.exists() or str(sshd.port) not in known.read_text()


async def test_when_nothing_is_found_the_devices_pane_says_what_was_tried(tmp_path):
    from spark_tui.services.discovery.browser import DiscoveryService

    path = tmp_path / "profiles.toml"
    store = ProfileStore(path)
    # A service type nobody advertises, on loopback only: discovery runs for real and hears nothing.
    quiet = "_spark-tui-nothing._tcp.local."

    def discovery(on_change):
        return DiscoveryService(on_change, interfaces=("127.0.0.1",), service_types=(quiet,))

    app = SparkApp(Services(store, Fleet(), discovery=discovery), store.load())
    async with app.run_test(size=(120, 40)) as pilot:
        def empty_text() -> str:
            return str(app.query_one("#device-empty").render())

        await wait_for(pilot, lambda: "127.0.0.1" in empty_text(), timeout=10, what="the diagnostics")
        text = empty_text()
        assert quiet in text and "mDNS" in text and "Press a to add" in text


async def test_run_on_devices_shows_each_devices_output_and_exit_status(tmp_path, sshd):
    from spark_tui.screens.run_command import RunCommandScreen

    path = tmp_path / "profiles.toml"
    store = ProfileStore(path)
    store.add_device(sshd_profile(sshd, "lab-a"))
    store.add_device(sshd_profile(sshd, "lab-b"))
    shutil.copy(sshd.known_hosts, locations.known_hosts_path())
    app = make_app(path)
    async with app.run_test(size=(140, 45)) as pilot:
        await pilot.pause()
        await pilot.press("e")
        await wait_for(pilot, lambda: isinstance(app.screen, RunCommandScreen), what="the run dialog")
        screen = app.screen
        screen.query_one("SelectionList").select_all()
        await pilot.press(*"echo from-$(id -un); exit 3", "enter")

        def done() -> bool:
            texts = {name: "\n".join(line.text for line in log.lines) for name, log in screen._logs.items()}
            return len(texts) == 2 and all("exit status 3" in t for t in texts.values())

        await wait_for(pilot, done, what="both outputs")
        for log in screen._logs.values():
            assert f"from-{sshd.user}" in "\n".join(line.text for line in log.lines)


async def test_inside_a_shell_ctrl_p_and_ctrl_q_go_to_the_remote_program(tmp_path):
    from spark_tui.widgets.terminal.view import TerminalView

    path = tmp_path / "profiles.toml"
    ProfileStore(path).add_device(DeviceProfile(name="lab", host="127.0.0.1", port=1))
    seen: list = []
    app = make_app(path)
    async with app.run_test(size=(120, 40), message_hook=seen.append) as pilot:
        await pilot.pause()
        app.query_one(ShellTabs).open("lab")  # the tab exists even though its session fails
        await wait_for(pilot, lambda: app.query("TerminalView"), what="a terminal")
        app.query_one(TerminalView).focus()
        await pilot.press("ctrl+p", "ctrl+q")
        await pilot.pause()
        sent = [m.data for m in seen if isinstance(m, TerminalView.Input)]
        assert b"\x10" in sent and b"\x11" in sent
        assert app.is_running and not app.screen.query("CommandInput")
        # ctrl+] leaves the terminal; then the dashboard's keys work again.
        await pilot.press("ctrl+right_square_bracket")
        await pilot.pause()
        assert not isinstance(app.focused, TerminalView)
        # 3 (Go to the Shell pane) puts the keys back into the terminal.
        await pilot.press("3")
        await pilot.pause()
        assert isinstance(app.focused, TerminalView)


async def test_a_saved_device_leaving_and_joining_the_network_is_announced(tmp_path):
    import socket

    from zeroconf import ServiceInfo
    from zeroconf.asyncio import AsyncZeroconf

    from spark_tui.services.discovery.browser import DiscoveryService

    name = f"spark-{os.urandom(2).hex()}"
    kind = "_sparktui-on._tcp.local."  # our own type, so other tests' adverts don't interfere
    path = tmp_path / "profiles.toml"
    store = ProfileStore(path)
    store.add_device(DeviceProfile(name=name, host=f"{name}.local"))
    notes: list[str] = []
    app = SparkApp(
        Services(store, Fleet(), discovery=lambda cb: DiscoveryService(cb, interfaces=("127.0.0.1",), service_types=(kind,))),
        store.load(),
    )
    app.started -= 10  # past the start-up quiet period
    original = app.notify
    app.notify = lambda message, **kw: (notes.append(str(message)), original(message, **kw))[1]
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause(0.5)
        zc = AsyncZeroconf(interfaces=["127.0.0.1"])
        info = ServiceInfo(kind, f"{name}.{kind}", addresses=[socket.inet_aton("127.0.0.1")], port=22022, server=f"{name}.local.")
        try:
            await zc.async_register_service(info, cooperating_responders=True)
            await wait_for(pilot, lambda: any("is online" in n for n in notes), timeout=10, what="online")
            await zc.async_unregister_service(info)
            await wait_for(pilot, lambda: any("went offline" in n for n in notes), timeout=10, what="offline")
        finally:
            await zc.async_close()


async def test_adding_a_device_with_a_password_installs_a_key_and_keeps_no_password(tmp_path, sshd):
    """NVIDIA Sync's flow in the dialog: password once, key made and installed, password gone."""
    import subprocess

    sshd.clear_user_keys()
    path = tmp_path / "profiles.toml"
    path.write_text(HEADER)
    app = make_app(path)
    async with app.run_test(size=(120, 44)) as pilot:
        await pilot.press("a")
        await wait_for(pilot, lambda: isinstance(app.screen, AddDeviceScreen), what="the dialog")
        dialog = app.screen
        for field, value in (("name", "lab"), ("host", sshd.host), ("user", sshd.user), ("port", str(sshd.port)), ("password", sshd.password)):
            dialog.query_one(f"#{field}").value = value
        dialog.query_one("#add").press()
        await wait_for(pilot, lambda: isinstance(app.screen, HostKeyScreen), what="the host key question")
        assert app.screen.fingerprint == sshd.fingerprint()
        await pilot.press("y")
        await wait_for(pilot, lambda: not isinstance(app.screen, AddDeviceScreen), timeout=30, what="onboarding to finish")
    profile = ProfileStore(path).load().device("lab")
    assert profile is not None and profile.identity_file
    # Plain OpenSSH now logs in with the key spark-tui installed, no password.
    command = sshd.ssh_command("true", key=Path(profile.identity_file).expanduser())
    command[command.index(f"UserKnownHostsFile={sshd.known_hosts}")] = f"UserKnownHostsFile={locations.known_hosts_path()}"
    assert subprocess.run(command, capture_output=True, timeout=30).returncode == 0
    # The password is in no file the app wrote.
    for folder in (tmp_path,):
        for file in folder.rglob("*"):
            if file.is_file():
                assert sshd.password.encode() not in file.read_bytes(), file
    sshd.clear_user_keys()


async def test_service_messages_that_arrive_while_the_app_shuts_down_are_dropped(tmp_path):
    # Services post until they are closed; Textual removes the panes before the app's own
    # queue is drained. Samples of new devices queued at exit must not crash the shutdown.
    from spark_tui.core.models import TelemetrySample
    from spark_tui.events import TelemetryArrived

    path = tmp_path / "profiles.toml"
    app = make_app(path)

    async def post_during_shutdown() -> int:
        while app.is_running:
            await asyncio.sleep(0)
        for index in range(50):
            app.post_message(TelemetryArrived(TelemetrySample(device=f"d{index:02}", time=float(index), mem_total=1, mem_available=1)))
        return index + 1

    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        late = asyncio.create_task(post_during_shutdown())
    assert await late == 50


async def test_switching_the_theme_recolours_the_rows_already_on_screen(tmp_path):
    from textual.widgets import DataTable

    from spark_tui.core.models import ConnectionStatus, TunnelSpec, TunnelState, TunnelStats
    from spark_tui.events import ConnectionChanged, TunnelsChanged
    from spark_tui.widgets.status_style import state_text

    path = tmp_path / "profiles.toml"
    ProfileStore(path).add_device(DeviceProfile(name="lab", host="192.0.2.9"))
    app = make_app(path)
    async with app.run_test(size=(120, 40)) as pilot:
        app.theme = "spark-dark"
        app.post_message(ConnectionChanged(ConnectionStatus("lab", ConnectionState.CONNECTED)))
        stats = TunnelStats("lab", TunnelSpec(name="web", remote_port=8888), TunnelState.UP, 8888)
        app.post_message(TunnelsChanged("lab", (stats,)))
        await pilot.pause(0.3)
        devices = app.device_list.query_one("#device-table", DataTable)
        tunnels = app.tunnel_list.query_one(DataTable)

        def state_styles() -> tuple[str, str]:
            return str(devices.get_cell_at((0, 0)).style), str(tunnels.get_cell_at((0, 0)).style)

        dark = state_styles()
        app.theme = "spark-light"
        await pilot.pause(0.3)  # nothing else changed: no new data arrives to redraw the rows
        light = (str(state_text("connected", app.theme_variables).style), str(state_text("up", app.theme_variables).style))
        assert state_styles() == light != dark
