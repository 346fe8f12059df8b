"""ShellSession against a real OpenSSH sshd on loopback, rendered by the real emulator."""

from __future__ import annotations

import asyncio
import time

import asyncssh
import pytest

from spark_tui.services.shell.session import ShellSession
from spark_tui.widgets.terminal.emulator import Terminal


async def _connect(server) -> asyncssh.SSHClientConnection:
    return await asyncssh.connect(
        server.host,
        server.port,
        username=server.user,
        client_keys=[str(server.client_key)],
        known_hosts=str(server.known_hosts),
        agent_path=None,
    )


async def _until(predicate, timeout: float = 20.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


async def _quiet(session: ShellSession, for_seconds: float = 0.3, timeout: float = 20.0) -> None:
    """Wait until no output arrived for ``for_seconds``."""
    deadline = time.monotonic() + timeout
    last = -1
    while time.monotonic() < deadline:
        seen = session.bytes_received
        if seen == last and session.pending == 0:
            return
        last = seen
        await asyncio.sleep(for_seconds)
    raise AssertionError("output never stopped")


class Shell:
    """A session wired to an emulator, as the app wires it to a TerminalView."""

    def __init__(self, conn, **options) -> None:
        self.term = Terminal(options.get("cols", 80), options.get("rows", 24))
        self.exits: list[int | None] = []
        self.session = ShellSession(conn, on_output=self.term.feed, on_exit=self.exits.append, **options)
        self.term.on_reply = self.session.write

    def screen(self) -> str:
        return "\n".join(line.rstrip() for line in self.term.display)


async def test_a_shell_runs_echo_and_the_output_appears_on_the_screen(sshd):
    async with await _connect(sshd) as conn:
        shell = Shell(conn, cols=80, rows=24)
        await shell.session.start()
        shell.session.write(b"echo hel''lo\r")
        await _until(lambda: any(line.rstrip() == "hello" for line in shell.term.display), what="hello")
        await shell.session.close()
    assert "echo hel''lo" in shell.screen()


async def test_resizing_changes_what_stty_size_reports(sshd):
    async with await _connect(sshd) as conn:
        shell = Shell(conn, cols=80, rows=24)
        await shell.session.start()
        shell.term.resize(100, 30)
        shell.session.resize(100, 30)
        shell.session.write(b"stty size\r")
        await _until(lambda: "30 100" in shell.screen(), what="stty size 30 100")
        await shell.session.close()


async def test_the_exit_status_reaches_on_exit_after_the_last_output(sshd):
    async with await _connect(sshd) as conn:
        shell = Shell(conn)
        await shell.session.start()
        shell.session.write(b"echo bye; exit 3\r")
        status = await asyncio.wait_for(shell.session.wait_closed(), 20)
    assert status == 3
    assert shell.exits == [3]
    assert "bye" in shell.screen()


async def test_the_shell_gets_a_utf8_lang_when_the_server_accepts_it(sshd_factory):
    server = sshd_factory(extra_config="AcceptEnv LANG LC_*")
    async with await _connect(server) as conn:
        shell = Shell(conn)
        await shell.session.start()
        shell.session.write(b"echo lang=$LANG; printf '\\xe4\\xb8\\xad\\n'\r")
        await _until(lambda: "lang=C.UTF-8" in shell.screen() and "\n中" in shell.screen(), what="LANG and a wide char")
        await shell.session.close()


async def test_a_slow_consumer_pauses_the_channel_and_pending_output_stays_bounded(sshd):
    received = 0

    async def slow_consumer(data: bytes) -> None:
        nonlocal received
        received += len(data)
        await asyncio.sleep(0.005)

    async with await _connect(sshd) as conn:
        session = ShellSession(conn, on_output=slow_consumer, command="yes | head -c 20000000", max_pending=128 * 1024)
        await session.start()
        await asyncio.wait_for(session.wait_closed(), 120)
    # The pty turns each "y\n" into "y\r\n": at least the 20 MB came through, all of it consumed.
    assert received == session.bytes_received >= 20_000_000
    assert session.pending == 0
    # Reading paused at the limit; only what was already in flight (< one SSH window) got past.
    assert session.peak_pending <= 128 * 1024 + 128 * 1024


async def test_ctrl_c_during_a_flood_stops_it_with_little_output_after(sshd):
    async with await _connect(sshd) as conn:
        shell = Shell(conn, cols=80, rows=24)
        await shell.session.start()
        shell.session.write(b"yes 0123456789abcdef\r")
        await _until(lambda: shell.session.bytes_received > 2_000_000, what="the flood")
        at_interrupt = shell.session.bytes_received
        shell.session.write(b"\x03")
        await _quiet(shell.session)
        after = shell.session.bytes_received - at_interrupt
        shell.session.write(b"echo still''here\r")
        await _until(lambda: "stillhere" in shell.screen(), what="the shell answering again")
        await shell.session.close()
    # Bounded by our pending limit + the SSH window + kernel buffers, not by the flood's size.
    assert after < 2_000_000, after


async def test_writing_after_the_shell_ended_is_ignored(sshd):
    async with await _connect(sshd) as conn:
        shell = Shell(conn)
        await shell.session.start()
        shell.session.write(b"exit 0\r")
        assert await asyncio.wait_for(shell.session.wait_closed(), 20) == 0
        shell.session.write(b"echo nobody\r")
        await shell.session.close()
    assert shell.exits == [0]


async def test_a_refused_session_raises_a_shell_error_with_a_hint(asyncssh_server):
    from spark_tui.core.errors import ShellError

    class NoSessions(asyncssh.SSHServer):
        def session_requested(self):
            return False

    server = await asyncssh_server(server_factory=NoSessions)
    async with asyncssh.connect(**server.connect_options()) as conn:
        session = ShellSession(conn, on_output=lambda data: None)
        with pytest.raises(ShellError) as caught:
            await session.start()
    assert "refused" in caught.value.message
    assert caught.value.hint


async def test_a_dropped_connection_ends_the_shell_with_no_exit_status(sshd_factory):
    server = sshd_factory()
    conn = await _connect(server)
    try:
        shell = Shell(conn)
        await shell.session.start()
        shell.session.write(b"echo up\r")
        await _until(lambda: "up" in shell.screen(), what="the shell")
        server.stop()  # every sshd process killed: a real outage
        status = await asyncio.wait_for(shell.session.wait_closed(), 20)
    finally:
        conn.abort()
    assert status is None
    assert shell.exits == [None]
    assert shell.session.ended


async def test_a_plain_consumer_gets_output_in_bounded_slices_with_loop_turns_between(sshd):
    from spark_tui.services.shell.session import OUTPUT_SLICE

    sizes: list[int] = []
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    def consume(data: bytes) -> None:
        sizes.append(len(data))
        time.sleep(0.002)  # a dear parse: 2 ms a slice

    async with await _connect(sshd) as conn:
        session = ShellSession(conn, on_output=consume, command="yes | head -c 2000000")
        task = asyncio.create_task(ticker())
        try:
            await session.start()
            await asyncio.wait_for(session.wait_closed(), 60)
        finally:
            task.cancel()
    assert sum(sizes) == session.bytes_received >= 2_000_000
    assert max(sizes) <= OUTPUT_SLICE
    assert ticks >= len(sizes) * 0.002 / 0.008 / 2  # the loop ran at least every ~8 ms of work
