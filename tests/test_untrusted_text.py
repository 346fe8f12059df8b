"""Text a device sends never reaches the user's terminal raw, nor Textual's markup parser.

A hostile "SSH server" on 127.0.0.1 answers every connection with a version line and an
SSH_MSG_DISCONNECT whose reason holds terminal escapes (clipboard write, window title, screen
clear), C1 controls, bidi overrides and Textual markup, before any key exchange, so no host key
is needed to reach the user. The CLI runs as a real process; the dashboard runs under Pilot.
"""

from __future__ import annotations

import os
import socket
import struct
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from spark_tui.config.store import ProfileStore
from spark_tui.core.errors import SparkError
from spark_tui.core.models import Config, DeviceProfile, TunnelSpec
from spark_tui.core.untrusted import display_safe

REPO = Path(__file__).resolve().parents[1]

HOSTILE = (
    "\x1b]52;c;ZWNobyBwd25lZA==\x07"  # OSC 52: write the clipboard
    "\x1b]2;pwned title\x1b\\"  # OSC 2: set the window title, ST-terminated
    "\x1b[2J\x1b[Hlogin: "  # clear the screen and fake a prompt
    "\x9b31m\x9d0;c1 title\x9c"  # the same as 8-bit C1 controls
    "\u202eevil\u2066\x7f\r"  # bidi override and isolate, DEL, CR
    " [/x] [@click=app.quit]quit[/] [link=https://198.18.0.1/]x[/link] [b]bold"
)
# Bytes that make a terminal act: ESC, BEL, DEL and the C1 range (as UTF-8 or raw).
FORBIDDEN = [b"\x1b", b"\x07", b"\x7f", b"\r", *(chr(c).encode() for c in range(0x80, 0xA0)),
             "\u202e".encode(), "\u2066".encode()]


def _packet(payload: bytes) -> bytes:
    padding = 8 - (len(payload) + 5) % 8
    padding += 8 if padding < 4 else 0
    return struct.pack(">IB", len(payload) + padding + 1, padding) + payload + b"\0" * padding


def _disconnect(reason: str) -> bytes:
    text = reason.encode()
    return _packet(bytes([1]) + struct.pack(">I", 11) + struct.pack(">I", len(text)) + text + struct.pack(">I", 0))


