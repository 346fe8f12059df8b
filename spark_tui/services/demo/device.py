"""The embedded demo device: a stand-in DGX Spark on this computer's loopback.

:class:`DemoDevice` runs, inside this process, everything the dashboard needs from a Spark:
an SSH server with real shells and port forwarding, an ``nvidia-smi`` that answers like a GB10,
the DGX Dashboard and JupyterLab as two small web pages, and an mDNS advertisement of
``spark-demo`` bound to 127.0.0.1. :class:`DemoDeviceThread` runs it on its own event loop in a
daemon thread, so it never depends on the dashboard's loop.

Keys are made per run, so the demo needs no trust decisions: :meth:`DemoDevice.known_hosts_line`
is the host key a client can trust outright, and the client key is written 0600 into the
working folder. The demo password is random per run, never written to disk, and valid until
the device stops (or for one login with ``single_use_password=True``).

Demo sessions run with ``HOME`` set to ``<workdir>/home``: key set-up done through the demo
(``~/.ssh/authorized_keys``) lands there, never in the user's real home.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import getpass
import logging
import os
import pwd
import secrets
import socket
import threading
from pathlib import Path
from types import TracebackType

import asyncssh

from spark_tui.config.trust import make_private_folder
from spark_tui.core.models import LOOPBACK, DeviceProfile, TunnelSpec
from spark_tui.services.demo import fake_nvidia_smi
from spark_tui.services.demo.advertise import DemoAdvertisement
from spark_tui.services.demo.login import DemoLogin
from spark_tui.services.demo.shell_server import DemoServer, SessionTracker
from spark_tui.services.demo.web import DemoWebService, dashboard_service, jupyter_service

log = logging.getLogger(__name__)

DEMO_NAME = "spark-demo"
_BASHRC = "# spark-tui demo device: this HOME belongs to the demo, not to you.\nPS1='\\u@spark-demo:\\w\\$ '\n"


def _free_local_ports(count: int) -> list[int]:
    """``count`` distinct TCP ports on 127.0.0.1 that were free a moment ago."""
    with contextlib.ExitStack() as stack:
        ports = []
        for _ in range(count):
            sock = stack.enter_context(socket.socket())
            sock.bind((LOOPBACK, 0))
            ports.append(sock.getsockname()[1])
        return ports


def _local_user() -> tuple[str, str]:
    """The local user's name and login shell."""
    try:
        entry = pwd.getpwuid(os.getuid())
        return entry.pw_name, entry.pw_shell or "/bin/sh"
    except KeyError:
        return getpass.getuser(), os.environ.get("SHELL", "/bin/sh")


