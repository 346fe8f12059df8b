"""What the dashboard may call on the services it is handed, as Protocols.

The app depends on these shapes, not on the classes behind them: the mDNS browser
(``services.discovery.DiscoveryService``) and the reachability prober
(``services.ssh.Prober``) are made by factories the CLI passes in, so the app never imports
zeroconf, and a test or a benchmark can pass another discovery (a real browser on a quiet
service type, on loopback). Plain typing only: importing this module loads no textual,
asyncssh or zeroconf.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Protocol

from spark_tui.core.device_listing import DiscoveryStats
from spark_tui.core.devices import ProbeResult
from spark_tui.core.models import DiscoveredService

SnapshotCallback = Callable[[tuple[DiscoveredService, ...]], None]
"""Called (from any thread) with every service discovery currently knows."""

ProbeCallback = Callable[[str, ProbeResult], None]
"""Called on the event loop with a row key and its latest reachability."""


class DeviceDiscovery(Protocol):
    """The mDNS browser as the app drives it."""

    def start(self) -> None:
        """Open the sockets and start browsing (blocks until it runs; call off the UI thread).

        Raises:
            OSError: No usable interface or the multicast socket could not be opened.
        """

    def close(self) -> None:
        """Stop browsing and close the sockets; safe twice or before :meth:`start`."""

    def last_seen(self) -> dict[str, float]:
        """Wall-clock time of the last answer per host, for services no longer advertised."""

    def stats(self) -> DiscoveryStats:
        """What was tried and heard so far, for the "nothing found" diagnostics."""


class Reachability(Protocol):
    """The prober that says which devices answer on their SSH port."""

    def start(self) -> None:
        """Start probing on the running event loop."""

    def set_targets(self, targets: Mapping[str, tuple[str, int]]) -> None:
        """Probe exactly these ``key -> (host, port)`` targets from now on."""

    def probe_now(self, key: str) -> None:
        """Probe ``key`` at the next turn instead of waiting for its interval."""

    async def close(self) -> None:
        """Stop probing and wait for probes in flight."""


DiscoveryFactory = Callable[[SnapshotCallback], DeviceDiscovery]
"""Makes the browser given the app's snapshot callback."""

ProberFactory = Callable[[ProbeCallback], Reachability]
"""Makes the prober given the app's result callback."""