class HostileServer:
    """Accepts on 127.0.0.1 and says only: version line, then DISCONNECT(reason)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.sock.settimeout(0.1)
        self.connections = 0
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stopped.is_set():
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self.connections += 1
            with conn:
                try:
                    conn.sendall(b"SSH-2.0-Hostile_1.0\r\n" + _disconnect(self.reason))
                    conn.settimeout(0.5)
                    conn.recv(4096)
                except OSError:
                    pass

    def close(self) -> None:
        self.stopped.set()
        self.thread.join(5)
        self.sock.close()


@pytest.fixture
def hostile():
    server = HostileServer(HOSTILE)
    yield server
    server.close()


def _assert_inert(data: bytes) -> None:
    for byte in FORBIDDEN:
        assert byte not in data, f"{byte!r} reached the terminal: {data!r}"


def _spark_tui(config: Path, *argv: str, timeout: float = 60) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "spark_tui", "--config", str(config), *argv],
                          capture_output=True, timeout=timeout, env=env, cwd=REPO)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _save_hostile(config: Path, port: int) -> None:
    tunnel = TunnelSpec("jupyter", 8888, _free_port())
    ProfileStore.create_seeded(config, Config(devices=(DeviceProfile("evil", "127.0.0.1", user="me", port=port, tunnels=(tunnel,)),)))


def test_a_disconnect_reason_full_of_escapes_reaches_exec_s_stderr_only_as_visible_text(tmp_path, hostile) -> None:
    config = tmp_path / "profiles.toml"
    _save_hostile(config, hostile.port)

    done = _spark_tui(config, "exec", "evil", "--", "true")

    assert done.returncode == 1 and hostile.connections >= 1
    _assert_inert(done.stdout + done.stderr)
    err = done.stderr.decode()
    assert err.startswith(f"spark-tui: error: 127.0.0.1:{hostile.port} closed the connection: ")
    assert "\\x1b]52;c;" in err and "\\x9b31m" in err and "\\u202e" in err  # shown, as escapes
    assert err.count("\n") == 1  # one line


def test_a_disconnect_reason_full_of_escapes_reaches_tunnel_s_output_only_as_visible_text(tmp_path, hostile) -> None:
    config = tmp_path / "profiles.toml"
    _save_hostile(config, hostile.port)

    done = _spark_tui(config, "tunnel", "evil", "jupyter")

    assert done.returncode == 1 and hostile.connections >= 1
    _assert_inert(done.stdout + done.stderr)
    assert "closed the connection: \\x1b]52" in done.stderr.decode()


def test_several_devices_output_lines_in_exec_all_are_shown_without_their_escapes(tmp_path, hostile) -> None:
    config = tmp_path / "profiles.toml"
    _save_hostile(config, hostile.port)

    done = _spark_tui(config, "exec", "--all", "--", "true")

    _assert_inert(done.stdout + done.stderr)
    assert "evil: error: " in done.stderr.decode()


def test_the_cli_streams_let_no_control_character_through_whatever_path_a_message_takes() -> None:
    import io

    from spark_tui.core.untrusted import SafeWriter

    raw = io.StringIO()
    out = SafeWriter(raw)
    out.write("ok\n" + HOSTILE + "\n")
    out.write("\x1b")  # split across writes
    out.write("[2J\n")
    print('{"a": "b\\\\n"}', file=out)  # JSON we print keeps its own escapes

    text = raw.getvalue()
    _assert_inert(text.encode())
    assert text.startswith("ok\n") and text.endswith('{"a": "b\\\\n"}\n') and "\\x1b[2J" in text


def test_error_messages_carry_no_control_character_and_are_length_capped() -> None:
    error = SparkError("device said: " + HOSTILE + "x" * 100_000, HOSTILE)

    _assert_inert(str(error).encode())
    assert len(error.message) <= 2000 and len(error.hint) <= 1000


@pytest.mark.parametrize("char", ["\x00", "\x1b", "\x7f", "\x85", "\x9b", "\x9d", "\u200b", "\u200e", "\u202a",
                                  "\u202e", "\u2028", "\u2066", "\u2069", "\ufeff", "\U000e0041", "\udcff"])
def test_every_control_format_and_bidi_character_is_shown_as_an_escape(char: str) -> None:
    from spark_tui.core.untrusted import display_safe_lines

    shown = display_safe(f"a{char}b", 64)

    assert char not in shown and shown.startswith("a\\") and shown.endswith("b")
    assert char not in display_safe_lines(f"a{char}\nb") and "\n" in display_safe_lines(f"a{char}\nb")


def test_a_megabyte_of_device_text_is_cut_quickly_to_the_limit() -> None:
    shown = display_safe("\x1b" * 1_000_000, 100)

    assert len(shown) <= 100 and shown.endswith("\u2026")


async def test_the_dashboard_shows_a_hostile_disconnect_reason_literally_and_keeps_running(tmp_path, hostile) -> None:
    from spark_tui.app import Services, SparkApp
    from spark_tui.services.fleet import Fleet

    path = tmp_path / "profiles.toml"
    _save_hostile(path, hostile.port)
    store = ProfileStore(path)
    config = store.load()
    app = SparkApp(Services(store, Fleet(profiles=config.device)), config)
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.pause()
        await pilot.press("enter")
        for _ in range(200):
            if any("closed the connection" in n.message for n in app._notifications):
                break
            await pilot.pause(0.05)
        [note] = [n for n in app._notifications if "closed the connection" in n.message]
        await pilot.pause(0.3)  # the toast is drawn
        assert app.is_running and app.return_code is None
        assert not note.markup
        assert "[/x] [@click=app.quit]quit[/] [link=https://198.18.0.1/]" in note.message  # literally
        _assert_inert(note.message.encode())
        # Widgets and screens may ask for markup: the app's notify never parses it.
        app.notify("[@click=app.quit]q[/] [/x]", markup=True)
        await pilot.pause(0.2)
        assert app.is_running and not app._notifications.__iter__().__next__().markup
        from textual.widgets._toast import Toast

        for toast in app.screen.query(Toast):
            content = toast.render()
            assert not any(getattr(span.style, "meta", None) or "link" in str(span.style) or "@click" in str(span.style)
                           for span in content.spans)
    assert app.return_code in (None, 0)


def test_a_saved_tunnel_listens_where_bind_says(tmp_path) -> None:
    from spark_tui.commands.tunnel import parse_forward

    saved = TunnelSpec("notebook", 8888, 18888, bind_address="127.0.0.1")
    profile = DeviceProfile("lab", "127.0.0.1", tunnels=(saved,))

    [rebound] = parse_forward("notebook", profile, "127.0.0.2")
    [kept] = parse_forward("notebook", profile, None)
    [plain] = parse_forward("9000", profile, None)

    assert (rebound.bind_address, rebound.local_port, rebound.remote_port) == ("127.0.0.2", 18888, 8888)
    assert kept == saved and plain.bind_address == "127.0.0.1"


@pytest.mark.parametrize(("address", "exposed"), [("127.0.0.1", False), ("127.0.0.2", False), ("::1", False),
                                                  ("::ffff:127.0.0.1", False), ("localhost", False),
                                                  ("0.0.0.0", True), ("::", True), ("198.18.0.1", True), ("spark.local", True)])
def test_the_exposed_notice_follows_the_address_actually_asked_for(address: str, exposed: bool) -> None:
    assert TunnelSpec("x", 1, bind_address=address).exposed is exposed


def test_tunnel_bind_is_honoured_for_a_saved_tunnel_and_says_exposed_only_when_it_is(tmp_path, sshd) -> None:
    import shutil

    from spark_tui.config import locations

    config = tmp_path / "profiles.toml"
    saved = TunnelSpec("notebook", sshd.port, _free_port(), bind_address="127.0.0.1")
    profile = DeviceProfile("lab", sshd.host, sshd.user, sshd.port, str(sshd.client_key), tunnels=(saved,))
    ProfileStore.create_seeded(config, Config(devices=(profile,)))
    locations.known_hosts_path().parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    shutil.copy(sshd.known_hosts, locations.known_hosts_path())
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    process = subprocess.Popen([sys.executable, "-m", "spark_tui", "--config", str(config), "tunnel", "lab", "notebook",
                                "--bind", "127.0.0.3"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=REPO)
    try:
        line = process.stdout.readline().decode()
        assert line.startswith("notebook: 127.0.0.3:"), (line, process.stderr.read1(4096) if process.poll() is not None else b"")
        assert "EXPOSED" not in line
        port = int(line.split(":")[2].split()[0])
        with socket.create_connection(("127.0.0.3", port), timeout=10) as client:
            assert client.recv(4).startswith(b"SSH-")  # the saved tunnel's target (sshd itself) answers
    finally:
        process.terminate()
        process.wait(20)


async def test_the_host_key_question_names_the_real_key_type(tmp_path, asyncssh_server) -> None:
    import asyncssh

    from spark_tui.services.ssh import ConnectionService

    server_root = tmp_path / "ecdsa"
    from tests.conftest import AsyncsshServer

    server = AsyncsshServer(server_root)
    server.host_key = asyncssh.generate_private_key("ecdsa-sha2-nistp256")
    await server.start()
    asked = []

    async def confirm(host: str, fingerprint: str) -> bool:
        asked.append(fingerprint)
        return False

    profile = DeviceProfile("ec", server.host, "tester", server.port, str(server.client_key))
    service = ConnectionService(profiles=lambda name: profile, confirm_host_key=confirm)
    try:
        with pytest.raises(SparkError):
            await service.connect(profile)
    finally:
        await service.close()
        await server.stop()
    assert asked and asked[0].key_type == "ECDSA" and asked[0] == server.host_key.get_fingerprint("sha256")

    from textual.app import App
    from textual.widgets import Static

    from spark_tui.screens.host_key import HostKeyScreen

    app = App()
    async with app.run_test() as pilot:
        app.push_screen(HostKeyScreen("[127.0.0.1]:22", asked[0]))
        await pilot.pause()
        shown = " ".join(str(s.render()) for s in app.screen.query(Static))
    assert "ECDSA key fingerprint is SHA256:" in shown and "ED25519" not in shown


def test_the_log_file_never_holds_a_control_character_a_device_sent() -> None:
    import logging

    from spark_tui import logs

    path = Path(logs.setup("INFO"))
    logging.getLogger("spark_tui.test").warning("device said: %s", HOSTILE)
    for handler in logging.getLogger("spark_tui").handlers:
        handler.flush()

    written = path.read_bytes()
    assert b"device said: " in written and b"\\x1b]52" in written
    _assert_inert(written.replace(b"\n", b""))


async def test_a_process_name_and_a_device_name_in_the_new_tunnel_dialog_are_shown_literally() -> None:
    from textual.app import App
    from textual.widgets import Label, OptionList

    from spark_tui.core.proc_net import DetectedPort
    from spark_tui.screens.new_tunnel import NewTunnelScreen

    port = DetectedPort(8888, "127.0.0.1", 4, process="[/x][@click=app.quit]q\x1b]52;c;eA==\x07\u202e\x9b")
    app = App()
    async with app.run_test() as pilot:
        app.push_screen(NewTunnelScreen("[b]lab\x1b[2J", (port,)))
        await pilot.pause()
        options = app.screen.query_one(OptionList)
        shown = str(options.get_option_at_index(0).prompt)
        title = str(app.screen.query(Label).first().render())
    assert "[/x][@click=app.quit]q\\x1b]52" in shown
    _assert_inert(shown.encode())
    assert "[b]lab\\x1b[2J" in title


def test_a_gpu_name_from_nvidia_smi_is_shown_without_its_escapes() -> None:
    from spark_tui.core.models import GpuSample
    from spark_tui.widgets.telemetry_view import _gpu_label

    label = _gpu_label(GpuSample(0, name="NVIDIA \x1b]2;owned\x07GB10\u202e"), compact=False, room=200)

    _assert_inert(label.encode())
    assert label.startswith("GPU 0 ") and "\\x1b]2;owned" in label


def _exec_on_a_terminal(config: Path, *argv: str) -> bytes:
    """Run ``spark-tui`` with stdout and stderr on a pseudo-terminal; return what it showed."""
    import pty
    import select

    main, side = pty.openpty()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    process = subprocess.Popen([sys.executable, "-m", "spark_tui", "--config", str(config), *argv],
                               stdin=subprocess.DEVNULL, stdout=side, stderr=side, env=env, cwd=REPO)
    os.close(side)
    shown = b""
    try:
        while True:
            ready, _, _ = select.select([main], [], [], 30)
            if not ready:
                break
            try:
                chunk = os.read(main, 65536)
            except OSError:  # EIO: the process closed the terminal
                break
            if not chunk:
                break
            shown += chunk
    finally:
        process.wait(30)
        os.close(main)
    return shown


HOSTILE_OUTPUT = r"printf '\033]52;c;ZWNobyBwd25lZA==\007\033]2;owned\033\\\033[2Jhello\r\n\302\233'"


def test_exec_shows_a_command_s_escapes_on_a_terminal_and_passes_them_to_a_pipe_untouched(tmp_path, sshd) -> None:
    import shutil

    from spark_tui.config import locations

    config = tmp_path / "profiles.toml"
    ProfileStore.create_seeded(config, Config(devices=(DeviceProfile("lab", sshd.host, sshd.user, sshd.port, str(sshd.client_key)),)))
    locations.known_hosts_path().parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    shutil.copy(sshd.known_hosts, locations.known_hosts_path())

    on_terminal = _exec_on_a_terminal(config, "exec", "lab", "--", HOSTILE_OUTPUT)
    raw_on_terminal = _exec_on_a_terminal(config, "exec", "lab", "--raw", "--", HOSTILE_OUTPUT)
    piped = _spark_tui(config, "exec", "lab", "--", HOSTILE_OUTPUT)

    assert b"hello" in on_terminal and b"\\x1b]52;c;" in on_terminal
    _assert_inert(on_terminal.replace(b"\r\n", b"\n"))  # the pty itself turns \n into \r\n
    assert b"\x1b]52;c;" in raw_on_terminal  # asked for: as ssh does
    assert piped.returncode == 0 and piped.stdout.startswith(b"\x1b]52;c;ZWNobyBwd25lZA==\x07")  # a pipe gets the bytes