class DemoDevice:
    """A stand-in DGX Spark on loopback. Start it with :meth:`start`, end it with :meth:`stop`.

    Args:
        workdir: A folder the demo may fill (keys, demo home, the ``nvidia-smi`` stand-in);
            created 0700 when missing. The caller removes it.
        advertise: Announce ``spark-demo`` over mDNS on 127.0.0.1.
        single_use_password: The password works for one login only (the default); ``False``
            keeps it for the run (still dropped after five wrong tries or once a key installed
            with it logs in).

    Attributes (valid after :meth:`start`):
        host: ``127.0.0.1``.
        port: The SSH port.
        user: The login name (the local user's).
        client_key_path: Private key the server accepts (0600), ``.pub`` next to it.
        password: The one-run demo password.
        host_public_key: The host key as ``ssh-ed25519 AAAA...``.
        host_key_fingerprint: ``SHA256:...``.
        dashboard_port: Port of the "DGX Dashboard" page (the tunnel's remote port).
        jupyter_port: Port of the "JupyterLab" page.
        local_ports: Free local ports chosen for the profile's two tunnels (the remote port
            numbers are taken on this computer by the pages themselves).
        home: ``HOME`` of the demo's sessions.
        mdns_instance: The advertised instance name; ``""`` until :meth:`advertised` returns,
            or when not advertised.
        mdns_error: Why advertising failed, or ``""`` (the device works without it).
    """

    def __init__(self, workdir: Path, *, advertise: bool = True, single_use_password: bool = True) -> None:
        self.workdir = Path(workdir)
        self.advertise = advertise
        self.single_use_password = single_use_password
        self.host = LOOPBACK
        self.port = 0
        self.user, self.shell = _local_user()
        self.client_key_path = self.workdir / "client_ed25519"
        self.password = ""
        self.host_public_key = ""
        self.host_key_fingerprint = ""
        self.dashboard_port = 0
        self.jupyter_port = 0
        self.local_ports: tuple[int, int] = (0, 0)
        self.home = self.workdir / "home"
        self.bin_dir = self.workdir / "bin"
        self.mdns_instance = ""
        self.mdns_error = ""
        self.login: DemoLogin | None = None
        self._listener: asyncssh.SSHAcceptor | None = None
        self._tracker = SessionTracker()
        self._web: list[DemoWebService] = []
        self._advert: DemoAdvertisement | None = None
        self._advert_task: asyncio.Task | None = None

    async def start(self) -> None:
        """Make keys, start the web pages, the SSH server and the advertisement.

        Raises:
            OSError: The working folder cannot be written or a port cannot be bound.
        """
        try:
            await self._start()
        except BaseException:
            await self.stop()
            raise

    async def _start(self) -> None:
        make_private_folder(self.workdir)
        os.chmod(self.workdir, 0o700)  # it holds a private key
        host_key = asyncssh.generate_private_key("ssh-ed25519", comment="spark-demo host key")
        self.host_public_key = " ".join(host_key.export_public_key("openssh").decode().split()[:2])
        self.host_key_fingerprint = host_key.get_fingerprint("sha256")
        client_key = self._write_client_key()
        self._prepare_home()
        fake_nvidia_smi.install(self.bin_dir)
        self.password = secrets.token_urlsafe(12)
        self.login = DemoLogin(
            user=self.user,
            shell=self.shell,
            home=self.home,
            bin_dir=self.bin_dir,
            client_keys=[client_key],
            password=self.password,
            single_use_password=self.single_use_password,
        )
        dashboard, jupyter = dashboard_service(), jupyter_service()
        self._web = [dashboard, jupyter]
        self.dashboard_port = await dashboard.start(self.host)
        self.jupyter_port = await jupyter.start(self.host)
        self.local_ports = tuple(_free_local_ports(2))
        login, tracker = self.login, self._tracker
        self._listener = await asyncssh.listen(
            self.host,
            0,
            server_factory=lambda: DemoServer(login, tracker),
            server_host_keys=[host_key],
            encoding=None,
            line_editor=False,
            agent_forwarding=False,
            x11_forwarding=False,
        )
        self.port = self._listener.sockets[0].getsockname()[1]
        if self.advertise:
            # Probing for a unique name takes about a second: do it in the background, as a
            # real device's Avahi would after boot. ``advertised()`` waits for it.
            self._advert_task = asyncio.ensure_future(self._advertise())

    async def _advertise(self) -> None:
        advert = DemoAdvertisement(DEMO_NAME, self.port)
        try:
            self.mdns_instance = await advert.start()
            self._advert = advert
        except asyncio.CancelledError:
            raise
        except Exception as error:  # the demo still works without mDNS
            self.mdns_error = f"{type(error).__name__}: {error}"
            log.warning("demo device not advertised over mDNS: %s", self.mdns_error)

    async def advertised(self) -> str:
        """Wait until the mDNS advertisement is up (or failed, or is off).

        Returns:
            The instance name registered, or ``""`` (see ``mdns_error``).
        """
        task = self._advert_task
        if task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.shield(task)
        return self.mdns_instance

    def _write_client_key(self) -> asyncssh.SSHKey:
        key = asyncssh.generate_private_key("ssh-ed25519", comment=f"spark-tui demo client {self.user}")
        path = self.client_key_path
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(key.export_private_key("openssh"))
        pub = path.with_name(path.name + ".pub")
        pub.write_bytes(key.export_public_key("openssh"))
        return key

    def _prepare_home(self) -> None:
        ssh_dir = self.home / ".ssh"
        make_private_folder(ssh_dir)
        for name, text in ((".bashrc", _BASHRC), (".zshrc", "PS1='%n@spark-demo:%~%# '\n")):
            target = self.home / name
            if not target.exists():
                target.write_text(text)

    async def stop(self) -> None:
        """Withdraw the advertisement, stop the SSH server (closing its sessions) and the pages.

        Safe to call more than once and after a failed :meth:`start`.
        """
        task, self._advert_task = self._advert_task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        advert, self._advert = self._advert, None
        if advert is not None:
            with contextlib.suppress(Exception):
                await advert.stop()
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(listener.wait_closed(), 5.0)
        await self._tracker.close_all()
        web, self._web = self._web, []
        for service in web:
            await service.stop()

    @property
    def running(self) -> bool:
        """True between a successful :meth:`start` and :meth:`stop`."""
        return self._listener is not None

    def profile(self) -> DeviceProfile:
        """The demo as a saved device: key login, tagged ``demo``, with its two web tunnels."""
        return DeviceProfile(
            name=DEMO_NAME,
            host=self.host,
            user=self.user,
            port=self.port,
            identity_file=str(self.client_key_path),
            tags=("demo",),
            tunnels=(
                TunnelSpec(  # starts on connect, so the Tunnels pane has something live at once
                    name="dashboard", remote_port=self.dashboard_port, local_port=self.local_ports[0], browser_path="/", auto_start=True,
                    remote_host="127.0.0.1",  # where the demo's pages listen (not ::1)
                ),
                TunnelSpec(
                    name="jupyter", remote_port=self.jupyter_port, local_port=self.local_ports[1], browser_path="/lab",
                    remote_host="127.0.0.1",
                ),
            ),
            demo=True,
        )

    def known_hosts_line(self) -> str:
        """The OpenSSH ``known_hosts`` line trusting this run's host key at ``[127.0.0.1]:PORT``."""
        return f"[{self.host}]:{self.port} {self.host_public_key}"

    def ssh_command(self, known_hosts_file: Path | str) -> str:
        """A ready-to-paste ``ssh`` command that logs in with the demo key and trusts the host."""
        return (
            f"ssh -i {self.client_key_path} -p {self.port} -o UserKnownHostsFile={known_hosts_file} "
            f"-o StrictHostKeyChecking=yes {self.user}@{self.host}"
        )


