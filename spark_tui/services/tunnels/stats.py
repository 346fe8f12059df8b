"""Tunnel stats at a steady rate: rates from counter samples, published only when they change.

:class:`StatsTicker` wakes every interval, has each tunnel's :class:`~spark_tui.services.tunnels.counters.Traffic`
collect what the kernel counted for OpenSSH-carried connections, turns the counters into
rates, and calls ``on_stats`` with a snapshot of every tunnel when anything but uptime changed
(and once more after it stops changing). Never per packet.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from typing import Protocol

from spark_tui.core.models import TunnelStats
from spark_tui.services.event_loop import cancel_and_wait
from spark_tui.services.tunnels.counters import Traffic

log = logging.getLogger(__name__)

StatsCallback = Callable[[tuple[TunnelStats, ...]], None]


class Sampled(Protocol):
    """What the ticker needs of a tunnel: its counters, and room for its rates."""

    traffic: Traffic
    rate_up: float
    rate_down: float
    sampled: tuple[float, int, int]


class StatsTicker:
    """Publishes a tunnel service's stats every ``interval`` seconds while they change.

    Args:
        tunnels: The tunnels to sample (called every tick).
        snapshot: Every tunnel's stats now.
        on_stats: Receives the snapshots; ``None`` only computes rates.
        interval: Seconds between ticks.
        name: Task name, for debugging.
    """

    def __init__(
        self,
        tunnels: Callable[[], Iterable[Sampled]],
        snapshot: Callable[[], tuple[TunnelStats, ...]],
        on_stats: StatsCallback | None,
        interval: float,
        name: str,
    ) -> None:
        self._tunnels = tunnels
        self._snapshot = snapshot
        self._on_stats = on_stats
        self._interval = interval
        self._name = name
        self._task: asyncio.Task | None = None
        self._published: tuple | None = None

    def ensure(self) -> None:
        """Start ticking (once)."""
        if self._task is None:
            self._task = asyncio.create_task(self._tick(), name=self._name)

    async def stop(self) -> None:
        """Stop ticking and publish a last snapshot."""
        task, self._task = self._task, None
        await cancel_and_wait(task)
        self.publish(force=True)

    async def _tick(self) -> None:
        last = time.monotonic()
        while True:
            await asyncio.sleep(self._interval)
            now = time.monotonic()
            elapsed = max(now - last, 1e-6)
            last = now
            for tunnel in self._tunnels():
                _, up, down = tunnel.sampled
                traffic = tunnel.traffic
                traffic.poll()
                tunnel.rate_up = (traffic.up - up) / elapsed
                tunnel.rate_down = (traffic.down - down) / elapsed
                tunnel.sampled = (now, traffic.up, traffic.down)
            self.publish()

    def publish(self, force: bool = False) -> None:
        """Call ``on_stats`` when something other than uptime changed since the last call."""
        if self._on_stats is None:
            return
        snapshot = self._snapshot()
        key = tuple(
            (s.spec.name, s.state, s.local_port, s.connections, s.total_connections, s.bytes_up,
             s.bytes_down, s.rate_up, s.rate_down, s.last_error)
            for s in snapshot
        )
        if force or key != self._published:
            self._published = key
            try:
                self._on_stats(snapshot)
            except Exception:  # a broken listener must not stop the tunnels
                log.exception("on_stats callback failed")
