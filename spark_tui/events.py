"""Messages that carry service events into the app's loop.

Services call plain callbacks (possibly from zeroconf's thread); the app wraps each value in
one of these and posts it (``post_message`` is thread-safe). Messages that a newer one makes
stale say so with ``can_replace`` so floods collapse in the queue.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from textual.message import Message

from spark_tui.core.models import ConnectionStatus, DiscoveredService, TelemetrySample, TunnelStats

Handler = TypeVar("Handler", bound=Callable[..., Any])


def while_running(handler: Handler) -> Handler:
    """Drop a service message that is dispatched after the app began shutting down.

    Services keep posting until they are closed, and Textual removes the widgets before the
    app's own queue is drained: a late sample must not reach a pane that is already gone.
    """

    @wraps(handler)
    def guarded(app: Any, message: Message) -> Any:
        if not app.is_running:
            return None
        return handler(app, message)

    return guarded  # type: ignore[return-value]


class DiscoveryChanged(Message):
    """The full set of services mDNS currently sees."""

    def __init__(self, services: tuple[DiscoveredService, ...]) -> None:
        super().__init__()
        self.services = services

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, DiscoveryChanged)


class ProbesChanged(Message):
    """Reachability results, keyed by ``host:port``."""

    def __init__(self, probes: dict) -> None:
        super().__init__()
        self.probes = probes

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, ProbesChanged)


class ConnectionChanged(Message):
    """A device's shared connection changed state."""

    def __init__(self, status: ConnectionStatus) -> None:
        super().__init__()
        self.status = status


class TunnelsChanged(Message):
    """Fresh stats for every tunnel of one device."""

    def __init__(self, device: str, stats: tuple[TunnelStats, ...]) -> None:
        super().__init__()
        self.device = device
        self.stats = stats

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, TunnelsChanged) and message.device == self.device


class TelemetryArrived(Message):
    """One telemetry sample of one device."""

    def __init__(self, sample: TelemetrySample) -> None:
        super().__init__()
        self.sample = sample


class PortsDetected(Message):
    """The set of listening ports detected on a device changed."""

    def __init__(self, device: str, ports: tuple) -> None:
        super().__init__()
        self.device = device
        self.ports = ports

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, PortsDetected) and message.device == self.device