class DemoDeviceThread:
    """Run a :class:`DemoDevice` on its own event loop in a daemon thread.

    Use as a context manager; entering returns the started device::

        with DemoDeviceThread(folder) as device:
            print(device.port)

    Args:
        workdir: As for :class:`DemoDevice`.
        startup_timeout: Seconds to wait for the device to come up.
        **options: Passed to :class:`DemoDevice`.
    """

    def __init__(self, workdir: Path, *, startup_timeout: float = 30.0, **options) -> None:
        self.device = DemoDevice(workdir, **options)
        self.startup_timeout = startup_timeout
        self.loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    def start(self) -> DemoDevice:
        """Start the thread and wait until the device is ready.

        Returns:
            The running device.

        Raises:
            OSError: The device could not start (re-raised from its thread).
            TimeoutError: It did not come up within ``startup_timeout``.
        """
        self._thread = threading.Thread(target=self._main, name="spark-demo-device", daemon=True)
        self._thread.start()
        if not self._ready.wait(self.startup_timeout):
            self.stop()
            raise TimeoutError(f"the demo device did not start within {self.startup_timeout:g} s")
        if self._error is not None:
            self._thread.join(5)
            raise self._error
        return self.device

    def wait_advertised(self, timeout: float = 15.0) -> str:
        """Block until the device's mDNS advertisement is up; returns its instance name or ``""``.

        Raises:
            TimeoutError: Not settled within ``timeout`` seconds.
            RuntimeError: The device is not running.
        """
        if self.loop is None or not self.device.running:
            raise RuntimeError("the demo device is not running")
        future = asyncio.run_coroutine_threadsafe(self.device.advertised(), self.loop)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError as error:
            future.cancel()
            raise TimeoutError(f"no mDNS advertisement within {timeout:g} s") from error

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the device and its loop, and wait for the thread (at most ``timeout`` s)."""
        loop, thread = self.loop, self._thread
        if loop is not None and thread is not None and thread.is_alive():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout)

    def __enter__(self) -> DemoDevice:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()

    def _main(self) -> None:
        loop = asyncio.new_event_loop()
        self.loop = loop
        asyncio.set_event_loop(loop)
        try:
            try:
                loop.run_until_complete(self.device.start())
            except BaseException as error:  # handed to the starting thread
                self._error = error
                return
            finally:
                self._ready.set()
            loop.run_forever()
            loop.run_until_complete(self.device.stop())
        finally:
            with contextlib.suppress(Exception):
                loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()
