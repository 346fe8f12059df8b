"""A program on the device printing hostile output must not freeze the dashboard (issue 13 item 5).

A real shell over a real sshd streams each hostile stream into a TerminalView inside a running
Textual app, exactly as the Shell pane does (ShellSession hands output over in slices and gives
the loop a turn every few milliseconds); meanwhile a thread keeps connecting to a tunnel
listener served by the same event loop. Every connection must be accepted (answered) within
1 s while the stream drains, and the whole stream must arrive.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time

import asyncssh
import pytest
from textual.app import App, ComposeResult

from spark_tui.services.shell.session import ShellSession
from spark_tui.services.tunnels.forwarding import listen_locally
from spark_tui.widgets.terminal.view import TerminalView

KB = 1024

# name -> a Python expression the device evaluates to the stream's bytes (sized to drain in a
# few seconds through the Python core).
STREAMS = {
    "tab stops CSI 65535 I": "b'\\x1b[65535I' * 32768",
    "back tab CSI 65535 Z": "b'\\x1b[65535Z' * 32768",
    "repeat CSI 65535 b": "b'x\\x1b[65535b' * 29127",
    "reset ESC c between text": "b'\\x1bcA' * 43690",
    "erase display between text": "b'\\x1b[2JA' * 26214",
    "scroll up CSI 65535 S": "b'\\x1b[65535S' * 8192",
    "insert lines CSI 65535 L": "b'\\x1b[65535L' * 8192",
    "erase line flood": "b'\\x1b[2K' * 65536",
    "alignment test ESC # 8": "b'\\x1b#8A' * 32768",
    "cursor position queries": "b'\\x1b[6n' * 65536",
    "distinct long colour sequences": "b''.join(b'\\x1b[38;2;%d;%d;7;' % (i % 256, i // 256) + b'1;' * 200 + b'0mx' for i in range(8000))",
    "unterminated OSC": "b'\\x1b]0;' + b'x' * 1048576",
    "unterminated DCS": "b'\\x1bP' + b'x' * 1048576",
}


def _remote_command(stream: str) -> str:
    ending = "b'\\x07\\x1bc\\r\\nEND-OF-FLOOD\\r\\n'"
    return f"python3 -c \"import sys; sys.stdout.buffer.write({stream} + {ending}); sys.stdout.flush()\""


class _Prober(threading.Thread):
    """Connects to the tunnel every 100 ms and records how long until the loop answered."""

    def __init__(self, port: int) -> None:
        super().__init__(daemon=True)
        self.port = port
        self.stop = threading.Event()
        self.latencies: list[float] = []

    def run(self) -> None:
        while not self.stop.is_set():
            started = time.monotonic()
            with socket.create_connection(("127.0.0.1", self.port), timeout=10) as sock:
                answer = sock.recv(2)
            self.latencies.append(time.monotonic() - started if answer == b"ok" else 99.0)
            self.stop.wait(0.1)


class _Answer(asyncio.Protocol):
    def connection_made(self, transport) -> None:
        transport.write(b"ok")
        transport.close()


class _ShellApp(App):
    def compose(self) -> ComposeResult:
        yield TerminalView(id="term")


@pytest.mark.parametrize("name", list(STREAMS))
async def test_a_tunnel_accepts_within_a_second_while_the_shell_receives_a_hostile_stream(sshd, name):
    server = await listen_locally("127.0.0.1", 0, _Answer)
    port = server.sockets[0].getsockname()[1]
    conn = await asyncssh.connect(
        sshd.host, sshd.port, username=sshd.user, client_keys=[str(sshd.client_key)],
        known_hosts=str(sshd.known_hosts), agent_path=None,
    )
    prober = _Prober(port)
    try:
        async with _ShellApp().run_test(size=(120, 40)) as pilot:
            view = pilot.app.query_one(TerminalView)
            session = ShellSession(conn, cols=120, rows=40, command=_remote_command(STREAMS[name]), on_output=view.feed)
            view.terminal.on_reply = session.write
            prober.start()
            started = time.monotonic()
            await session.start()
            await asyncio.wait_for(session.wait_closed(), 90)
            drained = time.monotonic() - started
            await pilot.pause()
            prober.stop.set()
            await asyncio.to_thread(prober.join, 15)
            shown = "\n".join(view.terminal.display)
    finally:
        prober.stop.set()
        conn.close()
        server.close()
    assert "END-OF-FLOOD" in shown
    assert prober.latencies, "the prober never got through"
    slowest = max(prober.latencies)
    assert slowest < 1.0, f"{name}: a tunnel waited {slowest:.2f} s (stream drained in {drained:.1f} s)"
