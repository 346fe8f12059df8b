"""One running tunnel's state inside ``TunnelService``, and the stats a UI is given of it."""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass, field

import asyncssh

from spark_tui.core.models import TunnelSpec, TunnelState, TunnelStats
from spark_tui.services.tunnels.counters import Traffic


@dataclass
class Tunnel:
    """What the service keeps for one tunnel (its listener, counters and state)."""

    spec: TunnelSpec
    state: TunnelState = TunnelState.STARTING
    local_port: int = 0
    traffic: Traffic = field(default_factory=Traffic)
    server: asyncio.Server | None = None
    listener: socket.socket | None = None
    remote_listener: asyncssh.SSHListener | None = None
    up_since: float = 0.0
    last_error: str = ""
    rate_up: float = 0.0
    rate_down: float = 0.0
    sampled: tuple[float, int, int] = (0.0, 0, 0)

    def snapshot(self, device: str, now: float) -> TunnelStats:
        """The immutable stats of this tunnel at ``now`` (monotonic seconds)."""
        traffic = self.traffic
        return TunnelStats(
            device=device,
            spec=self.spec,
            state=self.state,
            local_port=self.local_port,
            connections=traffic.active,
            total_connections=traffic.total,
            bytes_up=traffic.up,
            bytes_down=traffic.down,
            rate_up=self.rate_up,
            rate_down=self.rate_down,
            uptime=(now - self.up_since) if self.up_since else 0.0,
            last_error=self.last_error,
        )
