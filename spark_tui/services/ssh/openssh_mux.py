"""OpenSSH as the data path of local forwards: a control master, and sockets handed to it.

A relay in Python costs about twice OpenSSH's round trip on these machines, whatever we trim
(see ``benchmarks/bench_tunnels.py``), so for local (``-L``) forwards the bytes do not pass
through Python at all. The tunnel service keeps its own listener (the port stays bound during
a reconnect, connections wait for the link, counts stay ours) and hands each accepted socket
to an ``ssh -M`` control master over its Unix control socket: the mux protocol's stdio forward
(the request behind ``ssh -W``, ``PROTOCOL.mux`` section 3), with the socket passed as both
stdin and stdout by ``SCM_RIGHTS``. From then on the master pumps it to a direct-tcpip channel
in C. We keep our own descriptor of the socket only to read the kernel's byte counters
(:mod:`spark_tui.services.tunnels.counters`) and to close it when the master is done with it.

The master logs in with the device's key and checks the host key against our known_hosts
(``HostKeyAlias`` = the entry asyncssh trusted), never asking anything (``BatchMode``); any
failure leaves the tunnels on asyncssh, which stays the control path (auth, trust on first
use, reconnects, -R, -D, and every connection the master cannot take).
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import socket
import stat
import struct
from pathlib import Path
from typing import TYPE_CHECKING

from spark_tui.services.ssh.mux_wire import (
    MUX_C_NEW_STDIO_FWD,
    MUX_MSG_HELLO,
    MUX_S_FAILURE,
    MUX_S_PERMISSION_DENIED,
    MUX_S_SESSION_OPENED,
    MUX_VERSION,
    MuxError,
    MuxRefused,
    MuxSession,
    failure_reason,
    packet,
    read_message,
    send_fd,
    string,
    u32,
)
from spark_tui.services.owned_folders import make_owned_folder
from spark_tui.services.ssh.master_process import Spawned, child_setup
from spark_tui.services.ssh.openssh_words import openssh_word

if TYPE_CHECKING:  # asyncio is imported where used: a copy spawns its master (:meth:`OpenSSHMaster.spawn`)
    import asyncio  # before asyncio and the rest of the program are loaded
    import subprocess

log = logging.getLogger(__name__)

HANDOFFS_IN_FLIGHT = 32
"""Control connections being set up at once: below the master's accept queue of 64, so a burst
of clients never meets a full queue (a refused non-blocking Unix connect)."""
CIPHERS = ",".join((
    "aes128-gcm@openssh.com", "aes256-gcm@openssh.com", "chacha20-poly1305@openssh.com",
    "aes128-ctr", "aes192-ctr", "aes256-ctr",
))
"""OpenSSH's default ciphers with AES-GCM first: laptops and the Spark's Grace CPU have AES
instructions, and there AES-128-GCM costs about half of ChaCha20-Poly1305 per byte (OpenSSL
here: 3.8 vs 2.1 GB/s on 16 KiB blocks), on both ends of the link. The same order asyncssh gets."""
class OpenSSHMaster:
    """An ``ssh -M -N`` process to one device, and the client side of its mux protocol.

    Args:
        address: Where to connect (the address the asyncssh connection reached).
        port: The device's SSH port.
        user: Login name.
        host_key_alias: The known_hosts name the device's key is trusted under
            (``host`` or ``[host]:port``), so the master checks the very key asyncssh did.
        known_hosts: Our known_hosts file.
        identity_file: The device's private key; ``None`` lets ssh use the agent and its
            default keys.
        ssh: The ssh program.
    """

    def __init__(
        self,
        address: str,
        port: int,
        user: str,
        *,
        host_key_alias: str,
        known_hosts: Path,
        identity_file: str | None = None,
        ssh: str = "ssh",
    ) -> None:
        self._dir = make_owned_folder()
        self.control_path = str(self._dir / "mux")  # short: Unix socket paths stop at ~104 bytes
        # The folder is held open: every control connection goes through this descriptor
        # (/proc/self/fd/N/mux), so a folder someone recreated under the same name is never used.
        self._dir_fd = os.open(self._dir, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_NOFOLLOW", 0))
        self._dir_id = _identity(os.fstat(self._dir_fd))
        argv = [
            ssh, "-F", "/dev/null", "-N", "-T", "-M", "-S", self.control_path,
            "-o", "ControlPersist=no", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes",
            "-o", f"UserKnownHostsFile={openssh_word(str(known_hosts))}", "-o", "GlobalKnownHostsFile=/dev/null",
            "-o", f"HostKeyAlias={host_key_alias}", "-o", "CheckHostIP=no", "-o", "UpdateHostKeys=no",
            "-o", "ServerAliveInterval=5", "-o", "ServerAliveCountMax=4", "-o", "ConnectTimeout=15",
            "-o", "ClearAllForwardings=yes", "-o", "ForwardAgent=no", "-o", "ForwardX11=no",
            "-o", "PermitLocalCommand=no", "-o", "LogLevel=ERROR", "-o", f"Ciphers={CIPHERS}",
        ]
        if identity_file:
            # -o, not -i: ssh checks an -i path literally but later expands its %-tokens, so a
            # literal % can only get through as %% in an IdentityFile option (quoted as OpenSSH splits it)
            key = openssh_word(str(Path(identity_file).expanduser()))
            argv += ["-o", "IdentitiesOnly=yes", "-o", "IdentityAgent=none", "-o", f"IdentityFile={key}"]
        self.argv = [*argv, "-p", str(port), "-l", user, "--", address]
        self._process: asyncio.subprocess.Process | Spawned | None = None
        self._spawned: subprocess.Popen | None = None
        self._gate: asyncio.Semaphore | None = None
        self._requests = 0
        self._closed = False

    @property
    def alive(self) -> bool:
        """True while the master runs and takes connections."""
        return self._process is not None and self._process.returncode is None and not self._closed

    def spawn(self) -> None:
        """Run the master now, with no event loop yet: a copy calls it as soon as it knows the
        device, before asyncio and the rest of the program load (measured: the login starts
        ~0.02 s sooner). :meth:`start` then waits for it as for one it runs itself.

        Raises:
            OSError: ssh could not be run.
        """
        import subprocess

        with (self._dir / "ssh.log").open("wb") as errors:
            self._spawned = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                             stderr=errors, preexec_fn=child_setup)

    async def start(self, timeout: float = 20.0) -> None:
        """Run the master (or take the one :meth:`spawn` ran) and wait until its control socket
        answers.

        Raises:
            MuxError: ssh exited (its last error line is in the message) or took too long.
        """
        import asyncio

        log_path = self._dir / "ssh.log"  # a file, not a pipe: nothing of it outlives the loop
        if self._spawned is not None:
            self._process = Spawned(self._spawned)
        else:
            with log_path.open("wb") as errors:
                self._process = await asyncio.create_subprocess_exec(
                    *self.argv,
                    stdin=asyncio.subprocess.DEVNULL,
                    stdout=asyncio.subprocess.DEVNULL,
                    stderr=errors,
                    preexec_fn=child_setup,
                )
        exited = asyncio.ensure_future(self._process.wait())
        try:
            async with asyncio.timeout(timeout):
                while not exited.done():
                    if os.path.exists(self.control_path) and await self._answers():
                        return
                    # The socket appears once the login is done: looked for every 5 ms, as a
                    # copy's first bytes wait for it (a stat each time; 20 ms cost 10 on average).
                    await asyncio.wait({exited}, timeout=0.005)
        except BaseException as error:  # timed out or cancelled: no ssh is left running
            await self.close()
            if isinstance(error, TimeoutError):
                raise MuxError(f"ssh did not log in within {timeout:g}s") from None
            raise
        finally:
            if not exited.done():
                exited.cancel()
        lines = [line for line in log_path.read_text(errors="replace").splitlines() if line.strip()]
        await self.close()
        raise MuxError(lines[-1] if lines else f"ssh exited with status {self._process.returncode}")

    async def _answers(self) -> bool:
        import asyncio

        loop = asyncio.get_running_loop()
        try:
            control = await self._connect()
        except (OSError, MuxError):
            return False
        with control:
            try:
                await loop.sock_sendall(control, packet(u32(MUX_MSG_HELLO), u32(MUX_VERSION)))
                kind, _ = await read_message(loop, control)
            except (OSError, MuxError):
                return False
        return kind == MUX_MSG_HELLO

    async def wait_closed(self) -> None:
        """Return when the master process has exited."""
        if self._process is not None:
            await self._process.wait()

    async def forward(self, sock: socket.socket, host: str, port: int) -> MuxSession:
        """Hand ``sock`` to the master, to be joined to ``host:port`` on the device.

        ``sock`` stays ours too: close it after :meth:`MuxSession.wait_closed`.

        Raises:
            MuxRefused: The master says no (the device refused the channel, ...); nothing was
                read from ``sock``.
            MuxError: The master is gone or broke the protocol.
        """
        import asyncio

        if not self.alive:
            raise MuxError("the OpenSSH master is not running")
        loop = asyncio.get_running_loop()
        if self._gate is None:
            self._gate = asyncio.Semaphore(HANDOFFS_IN_FLIGHT)
        self._requests += 1
        request = self._requests
        control: socket.socket | None = None
        try:
            # Held until the master's hello shows it accepted us: never more than the gate's
            # worth of connections wait in its accept queue (64), which a burst would overflow.
            async with self._gate:
                control = await self._connect()
                await loop.sock_sendall(
                    control,
                    packet(u32(MUX_MSG_HELLO), u32(MUX_VERSION))
                    + packet(u32(MUX_C_NEW_STDIO_FWD), u32(request), string(b""), string(host.encode()), u32(port)),
                )
                for _ in range(2):  # the socket is the channel's stdin and its stdout
                    await send_fd(control, sock.fileno())
                kind, _ = await read_message(loop, control)
            if kind != MUX_MSG_HELLO:
                raise MuxError(f"unexpected first message {kind:#x} from the master")
            kind, body = await read_message(loop, control)
        except OSError as error:
            if control is not None:
                control.close()
            raise MuxError(f"control socket: {error.strerror or error}") from None
        except BaseException:
            if control is not None:
                control.close()
            raise
        if kind == MUX_S_SESSION_OPENED and len(body) >= 8:
            return MuxSession(control, struct.unpack_from(">I", body, 4)[0])
        control.close()
        if kind in (MUX_S_FAILURE, MUX_S_PERMISSION_DENIED):
            raise MuxRefused(failure_reason(body))
        raise MuxError(f"unexpected reply {kind:#x} from the master")

    def _checked_path(self) -> str:
        """The control socket's path through our held folder, after checking folder and socket.

        Whoever can connect to the master can open channels on the device as us, and whoever
        listens where we connect receives our tunnels' sockets: the folder must still be the
        one we made (same inode, ours, 0700) and the socket ours with no group/other access.

        Raises:
            MuxError: Something else is there; the caller carries the connection on asyncssh.
        """
        if self._dir_fd < 0:
            raise MuxError("the control folder is closed")
        held = os.fstat(self._dir_fd)
        try:
            named = os.lstat(self._dir)
        except OSError:
            raise MuxError(f"the control folder {self._dir} is gone") from None
        if _identity(named) != self._dir_id or _identity(held) != self._dir_id:
            raise MuxError(f"the control folder {self._dir} was replaced; not using it")
        if not stat.S_ISDIR(held.st_mode) or held.st_uid != os.geteuid() or stat.S_IMODE(held.st_mode) & 0o077:
            raise MuxError(f"the control folder {self._dir} is not ours alone (mode {stat.S_IMODE(held.st_mode):04o})")
        path = f"/proc/self/fd/{self._dir_fd}/mux" if os.path.isdir("/proc/self/fd") else self.control_path
        try:
            sock = os.lstat(path)
        except OSError:
            raise MuxError("the control socket is not there") from None
        if not stat.S_ISSOCK(sock.st_mode) or sock.st_uid != os.geteuid() or stat.S_IMODE(sock.st_mode) & 0o077:
            raise MuxError(f"the control socket is not ours alone (mode {stat.S_IMODE(sock.st_mode):04o}, uid {sock.st_uid})")
        return path

    def _check_peer(self, control: socket.socket) -> None:
        """The process at the other end must be our master (Linux: SO_PEERCRED)."""
        peercred = getattr(socket, "SO_PEERCRED", None)
        if peercred is None:
            return
        pid, uid, _ = struct.unpack("3i", control.getsockopt(socket.SOL_SOCKET, peercred, struct.calcsize("3i")))
        master = self._process.pid if self._process is not None else None
        if uid != os.geteuid() or (master is not None and pid != master):
            raise MuxError(f"the control socket is answered by process {pid} (uid {uid}), not our master")

    async def _connect(self) -> socket.socket:
        """A connected control socket, checked before and after connecting. A Unix connect
        either completes at once or finds the accept queue full (EAGAIN: try again shortly);
        it is never "in progress".

        Raises:
            MuxError: The folder or socket is not ours, or the master does not accept.
        """
        import asyncio

        for _ in range(400):
            path = self._checked_path()
            control = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            control.setblocking(False)
            try:
                control.connect(path)
                self._check_peer(control)
                return control
            except BlockingIOError:
                control.close()
                await asyncio.sleep(0.005)
            except BaseException:
                control.close()
                raise
        raise MuxError("the master does not accept control connections")

    async def close(self) -> None:
        """Stop the master (its connections end with it) and remove the control socket's folder."""
        import asyncio

        self._closed = True
        if self._process is None and self._spawned is not None:  # spawned, never started
            self._process = Spawned(self._spawned)
        process = self._process
        if process is not None and process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 5)
            except asyncio.TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()
        with contextlib.suppress(OSError):
            if _identity(os.lstat(self._dir)) == self._dir_id:  # ours, never one put in its place
                shutil.rmtree(self._dir, ignore_errors=True)
        if self._dir_fd >= 0:
            os.close(self._dir_fd)
            self._dir_fd = -1


def _identity(status: os.stat_result) -> tuple[int, int]:
    return (status.st_dev, status.st_ino)
