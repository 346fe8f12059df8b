"""Live mDNS discovery: browse DNS-SD types with python-zeroconf, hand out coalesced snapshots.

Threading: :class:`DiscoveryService` runs zeroconf on zeroconf's own thread and event loop
(``use_asyncio=False``), never on the caller's loop. :meth:`DiscoveryService.start` and
:meth:`DiscoveryService.close` are plain synchronous calls that return in milliseconds, so a
Textual app may call them from a handler; the ``on_change`` callback runs on zeroconf's thread,
so an app should only ``post_message`` from it (thread-safe) and do nothing slow there.

Every zeroconf event is translated into a :class:`~spark_tui.core.models.DiscoveredService`
right away; the full snapshot goes to ``on_change`` at most once per ``coalesce`` seconds, so a
flood of answers or a flapping service costs the UI a handful of redraws, not thousands.

Which answers count as hearing a device, asking silent devices again, dropping dead ones and
the reverse-name sweep live in :mod:`.upkeep` (the :class:`Upkeep` half of the service).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Sequence

from zeroconf import (
    BadTypeInNameException,
    DNSQuestionType,
    InterfaceChoice,
    IPVersion,
    RecordUpdateListener,
    ServiceStateChange,
    Zeroconf,
)
from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo

from spark_tui.core.device_listing import DiscoveryStats
from spark_tui.core.devices import canonical_host
from spark_tui.core.models import DiscoveredService
from spark_tui.services.discovery import sweep as sweeping
from spark_tui.services.discovery.records import MAX_NAME, translate, translate_from_cache
from spark_tui.services.discovery.upkeep import GONE_AFTER, MAX_SERVICES, REFRESH_AFTER, SWEEP_INTERVAL, Upkeep

log = logging.getLogger(__name__)

SSH_SERVICE = "_ssh._tcp.local."
MAX_PENDING_REQUESTS = 64

SnapshotCallback = Callable[[tuple[DiscoveredService, ...]], None]


def open_zeroconf(interfaces: Sequence[str] = (), *, use_asyncio: bool | None = False) -> Zeroconf:
    """A Zeroconf instance on ``interfaces`` (``()`` = all, IPv4 and IPv6 where available).

    Args:
        interfaces: Local addresses to bind; tests pass ``("127.0.0.1",)``.
        use_asyncio: ``False`` runs zeroconf on its own thread; ``True`` attaches to the
            running loop.

    Raises:
        OSError: When the multicast sockets cannot be opened (address not local, no
            multicast).
    """
    if interfaces:
        return Zeroconf(interfaces=list(interfaces), use_asyncio=use_asyncio)
    try:
        return Zeroconf(interfaces=InterfaceChoice.All, ip_version=IPVersion.All, use_asyncio=use_asyncio)
    except OSError:  # a host without IPv6 multicast: fall back to IPv4 only
        return Zeroconf(interfaces=InterfaceChoice.All, ip_version=IPVersion.V4Only, use_asyncio=use_asyncio)


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


class _AnswerCounter(RecordUpdateListener):
    """Counts every record heard and refreshes last-seen times of known services."""

    def __init__(self, owner: DiscoveryService) -> None:
        self.owner = owner

    def async_update_records(self, zc: Zeroconf, now: float, records: list) -> None:  # noqa: ARG002
        self.owner._heard(records, now)


class DiscoveryService(Upkeep):
    """Browses mDNS and reports the set of services found, coalesced.

    Args:
        on_change: Gets the full snapshot (a tuple, discovery order) after changes, at most once
            per ``coalesce`` seconds, on zeroconf's thread.
        interfaces: Local addresses to listen on; ``()`` means zeroconf's default (all).
        service_types: DNS-SD types to browse.
        coalesce: Minimum seconds between two callbacks.
        resolve_timeout: Seconds to keep asking for a service's missing records.
        refresh_after: Seconds of silence after which a service is asked again.
        gone_after: Seconds of silence after which a service leaves the snapshot.
        sweep: Also run the reverse-name sweep on the chosen interfaces' IPv4 subnets.
        sweep_interval: Minimum seconds between two sweeps.

    Raises:
        ValueError: ``refresh_after`` not below ``gone_after``, or not positive.
    """

    def __init__(
        self,
        on_change: SnapshotCallback,
        *,
        interfaces: Sequence[str] = (),
        service_types: Sequence[str] = (SSH_SERVICE,),
        coalesce: float = 0.1,
        resolve_timeout: float = 3.0,
        refresh_after: float = REFRESH_AFTER,
        gone_after: float = GONE_AFTER,
        sweep: bool = False,
        sweep_interval: float = SWEEP_INTERVAL,
    ) -> None:
        if not 0 < refresh_after < gone_after:
            raise ValueError(f"need 0 < refresh_after < gone_after, got {refresh_after:g} and {gone_after:g}")
        self._on_change = on_change
        self.refresh_after = refresh_after
        self.gone_after = gone_after
        self.sweep = sweep
        self.sweep_interval = sweep_interval
        # Three or four more questions before a silent service is given up.
        self._ask_every = max(0.25, (gone_after - refresh_after) / 4)
        self._tick = min(1.0, self._ask_every / 2)
        self._quiet: set[str] = set()  # silent for gone_after: left out of snapshots
        self._fresh: dict[str, float] = {}  # instance -> monotonic time of its latest answer
        self._asked: dict[str, float] = {}  # instance -> monotonic time of our latest re-query
        self._subnets: list[sweeping.LocalInterface] = []
        self._last_sweep = float("-inf")
        self._scope: int | None = None
        self.requeries = 0
        self.sweeps = 0
        self.interfaces = tuple(interfaces)
        self.service_types = tuple(service_types)
        self.coalesce = coalesce
        self.resolve_timeout = resolve_timeout
        self._lock = threading.Lock()
        self._services: dict[str, DiscoveredService] = {}
        self._seen: dict[str, float] = {}  # instance -> wall time of latest answer
        self._gone: dict[str, float] = {}  # canonical host -> last seen, for vanished devices
        self._pending: set[str] = set()
        self._tasks: set[asyncio.Task] = set()
        self._zc: Zeroconf | None = None
        self._browser: AsyncServiceBrowser | None = None
        self._counter: _AnswerCounter | None = None
        self._flush_handle: asyncio.TimerHandle | None = None
        self._last_emit = float("-inf")
        self._last_snapshot: tuple[DiscoveredService, ...] | None = None
        self._closed = False
        self.started_at = 0.0
        self.answers_heard = 0
        self.callbacks = 0
        self.dropped = 0
        self._ever: set[str] = set()

    # --- lifecycle ----------------------------------------------------------------------------

    def start(self) -> None:
        """Open the multicast sockets and start browsing. Returns within milliseconds.

        Raises:
            RuntimeError: When called twice, or after :meth:`close`.
            OSError: When the sockets cannot be opened (for example an address that is not local).
        """
        if self._zc is not None or self._closed:
            raise RuntimeError("DiscoveryService already started (or closed); make a new one")
        self.started_at = time.time()
        if len(self.interfaces) == 1:
            self._scope = sweeping.scope_of(self.interfaces[0])
        self._zc = open_zeroconf(self.interfaces)
        loop = self._zc.loop
        assert loop is not None
        asyncio.run_coroutine_threadsafe(self._async_start(), loop).result(timeout=5)

    async def _async_start(self) -> None:
        zc = self._zc
        assert zc is not None
        self._counter = _AnswerCounter(self)
        zc.async_add_listener(self._counter, None)
        # QM questions: answers come back multicast, so they reach us even when another mDNS
        # stack (avahi, a second app) shares port 5353 and would swallow a unicast (QU) reply.
        self._browser = AsyncServiceBrowser(
            zc, list(self.service_types), handlers=[self._on_event], question_type=DNSQuestionType.QM
        )
        self._spawn(self._upkeep())
        if self.sweep:
            self._start_sweep()

    def _spawn(self, coroutine) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def refresh(self) -> None:
        """Ask the network again now: a reverse-name sweep (rate limited). Thread-safe."""
        zc = self._zc
        if zc is None or zc.loop is None or self._closed or not self.sweep:
            return
        zc.loop.call_soon_threadsafe(self._start_sweep)

    def close(self) -> None:
        """Stop browsing and close the sockets; no callback runs after this returns.

        Safe to call twice or before :meth:`start`.
        """
        self._closed = True
        zc, self._zc = self._zc, None
        if zc is None:
            return
        if zc.loop is not None and _running_loop() is zc.loop:
            # Called from inside on_change: zeroconf can't stop its own thread from within it.
            threading.Thread(target=self._shut, args=(zc,), name="discovery-close", daemon=True).start()
        else:
            self._shut(zc)

    def _shut(self, zc: Zeroconf) -> None:
        loop = zc.loop
        if loop is not None and loop.is_running():
            try:
                asyncio.run_coroutine_threadsafe(self._async_stop(zc), loop).result(timeout=2)
            except Exception:  # noqa: BLE001 - closing must not fail
                log.debug("discovery: stopping the browser failed", exc_info=True)
        zc.close()

    async def _async_stop(self, zc: Zeroconf) -> None:
        if self._flush_handle is not None:
            self._flush_handle.cancel()
        for task in list(self._tasks):
            task.cancel()
        if self._browser is not None:
            await self._browser.async_cancel()
        if self._counter is not None:
            zc.async_remove_listener(self._counter)

    def __enter__(self) -> DiscoveryService:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- what others read ---------------------------------------------------------------------

    def snapshot(self) -> tuple[DiscoveredService, ...]:
        """The services known now, in discovery order, with fresh ``last_seen``. Thread-safe."""
        with self._lock:
            return self._build_snapshot()

    def last_seen(self) -> dict[str, float]:
        """Wall-clock last-seen time by canonical host name, including devices that went away."""
        with self._lock:
            seen = dict(self._gone)
            for service in self._build_snapshot():
                if service.server and service.last_seen:
                    host = canonical_host(service.server)
                    seen[host] = max(seen.get(host, 0.0), service.last_seen)
            return seen

    def stats(self) -> DiscoveryStats:
        """Counters for diagnostics: interfaces, types, start time, answers, services, callbacks."""
        return DiscoveryStats(
            interfaces=self.interfaces,
            service_types=self.service_types,
            started_at=self.started_at,
            answers_heard=self.answers_heard,
            services_seen=len(self._ever),
            callbacks=self.callbacks,
        )

    # --- on zeroconf's loop ---------------------------------------------------------------------

    def _build_snapshot(self) -> tuple[DiscoveredService, ...]:
        return tuple(
            dataclasses.replace(s, last_seen=self._seen.get(s.instance, s.last_seen))
            for s in self._services.values()
            # Still being resolved and no address yet: held back (at most resolve_timeout),
            # else a renamed device shows as a second, empty row until its addresses come.
            if s.instance not in self._quiet and (s.addresses or s.instance not in self._pending)
        )

    def _on_event(
        self, zeroconf: Zeroconf, service_type: str, name: str, state_change: ServiceStateChange
    ) -> None:
        if self._closed:
            return
        try:
            self._apply(zeroconf, service_type, name, state_change)
        except Exception:  # noqa: BLE001 - one bad record must not stop discovery
            log.warning("discovery: ignoring an answer for %r", name[:MAX_NAME], exc_info=True)

    def _apply(self, zeroconf: Zeroconf, service_type: str, name: str, state_change: ServiceStateChange) -> None:
        if state_change is ServiceStateChange.Removed:
            with self._lock:
                gone = self._forget(name)
            if gone is not None:
                self._mark_dirty()
            return
        self._refresh(zeroconf, service_type, name, may_request=True)

    def _refresh(self, zc: Zeroconf, service_type: str, name: str, *, may_request: bool) -> None:
        with self._lock:
            if name not in self._services and len(self._services) >= MAX_SERVICES:
                self.dropped += 1
                return
        now = time.time()
        interface = self.interfaces[0] if len(self.interfaces) == 1 else ""
        try:
            info = AsyncServiceInfo(service_type, name)
        except BadTypeInNameException:  # a name zeroconf won't model: read the cache directly
            info, complete = None, True
            value = translate_from_cache(zc, service_type, name, interface=interface, now=now, scope=self._scope)
        else:
            complete = info.load_from_cache(zc)
            value = translate(info, service_type, interface=interface, now=now, scope=self._scope)
        with self._lock:
            self._services[name] = value
            self._mark_heard(name, now)
            self._ever.add(name)
        self._mark_dirty()
        if info is not None and not complete and may_request and name not in self._pending and len(self._pending) < MAX_PENDING_REQUESTS:
            self._pending.add(name)
            task = asyncio.get_running_loop().create_task(self._request(zc, info, service_type, name))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _request(self, zc: Zeroconf, info: AsyncServiceInfo, service_type: str, name: str) -> None:
        try:
            await info.async_request(zc, self.resolve_timeout * 1000, question_type=DNSQuestionType.QM)
        except Exception:  # noqa: BLE001 - a bad answer must not stop discovery
            log.debug("discovery: resolving %r failed", name, exc_info=True)
        finally:
            self._pending.discard(name)
        if not self._closed and name in self._services:
            self._refresh(zc, service_type, name, may_request=False)

    def _mark_dirty(self) -> None:
        if self._flush_handle is not None or self._closed:
            return
        loop = asyncio.get_running_loop()
        delay = max(0.0, self._last_emit + self.coalesce - loop.time())
        self._flush_handle = loop.call_later(delay, self._flush)

    def _flush(self) -> None:
        self._flush_handle = None
        if self._closed:
            return
        self._last_emit = asyncio.get_running_loop().time()
        with self._lock:
            snapshot = self._build_snapshot()
        if snapshot == self._last_snapshot:
            return
        self._last_snapshot = snapshot
        self.callbacks += 1
        try:
            self._on_change(snapshot)
        except Exception:  # noqa: BLE001 - a failing consumer must not stop discovery
            log.exception("discovery: on_change callback failed")
