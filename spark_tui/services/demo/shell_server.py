"""The demo device's SSH server: real shells on this computer, under a real PTY when asked.

asyncssh does the protocol; this module decides who may log in (:class:`DemoLogin`) and runs
each session (:class:`ShellSession`): the user's shell under ``os.openpty`` for interactive
sessions (size and window changes go to the kernel, so ``stty size`` and full-screen programs
see them), ``$SHELL -c COMMAND`` on pipes for ``ssh host cmd``, OpenSSH's ``sftp-server`` for the
SFTP subsystem. Exit status and signals go back to the client as OpenSSH would send them.

Port forwarding is allowed, but only to and from loopback: the demo device never reaches, or
opens a port towards, any other address.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import signal
import struct
import termios

import asyncssh

from spark_tui.services.demo.login import FAILURE_DELAY, DemoLogin, is_loopback

log = logging.getLogger(__name__)

SFTP_SERVERS = ("/usr/lib/openssh/sftp-server", "/usr/libexec/openssh/sftp-server", "/usr/libexec/sftp-server")
_READ_SIZE = 65536
_INPUT_LIMIT = 256 * 1024  # bytes of client input buffered before the channel is paused
_HANGUP_GRACE = 2.0  # seconds between SIGHUP and SIGKILL when a client goes away


class SessionTracker:
    """Every live connection and session task of one demo server, so stopping ends them all."""

    def __init__(self) -> None:
        self.connections: set[asyncssh.SSHServerConnection] = set()
        self.tasks: set[asyncio.Task] = set()

    def spawn(self, coro) -> asyncio.Task:
        """Run ``coro`` as a task that :meth:`close_all` waits for."""
        task = asyncio.ensure_future(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    async def close_all(self, timeout: float = 5.0) -> None:
        """Close every connection (their processes are hung up) and wait for the sessions."""
        for conn in list(self.connections):
            conn.close()
        for conn in list(self.connections):
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(conn.wait_closed(), timeout)
        if self.tasks:
            await asyncio.wait(list(self.tasks), timeout=timeout + _HANGUP_GRACE)


class DemoServer(asyncssh.SSHServer):
    """Authentication and channel policy of the demo device (one instance per connection)."""

    def __init__(self, login: DemoLogin, tracker: SessionTracker) -> None:
        self._login = login
        self._tracker = tracker
        self._conn: asyncssh.SSHServerConnection | None = None

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self._conn = conn
        self._tracker.connections.add(conn)

    def connection_lost(self, exc: Exception | None) -> None:
        self._tracker.connections.discard(self._conn)

    def begin_auth(self, username: str) -> bool:
        return True  # everyone authenticates, even the right user

    def password_auth_supported(self) -> bool:
        return self._login.password is not None

    async def validate_password(self, username: str, password: str) -> bool:
        if self._login.check_password(username, password):
            return True
        await asyncio.sleep(FAILURE_DELAY)  # guessing costs time; five misses end password login
        return False

    def public_key_auth_supported(self) -> bool:
        return True

    def validate_public_key(self, username: str, key: asyncssh.SSHKey) -> bool:
        return self._login.accepts_key(username, key)

    def session_requested(self) -> ShellSession:
        return ShellSession(self._login, self._tracker)

    def connection_requested(self, dest_host: str, dest_port: int, orig_host: str, orig_port: int) -> bool:
        if not is_loopback(dest_host):
            raise asyncssh.ChannelOpenError(
                asyncssh.OPEN_ADMINISTRATIVELY_PROHIBITED, "the demo device only forwards to its own loopback"
            )
        return True

    def server_requested(self, listen_host: str, listen_port: int) -> bool:
        return is_loopback(listen_host)


def _set_window(fd: int, size: tuple[int, int, int, int]) -> None:
    # The client sends 32-bit numbers; the kernel keeps 16-bit ones. Clamp, never trust.
    cols, rows, xpixels, ypixels = (min(max(int(v), 0), 0xFFFF) for v in size)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows or 24, cols or 80, xpixels, ypixels))


def _take_terminal() -> None:
    # Runs in the child between fork and exec, after setsid (start_new_session): make the PTY
    # on stdin the controlling terminal, so job control, ^C and SIGWINCH work.
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


class ShellSession(asyncssh.SSHServerSession):
    """One session channel: a shell, a command or SFTP, on a PTY or on pipes."""

    def __init__(self, login: DemoLogin, tracker: SessionTracker) -> None:
        self._login = login
        self._tracker = tracker
        self._chan: asyncssh.SSHServerChannel | None = None
        self._term: str | None = None
        self._size = (80, 24, 0, 0)
        self._argv: list[str] = [login.shell]
        self._proc: asyncio.subprocess.Process | None = None
        self._master: int | None = None
        self._master_eof = False
        self._reading = False
        self._pending = bytearray()  # client input not yet accepted by the child
        self._input_eof = False
        self._eof_sent = False
        self._input_paused = False
        self._can_write = asyncio.Event()
        self._can_write.set()
        self._task: asyncio.Task | None = None
        self._closed = False

    # --- asyncssh callbacks -------------------------------------------------------------------

    def connection_made(self, chan: asyncssh.SSHServerChannel) -> None:
        self._chan = chan

    def pty_requested(self, term_type: str, term_size: tuple[int, int, int, int], term_modes) -> bool:
        self._term = term_type or "xterm"
        self._size = term_size
        return True

    def terminal_size_changed(self, width: int, height: int, pixwidth: int, pixheight: int) -> None:
        self._size = (width, height, pixwidth, pixheight)
        if self._master is not None:
            with contextlib.suppress(OSError):
                _set_window(self._master, self._size)  # the kernel sends SIGWINCH

    def shell_requested(self) -> bool:
        return True

    def exec_requested(self, command: str) -> bool:
        self._argv = [self._login.shell, "-c", command]
        return True

    def subsystem_requested(self, subsystem: str) -> bool:
        server = next((p for p in SFTP_SERVERS if os.access(p, os.X_OK)), None)
        if subsystem != "sftp" or server is None:
            return False
        self._argv = [server]
        self._term = None
        return True

    def session_started(self) -> None:
        self._task = self._tracker.spawn(self._run())

    def data_received(self, data: bytes, datatype) -> None:
        self._pending += data
        self._flush_input()

    def eof_received(self) -> bool:
        if self._term is not None:
            self._pending += b"\x04"  # a terminal's end of input is ^D
        else:
            self._input_eof = True
        self._flush_input()
        return True

    def signal_received(self, signal_name: str) -> None:
        signum = getattr(signal, f"SIG{signal_name.upper()}", None)
        if isinstance(signum, int) and self._proc is not None:
            with contextlib.suppress(OSError):
                os.killpg(self._proc.pid, signum)

    def break_received(self, msec: int) -> bool:
        return False

    def pause_writing(self) -> None:
        self._can_write.clear()
        self._watch_master(False)

    def resume_writing(self) -> None:
        self._can_write.set()
        self._watch_master(True)

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed = True
        self._can_write.set()
        if self._proc is not None and self._proc.returncode is None:
            self._tracker.spawn(self._hang_up(self._proc))
        elif self._proc is not None:
            # The command ended but may have left background jobs in its group: hang them up.
            with contextlib.suppress(OSError):
                os.killpg(self._proc.pid, signal.SIGHUP)
        self._close_master()

    # --- running the child --------------------------------------------------------------------

    async def _run(self) -> None:
        assert self._chan is not None
        env = self._login.environment(self._term, dict(self._chan.get_environment()))
        try:
            if self._term is not None:
                status = await self._run_on_pty(env)
            else:
                status = await self._run_on_pipes(env)
        except OSError as error:
            log.info("demo session could not start %s: %s", self._argv[0], error)
            if not self._closed:
                self._chan.write_stderr(f"demo device: cannot run {self._argv[0]}: {error}\r\n".encode())
                self._chan.exit(127)
            return
        if self._closed:
            return
        if status < 0:
            name = signal.Signals(-status).name[3:] if -status in signal.valid_signals() else "KILL"
            self._chan.exit_with_signal(name)
        else:
            self._chan.exit(status)

    async def _run_on_pty(self, env: dict[str, str]) -> int:
        master, slave = os.openpty()
        try:
            _set_window(slave, self._size)
            self._proc = await asyncio.create_subprocess_exec(
                *self._argv,
                stdin=slave,
                stdout=slave,
                stderr=slave,
                cwd=self._login.home,
                env=env,
                start_new_session=True,
                preexec_fn=_take_terminal,
            )
        except BaseException:
            os.close(master)
            raise
        finally:
            os.close(slave)
        os.set_blocking(master, False)
        self._master = master
        if self._closed:  # the client left while we were starting
            self._close_master()
            await self._hang_up(self._proc)
            return await self._proc.wait()
        self._watch_master(True)
        self._flush_input()
        status = await self._proc.wait()
        while self._master is not None and not self._master_eof and self._read_master():
            pass  # what the shell wrote just before it ended
        self._close_master()
        return status

    async def _run_on_pipes(self, env: dict[str, str]) -> int:
        self._proc = proc = await asyncio.create_subprocess_exec(
            *self._argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            cwd=self._login.home,
            env=env,
            start_new_session=True,
        )
        self._flush_input()
        assert proc.stdout is not None and proc.stderr is not None and self._chan is not None
        await asyncio.gather(self._pump(proc.stdout, self._chan.write), self._pump(proc.stderr, self._chan.write_stderr))
        return await proc.wait()

    async def _pump(self, reader: asyncio.StreamReader, write) -> None:
        while True:
            data = await reader.read(_READ_SIZE)
            if not data:
                return
            await self._can_write.wait()
            if self._closed:
                continue  # keep draining so the child never blocks on a full pipe
            write(data)

    @staticmethod
    async def _hang_up(proc: asyncio.subprocess.Process) -> None:
        """Like a terminal hang-up: SIGHUP the session's processes, SIGKILL them if they stay."""
        with contextlib.suppress(OSError):
            os.killpg(proc.pid, signal.SIGHUP)
            os.killpg(proc.pid, signal.SIGCONT)
        try:
            await asyncio.wait_for(proc.wait(), _HANGUP_GRACE)
        except asyncio.TimeoutError:
            pass
        with contextlib.suppress(OSError):
            os.killpg(proc.pid, signal.SIGKILL)

    # --- the PTY master and the child's input -------------------------------------------------

    def _watch_master(self, on: bool) -> None:
        if self._master is None or self._master_eof or on == self._reading:
            return
        loop = asyncio.get_event_loop()
        if on:
            loop.add_reader(self._master, self._read_master)
        else:
            loop.remove_reader(self._master)
        self._reading = on

    def _read_master(self) -> bool:
        """Move one chunk from the PTY to the client; False when nothing more is to be had now."""
        assert self._master is not None
        try:
            data = os.read(self._master, _READ_SIZE)
        except BlockingIOError:
            return False
        except OSError:  # EIO: every process let go of the terminal
            data = b""
        if not data:
            self._watch_master(False)
            self._master_eof = True
            return False
        if not self._closed and self._chan is not None:
            self._chan.write(data)
        return True

    def _close_master(self) -> None:
        if self._master is not None:
            self._watch_master(False)
            asyncio.get_event_loop().remove_writer(self._master)
            with contextlib.suppress(OSError):
                os.close(self._master)
            self._master = None

    def _flush_input(self) -> None:
        """Give pending client input to the child without blocking; pause the channel while
        the child is slow to read, resume when it caught up."""
        proc, chan = self._proc, self._chan
        if proc is None or chan is None:
            return  # not started yet; _run flushes once it is
        if self._master is not None:
            loop = asyncio.get_event_loop()
            loop.remove_writer(self._master)
            while self._pending:
                try:
                    written = os.write(self._master, self._pending)
                except BlockingIOError:
                    loop.add_writer(self._master, self._flush_input)
                    break
                except OSError:
                    self._pending.clear()
                    break
                del self._pending[:written]
            self._pause_input(len(self._pending) > _INPUT_LIMIT)
        elif proc.stdin is not None:
            if self._pending:
                with contextlib.suppress(OSError, RuntimeError):
                    proc.stdin.write(bytes(self._pending))
                self._pending.clear()
                if proc.stdin.transport.get_write_buffer_size() > _INPUT_LIMIT and not self._input_paused:
                    self._pause_input(True)
                    asyncio.ensure_future(self._resume_after_drain(proc.stdin))
            if self._input_eof and not self._eof_sent:
                self._eof_sent = True
                with contextlib.suppress(OSError, RuntimeError):
                    proc.stdin.write_eof()

    def _pause_input(self, pause: bool) -> None:
        if self._chan is None or pause == self._input_paused or self._closed:
            return
        self._input_paused = pause
        if pause:
            self._chan.pause_reading()
        else:
            self._chan.resume_reading()

    async def _resume_after_drain(self, stdin: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, ConnectionError):
            await stdin.drain()
        self._pause_input(False)
