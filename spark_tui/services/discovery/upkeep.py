"""The liveness half of :class:`~.browser.DiscoveryService`: what counts as hearing a device,
asking silent ones again, dropping dead ones, and the reverse-name sweep.

Liveness (RFC 6762 section 5.2 cache maintenance, on a shorter clock): a device counts as heard
only when a live record naming it arrives; a goodbye or a record zeroconf expires from its
cache is never an answer, so "last seen" never jumps forward for a dead device (nor backward).
A service silent for ``refresh_after`` seconds is asked again (its SRV, or for a name-only host
its reverse PTR, with no known answers so the responder must reply), every few seconds; one
silent for ``gone_after`` seconds leaves the snapshot, and comes back the moment it answers.
Avahi's PTR records live 75 minutes: without this, a device that died without a goodbye would
be listed, looking alive, for that long.

Second source, the reverse-name sweep (``sweep=True``): on start and on ``refresh()``, at most
once per ``sweep_interval``, reverse-PTR questions for every address of each local IPv4 subnet
(see :mod:`.sweep`), 64 to a packet, 20 ms apart, asked a second time a second later (a /24
is 4 packets, then 4 more). Answers inside those subnets become
name-only services (type :data:`~spark_tui.core.devices.NAME_ONLY`).

Everything here runs on zeroconf's loop, except ``_heard``'s lock-protected state which
``snapshot()`` reads from other threads.
"""

from __future__ import annotations

import asyncio
import logging
import time

from zeroconf import DNSOutgoing, DNSQuestion
from zeroconf.const import _CLASS_IN, _FLAGS_QR_QUERY, _TYPE_PTR, _TYPE_SRV

from spark_tui.core.devices import NAME_ONLY, canonical_host
from spark_tui.core.models import DiscoveredService
from spark_tui.services.discovery import sweep as sweeping
from spark_tui.services.discovery.records import MAX_NAME

log = logging.getLogger(__name__)

MAX_SERVICES = 2048  # beyond this, new instances are ignored (and counted) rather than stored
# Defaults keep the promise "a dead device is shown gone within about two minutes": silent for
# 60 s -> asked again every 10 s -> gone at 100 s of silence (plus up to a one-second tick).
REFRESH_AFTER = 60.0
GONE_AFTER = 100.0
SWEEP_INTERVAL = 30.0  # at most one reverse-name sweep per this many seconds
SWEEP_GAP = 0.02  # seconds between two sweep packets
SWEEP_REPEAT = 1.0  # the sweep is sent twice, this far apart (RFC 6762 5.2: a lost query is repeated)


