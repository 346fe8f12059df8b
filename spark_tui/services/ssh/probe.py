"""Is the device up? A TCP connect plus the SSH banner line, and a gentle periodic prober.

A probe never authenticates and never sends anything: it connects, reads at most a few lines of
at most 255 bytes each (RFC 4253 allows text before the ``SSH-`` line), and closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import random
import time
from collections.abc import Callable, Mapping

from spark_tui.core.devices import ProbeResult

log = logging.getLogger(__name__)

MAX_LINE = 255  # RFC 4253: the identification line is at most 255 bytes including CR LF
MAX_LINES = 8  # lines before the SSH- line that we tolerate
__all__ = ["ProbeResult", "Prober", "probe_ssh"]


def _describe(error: BaseException) -> str:
    if isinstance(error, ConnectionRefusedError):
        return "connection refused"
    if isinstance(error, (TimeoutError, asyncio.TimeoutError)):
        return "timed out"
    if isinstance(error, OSError) and error.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH):
        return "no route to host"
    if isinstance(error, OSError) and error.strerror:
        return error.strerror.lower()
    return type(error).__name__


async def _read_banner(reader: asyncio.StreamReader) -> tuple[str, str]:
    """(banner, error) from the first lines the server sends."""
    for _ in range(MAX_LINES):
        try:
            raw = await reader.readuntil(b"\n")
        except asyncio.LimitOverrunError:
            return "", "banner line too long"
        except asyncio.IncompleteReadError as partial:
            raw = partial.partial
            if not raw:
                return "", "closed before sending an SSH banner"
        line = raw[:MAX_LINE].decode("ascii", errors="replace").rstrip("\r\n")
        if line.startswith("SSH-"):
            return line, ""
        if not raw.endswith(b"\n"):
            return "", "closed before sending an SSH banner"
    return "", "no SSH banner in the first lines"


async def probe_ssh(host: str, port: int = 22, timeout: float = 3.0) -> ProbeResult:
    """Connect to ``host:port``, read the SSH banner, close.

    Args:
        host: Name or address.
        port: TCP port.
        timeout: Seconds for connect and banner together.

    Returns:
        ``reachable`` is True when the TCP connect succeeded (even if what answered is not an
        SSH server: then ``banner`` is empty and ``error`` says why). Never raises for network
        failures; they come back in ``error``.

    Raises:
        ValueError: For a port outside 1-65535 or a non-positive timeout.
    """
    if not 0 < port < 65536:
        raise ValueError(f"port must be 1-65535, got {port}")
    if timeout <= 0:
        raise ValueError(f"timeout must be positive, got {timeout}")
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    started = time.perf_counter()
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection(host, port, limit=MAX_LINE + 1)
    except Exception as error:  # noqa: BLE001 - every failure is a result, not an exception
        return ProbeResult(reachable=False, error=_describe(error))
    latency_ms = (time.perf_counter() - started) * 1000.0
    try:
        async with asyncio.timeout(max(0.01, deadline - loop.time())):
            banner, error = await _read_banner(reader)
    except (TimeoutError, asyncio.TimeoutError):
        banner, error = "", "no SSH banner before the timeout"
    except OSError as exc:
        banner, error = "", _describe(exc)
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(writer.wait_closed(), 1.0)
    return ProbeResult(reachable=True, latency_ms=latency_ms, banner=banner, error=error)


Target = tuple[str, int]


class Prober:
    """Probes a changing set of targets, each every ``interval`` seconds, a few at a time.

    Runs as one task on the caller's event loop (call :meth:`start` from inside it, e.g. from
    a Textual app's ``on_mount``). Results go to ``on_result(key, result)`` on that loop.

    Args:
        on_result: Gets each result with the target's key.
        interval: Seconds between two probes of the same target (jittered by +-10 %).
        concurrency: Probes in flight at once.
        timeout: Seconds per probe.
    """

    def __init__(
        self,
        on_result: Callable[[str, ProbeResult], None],
        *,
        interval: float = 12.0,
        concurrency: int = 4,
        timeout: float = 3.0,
    ) -> None:
        if interval <= 0 or concurrency < 1:
            raise ValueError("interval must be positive and concurrency at least 1")
        self._on_result = on_result
        self.interval = interval
        self.timeout = timeout
        self._targets: dict[str, Target] = {}
        self._due: dict[str, float] = {}
        self._semaphore = asyncio.Semaphore(concurrency)
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._running: set[asyncio.Task] = set()
        self.probes_done = 0

    def set_targets(self, targets: Mapping[str, Target]) -> None:
        """Replace the probed set. New or changed targets are probed at once; gone ones stop."""
        now = time.monotonic()
        for key, target in targets.items():
            if self._targets.get(key) != target:
                self._due[key] = now
        for key in set(self._targets) - set(targets):
            self._due.pop(key, None)
        self._targets = dict(targets)
        self._wake.set()

    def probe_now(self, key: str) -> None:
        """Probe ``key`` as soon as a slot is free (for a "refresh" key)."""
        if key in self._targets:
            self._due[key] = time.monotonic()
            self._wake.set()

    def start(self) -> None:
        """Start the probing task on the running loop.

        Raises:
            RuntimeError: Without a running loop, or when already started.
        """
        if self._task is not None:
            raise RuntimeError("Prober already started")
        self._task = asyncio.get_running_loop().create_task(self._run(), name="spark-tui-prober")

    async def close(self) -> None:
        """Stop probing and wait for probes in flight to be cancelled."""
        tasks = [t for t in (self._task, *self._running) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._task = None

    async def _run(self) -> None:
        while True:
            now = time.monotonic()
            for key, due in list(self._due.items()):
                if due <= now and key in self._targets:
                    self._due[key] = float("inf")  # in flight
                    task = asyncio.create_task(self._probe(key, self._targets[key]))
                    self._running.add(task)
                    task.add_done_callback(self._running.discard)
            waits = [d for d in self._due.values() if d != float("inf")]
            delay = max(0.05, min(waits) - time.monotonic()) if waits else None
            self._wake.clear()
            with contextlib.suppress(TimeoutError, asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), delay)

    async def _probe(self, key: str, target: Target) -> None:
        async with self._semaphore:
            try:
                result = await probe_ssh(target[0], target[1], self.timeout)
            except ValueError as error:
                result = ProbeResult(reachable=False, error=str(error))
        self.probes_done += 1
        if self._targets.get(key) == target:
            jitter = random.uniform(-0.1, 0.1) * self.interval
            self._due[key] = time.monotonic() + self.interval + jitter
            try:
                self._on_result(key, result)
            except Exception:  # noqa: BLE001 - a failing consumer must not stop probing
                log.exception("probe: on_result callback failed")
        self._wake.set()
