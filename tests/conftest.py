"""Shared fixtures: isolated folders, a real OpenSSH sshd, and asyncssh's own server."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.sshd_server import Sshd, SshdUnavailable


BOTH_LOOPS = {"test_tunnels.py", "test_tunnel_faults.py", "test_tunnels_openssh.py", "test_shell_session.py"}
"""Modules whose async tests run twice: on asyncio's loop and on uvloop, the loop the product
runs on (``services/event_loop.py``), whose transports pause and buffer in their own way."""


def pytest_asyncio_loop_factories(config: pytest.Config, item: pytest.Item):
    import asyncio

    if item.path.name not in BOTH_LOOPS:
        return {"asyncio": asyncio.new_event_loop}
    import uvloop

    return {"asyncio": asyncio.new_event_loop, "uvloop": uvloop.new_event_loop}


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--run-slow", action="store_true", help="also run the long variants (marked slow)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Long variants (``@pytest.mark.slow``) are opt-in: deselected unless --run-slow or
    SPARK_TUI_RUN_SLOW=1. Their short siblings always run."""
    if config.getoption("--run-slow") or os.environ.get("SPARK_TUI_RUN_SLOW"):
        return
    slow = [item for item in items if item.get_closest_marker("slow")]
    if slow:
        config.hook.pytest_deselected(items=slow)
        items[:] = [item for item in items if not item.get_closest_marker("slow")]


@pytest.fixture(autouse=True)
def isolated_folders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point every folder spark-tui may write (config, data, state) at the test's tmp_path."""
    home = tmp_path / "xdg"
    for var, sub in (("XDG_CONFIG_HOME", "config"), ("XDG_DATA_HOME", "data"), ("XDG_STATE_HOME", "state"), ("XDG_CACHE_HOME", "cache")):
        monkeypatch.setenv(var, str(home / sub))
    monkeypatch.delenv("SPARK_TUI_CONFIG", raising=False)
    monkeypatch.delenv("NO_COLOR", raising=False)
    return home


def _start_sshd(root: Path, extra_config: str = "") -> Sshd:
    try:
        server = Sshd(root, extra_config=extra_config)
        server.start()
    except SshdUnavailable as error:
        pytest.fail(str(error), pytrace=False)
    return server


@pytest.fixture(scope="session")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sshd]:
    """One real OpenSSH sshd on 127.0.0.1 shared by the session's tests that only read from it.

    Tests that stop, pause or re-key the server use ``sshd_factory`` for a private one.
    """
    server = _start_sshd(tmp_path_factory.mktemp("sshd"))
    yield server
    server.close()


@pytest.fixture
def sshd_factory(tmp_path: Path) -> Iterator[Callable[..., Sshd]]:
    """Start private sshd instances (``sshd_factory(extra_config="...")``); all stopped after."""
    started: list[Sshd] = []

    def start(extra_config: str = "") -> Sshd:
        server = _start_sshd(tmp_path / f"sshd{len(started)}", extra_config)
        started.append(server)
        return server

    yield start
    for server in started:
        server.close()


class AsyncsshServer:
    """asyncssh's own server on 127.0.0.1:0, for tests where the server must misbehave.

    Attributes:
        port: Listening port.
        client_key: Path of a private key the server accepts.
        known_hosts: A known_hosts file trusting the server's host key.
        host_key: The server's private host key object.
    """

    def __init__(self, root: Path) -> None:
        import asyncssh

        root.mkdir(parents=True, exist_ok=True)
        self.root = root
        self.host = "127.0.0.1"
        self.host_key = asyncssh.generate_private_key("ssh-ed25519")
        client = asyncssh.generate_private_key("ssh-ed25519")
        self.client_key = root / "client_ed25519"
        client.write_private_key(self.client_key)
        os.chmod(self.client_key, 0o600)
        self.authorized = asyncssh.import_authorized_keys(client.export_public_key().decode())
        self.listener = None
        self.port = 0
        self.known_hosts = root / "known_hosts"

    async def start(self, **options) -> AsyncsshServer:
        """Listen with asyncssh.listen(**options) (server_factory, process_factory, ...)."""
        import asyncssh

        options.setdefault("authorized_client_keys", self.authorized)
        self.listener = await asyncssh.listen(self.host, self.port, server_host_keys=[self.host_key], **options)
        self.port = self.listener.sockets[0].getsockname()[1]
        pub = self.host_key.export_public_key().decode().split()
        self.known_hosts.write_text(f"[{self.host}]:{self.port} {pub[0]} {pub[1]}\n")
        return self

    def connect_options(self) -> dict:
        """Keyword arguments for asyncssh.connect() that reach this server with the client key."""
        return {
            "host": self.host,
            "port": self.port,
            "username": "tester",
            "client_keys": [str(self.client_key)],
            "known_hosts": str(self.known_hosts),
        }

    async def stop(self) -> None:
        if self.listener is not None:
            self.listener.close()
            await self.listener.wait_closed()
            self.listener = None


@pytest.fixture
async def asyncssh_server(tmp_path: Path):
    """Factory for asyncssh servers: ``server = await asyncssh_server(process_factory=...)``."""
    servers: list[AsyncsshServer] = []

    async def start(**options) -> AsyncsshServer:
        server = AsyncsshServer(tmp_path / f"asyncssh{len(servers)}")
        servers.append(server)
        return await server.start(**options)

    yield start
    for server in servers:
        await server.stop()


def _terminal_cores() -> list[str]:
    """Every terminal core that runs here: both where pyghostty's wheel installs."""
    from spark_tui.widgets.terminal.core import native_problem

    return ["python"] if native_problem() is not None else ["python", "native"]


@pytest.fixture(params=_terminal_cores())
def terminal_core(request: pytest.FixtureRequest) -> str:
    """The name of a terminal core: tests taking it run once on each core."""
    return request.param


@pytest.fixture
def make_term(terminal_core: str) -> Callable[..., object]:
    """``make_term(cols, rows, **options)``: a terminal on each core in turn."""
    from spark_tui.widgets.terminal.core import make_terminal

    def make(cols: int = 80, rows: int = 24, **options: object) -> object:
        return make_terminal(cols, rows, core=terminal_core, **options)

    return make