class Upkeep:
    """Mixin for :class:`~.browser.DiscoveryService`; the state lives there (``__init__``)."""

    def _heard(self, records: list, now_ms: float) -> None:
        now = time.time()
        changed = False
        with self._lock:
            self.answers_heard += len(records)
            for update in records:
                record = update.new
                if record.is_expired(now_ms):
                    # A goodbye, or zeroconf expiring its cache: never an answer. A name-only
                    # host has no browser to report its goodbye, so it goes here.
                    if record.type == _TYPE_PTR and record.name in self._services and self._services[record.name].service_type == NAME_ONLY:
                        self._forget(record.name)
                        changed = True
                    continue
                if record.type == _TYPE_PTR and record.name.lower().endswith(".in-addr.arpa."):
                    changed |= self._name_only(record, now)
                for name in (record.name, getattr(record, "alias", None)):
                    if name in self._services:
                        changed |= self._mark_heard(name, now)
        if changed:
            self._mark_dirty()

    def _mark_heard(self, name: str, now: float) -> bool:
        """Note a live answer for ``name``; True when that brings it back. Lock held."""
        self._seen[name] = max(self._seen.get(name, 0.0), now)  # last seen never goes back
        self._fresh[name] = time.monotonic()  # ages by the monotonic clock: immune to clock steps
        if name in self._quiet:
            self._quiet.discard(name)
            return True
        return False

    def _name_only(self, record, now: float) -> bool:
        """A reverse PTR answer to our sweep as a name-only service; True when that is news."""
        address = sweeping.address_of(record.name)
        alias = record.alias
        if address is None or not sweeping.in_subnets(address, self._subnets):
            return False
        if not alias.lower().endswith(".local.") or len(alias) > MAX_NAME:
            return False
        if record.name not in self._services and len(self._services) >= MAX_SERVICES:
            self.dropped += 1
            return False
        interface = self.interfaces[0] if len(self.interfaces) == 1 else ""
        value = DiscoveredService(record.name, NAME_ONLY, alias, (address,), 0, {}, interface, now)
        if self._services.get(record.name) == value:
            return False
        self._services[record.name] = value
        self._ever.add(record.name)
        return True

    def _forget(self, name: str) -> DiscoveredService | None:
        """Drop a service, keeping its host's last-seen time. Call with the lock held."""
        gone = self._services.pop(name, None)
        seen = self._seen.pop(name, None)
        self._fresh.pop(name, None)
        self._quiet.discard(name)
        self._asked.pop(name, None)
        if gone is not None and gone.server:
            host = canonical_host(gone.server)
            self._gone[host] = max(self._gone.get(host, 0.0), seen or gone.last_seen)
        return gone

    # --- liveness and the sweep -------------------------------------------------------------

    async def _upkeep(self) -> None:
        while not self._closed:
            await asyncio.sleep(self._tick)
            try:
                self._check()
            except Exception:  # noqa: BLE001 - upkeep must go on
                log.warning("discovery: liveness check failed", exc_info=True)

    def _check(self) -> None:
        """Ask again for services silent for ``refresh_after``; hide those silent for ``gone_after``."""
        now, mono = time.time(), time.monotonic()
        questions: list[DNSQuestion] = []
        changed = False
        with self._lock:
            for name, service in self._services.items():
                age = mono - self._fresh.setdefault(name, mono)
                if age >= self.gone_after:
                    if name not in self._quiet:
                        self._quiet.add(name)
                        changed = True
                        if service.server:
                            host = canonical_host(service.server)
                            self._gone[host] = max(self._gone.get(host, 0.0), self._seen.get(name, now - age))
                elif age >= self.refresh_after and mono - self._asked.get(name, float("-inf")) >= self._ask_every:
                    self._asked[name] = mono
                    kind = _TYPE_PTR if service.service_type == NAME_ONLY else _TYPE_SRV
                    questions.append(DNSQuestion(name, kind, _CLASS_IN))
        if questions:
            self.requeries += len(questions)
            for batch in sweeping.batches(questions):
                self._send(batch)
        if changed:
            self._mark_dirty()

    def _send(self, questions) -> None:
        """One multicast query, without known answers: every responder asked must reply."""
        zc = self._zc
        if zc is None:
            return
        out = DNSOutgoing(_FLAGS_QR_QUERY, multicast=True)
        for question in questions:
            out.add_question(question)
        zc.async_send(out)

    def _start_sweep(self) -> None:
        mono = time.monotonic()
        if self._closed or mono - self._last_sweep < self.sweep_interval:
            return
        self._last_sweep = mono
        self._spawn(self._sweep())

    async def _sweep(self) -> None:
        subnets = await asyncio.get_running_loop().run_in_executor(None, sweeping.local_ipv4, self.interfaces)
        with self._lock:
            self._subnets = subnets
        names = sweeping.sweep_names(subnets)
        for round_ in range(2):
            if round_:
                await asyncio.sleep(SWEEP_REPEAT)
                with self._lock:  # hosts that answered the first round need no second question
                    names = [name for name in names if name not in self._services]
            for batch in sweeping.batches(names):
                if self._closed:
                    return
                self._send([DNSQuestion(name, _TYPE_PTR, _CLASS_IN) for name in batch])
                await asyncio.sleep(SWEEP_GAP)
        self.sweeps += 1

