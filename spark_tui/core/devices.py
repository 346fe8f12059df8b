"""One row per device: saved profiles and mDNS answers merged (display: ``core.device_listing``).

Pure functions over plain values. A Spark answering on several interfaces, or with link-local
addresses, is still one device, so it is one :class:`DeviceRow`. Identity comes from addresses
and the exact host name, never from a name that merely looks like a rename: Avahi renames the
*second* of two devices called ``spark-1a2b`` to ``spark-1a2b-2`` (two devices, two rows), and
renames a Spark that hears itself on two links the same way (one device: its addresses agree).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from spark_tui.core.models import DeviceProfile, DiscoveredService

# Hostname prefix -> what the device is. Spark hostnames end in 4 hex digits (spark-1a2b).
SPARK_MODELS: dict[str, str] = {
    "spark": "DGX Spark",
    "gx10": "ASUS Ascent GX10",
    "promaxgb10": "Dell Pro Max GB10",
}
_SPARK_NAME = re.compile(r"^(spark|gx10|promaxgb10)-[0-9a-f]{4}$")
# Avahi renames a host on conflict by appending "-N" (N >= 2).
_HOST_RENAME = re.compile(r"^(?P<base>.+?)-(?P<n>[2-9]|[1-9][0-9]+)$")
# ... and a service instance by appending " #N"; other responders use " (N)".
_INSTANCE_RENAME = re.compile(r"^(?P<base>.+?)(?: #[0-9]+| \([0-9]+\))$")
# Service type of a host found by the reverse-address sweep: it advertises no service, only its
# name (A/AAAA and reverse PTR records); the instance is the reverse name (10.0.18.198.in-addr.arpa.).
NAME_ONLY = "in-addr.arpa."


@dataclass(frozen=True)
class ProbeResult:
    """What a TCP connect plus SSH banner read found.

    Attributes:
        reachable: The TCP connection was accepted.
        latency_ms: Time to connect, in milliseconds; ``None`` when it failed.
        banner: The server's SSH identification line (``SSH-2.0-OpenSSH_9.6``), or ``""``.
        error: Why it failed or what was odd (``"connection refused"``), or ``""``.
    """

    reachable: bool
    latency_ms: float | None = None
    banner: str = ""
    error: str = ""


@dataclass(frozen=True)
class DeviceRow:
    """One line of the Devices pane.

    Attributes:
        key: Stable identity across refreshes: ``profile:NAME`` or ``host:HOSTNAME``.
        name: What to show: the profile's name, else the advertised host name.
        host: What to connect to: the profile's host, else the advertised ``NAME.local``.
        port: SSH port.
        addresses: Every address heard for it; routable IPv4, then IPv6, then link-local.
        profile: The saved profile, or ``None`` for a device only discovered.
        advertised: Something on the network is advertising it right now.
        last_seen: Wall-clock time of the latest mDNS answer for it, or ``None`` if never heard.
        model: ``"DGX Spark"``, ``"ASUS Ascent GX10"``, ``"Dell Pro Max GB10"`` or ``None``.
        reachable: Latest probe: ``True``/``False``, or ``None`` when not probed yet.
        latency_ms: Latest probe's connect time.
        banner: Latest probe's SSH banner.
        instances: The DNS-SD instance names merged into this row.
        name_only: Found only by its host name (the reverse-address sweep): it advertises no
            service, so it is online only once a probe of its SSH port answers.
    """

    key: str
    name: str
    host: str
    port: int
    addresses: tuple[str, ...] = ()
    profile: DeviceProfile | None = None
    advertised: bool = False
    last_seen: float | None = None
    model: str | None = None
    reachable: bool | None = None
    latency_ms: float | None = None
    banner: str = ""
    instances: tuple[str, ...] = ()
    name_only: bool = False

    @property
    def saved(self) -> bool:
        """True when the row is a saved profile."""
        return self.profile is not None

    @property
    def is_spark(self) -> bool:
        """True for DGX Spark and its OEM siblings."""
        return self.model is not None

    @property
    def probe_target(self) -> tuple[str, int]:
        """(host, port) a reachability probe should use: a known address beats a ``.local`` name."""
        if self.addresses and (self.profile is None or _is_mdns_name(self.profile.host)):
            return self.addresses[0], self.port
        return self.host, self.port

    @property
    def probe_key(self) -> str:
        """``host:port`` of :attr:`probe_target` (IPv6 in brackets), a key for probe results."""
        host, port = self.probe_target
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def canonical_host(name: str) -> str:
    """A host name reduced for comparison: lower case, no trailing dot, no ``.local``.

    Args:
        name: ``Spark-1A2B.local.``, ``spark-1a2b``, ``192.0.2.7``...

    Returns:
        ``spark-1a2b`` (addresses come back unchanged apart from case and scope).
    """
    text = name.strip().lower().rstrip(".")
    if text.endswith(".local"):
        text = text[: -len(".local")]
    return text.split("%", 1)[0] if ":" in text else text


def rename_base(host: str) -> str:
    """The host name before an Avahi conflict rename (``spark1-30`` -> ``spark1``).

    Spark names are recognised first, so ``spark-1234`` keeps its serial digits.
    """
    host = canonical_host(host)
    if _SPARK_NAME.match(host):
        return host
    match = _HOST_RENAME.match(host)
    return match.group("base") if match else host


def instance_base(instance: str, service_type: str = "") -> str:
    """The instance label without the service type and without a ``#2`` / ``(2)`` rename."""
    label = instance
    if service_type and label.lower().endswith("." + service_type.lower()):
        label = label[: -len(service_type) - 1]
    match = _INSTANCE_RENAME.match(label)
    return (match.group("base") if match else label).strip().lower()


def spark_model(*names: str) -> str | None:
    """The Spark-family model named by any of ``names`` (host names or profile names), or ``None``."""
    for name in names:
        host = rename_base(name)
        match = _SPARK_NAME.match(host)
        if match:
            return SPARK_MODELS[match.group(1)]
    return None


def address_rank(address: str) -> tuple[int, str]:
    """Sort key for addresses: routable IPv4, routable IPv6, link-local IPv4, link-local IPv6,
    loopback, junk."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return 5, address
    if ip.is_loopback:
        return 4, address
    if ip.is_link_local:
        return (2 if ip.version == 4 else 3), address
    return (0 if ip.version == 4 else 1), address


def order_addresses(addresses: Iterable[str]) -> tuple[str, ...]:
    """Unique addresses, routable IPv4 first, then IPv6, then link-local (stable within a rank)."""
    unique = list(dict.fromkeys(addresses))
    return tuple(sorted(unique, key=lambda a: address_rank(a)[0]))


def _identity_address(address: str) -> str | None:
    """The address as a merge key, or ``None`` when it says nothing about identity (loopback)."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return None
    if ip.is_loopback or ip.is_unspecified or ip.is_multicast:
        return None
    return str(ip)


def _is_mdns_name(host: str) -> bool:
    return host.strip().lower().rstrip(".").endswith(".local")


class _Groups:
    """Union-find over service indexes."""

    def __init__(self, size: int) -> None:
        self.parent = list(range(size))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def _host_of(service: DiscoveredService) -> str:
    return canonical_host(service.server) if service.server else instance_base(service.instance, service.service_type)


def group_services(services: Sequence[DiscoveredService]) -> list[list[DiscoveredService]]:
    """Services that are the same device, grouped; groups in order of first appearance.

    Two services are one device when they share a host name (case, ``.local`` and trailing
    dot ignored), share a non-loopback address, or are conflict renames of one instance on the
    same host. A conflict-renamed host name (``spark-1a2b-2``) alone joins nothing: it is another
    device unless an address says otherwise.
    """
    groups = _Groups(len(services))
    first_by_key: dict[str, int] = {}
    for index, service in enumerate(services):
        host = _host_of(service)
        keys = [f"h:{host}", f"i:{instance_base(service.instance, service.service_type)}@{host}"]
        keys += [f"a:{a}" for a in map(_identity_address, service.addresses) if a]
        for key in keys:
            if key in first_by_key:
                groups.union(first_by_key[key], index)
            else:
                first_by_key[key] = index
    buckets: dict[int, list[DiscoveredService]] = {}
    for index, service in enumerate(services):
        buckets.setdefault(groups.find(index), []).append(service)
    return [buckets[root] for root in sorted(buckets)]


def _exact_profile(
    group: Sequence[DiscoveredService], profiles: Sequence[DeviceProfile], taken: set[str]
) -> DeviceProfile | None:
    """The profile whose host is this group's host name or one of its addresses."""
    hosts = {_host_of(s) for s in group}
    addresses = {a for s in group for a in map(_identity_address, s.addresses) if a}
    # Loopback says nothing about identity, except together with the port: the demo device,
    # and anything else served on this computer, is exactly 127.0.0.1:PORT.
    endpoints = {(a, s.port) for s in group for a in s.addresses}
    for profile in profiles:
        if profile.name in taken:
            continue
        wanted = canonical_host(profile.host)
        if wanted in hosts or (_identity_address(wanted) or "") in addresses or (wanted, profile.port) in endpoints:
            return profile
    return None


def _renamed_profile(
    group: Sequence[DiscoveredService], profiles: Sequence[DeviceProfile], taken: set[str]
) -> DeviceProfile | None:
    """The one free profile whose ``.local`` name this group's host is an Avahi rename of.

    Only asked for profiles no group matched exactly: while ``spark-1a2b.local`` itself is
    advertised, ``spark-1a2b-2.local`` is another device and keeps its own row.
    """
    bases = {rename_base(_host_of(s)) for s in group} - {_host_of(s) for s in group}
    matches = [p for p in profiles if p.name not in taken and _is_mdns_name(p.host) and canonical_host(p.host) in bases]
    return matches[0] if len(matches) == 1 else None


def merge_devices(
    profiles: Sequence[DeviceProfile],
    services: Sequence[DiscoveredService],
    probes: Mapping[str, ProbeResult] | None = None,
    now: float = 0.0,
    *,
    seen: Mapping[str, float] | None = None,
) -> list[DeviceRow]:
    """Join saved profiles and discovered services into one row per device.

    Args:
        profiles: Saved devices, in file order; each gives exactly one row.
        services: The current discovery snapshot.
        probes: Latest probe per row, keyed by :attr:`DeviceRow.key` or by
            :attr:`DeviceRow.probe_key` (``host:port``).
        now: Current wall-clock time; services heard "in the future" are clamped to it.
        seen: Last-seen times of devices no longer advertised, by :func:`canonical_host`,
            so a saved device that went away still says when it was last heard.

    Returns:
        Profile rows in profile order, then discovered-only rows in discovery order.
    """
    probes = probes or {}
    seen = seen or {}
    groups = group_services(services)
    owner: dict[int, str] = {}
    for match in (_exact_profile, _renamed_profile):
        for index, group in enumerate(groups):
            if index not in owner:
                profile = match(group, profiles, set(owner.values()))
                if profile is not None:
                    owner[index] = profile.name
    by_profile = {name: groups[index] for index, name in owner.items()}
    unmatched = [group for index, group in enumerate(groups) if index not in owner]
    rows = [_profile_row(p, by_profile.get(p.name, []), probes, now, seen) for p in profiles]
    rows += [_discovered_row(group, probes, now) for group in unmatched]
    return rows


def _latest(group: Sequence[DiscoveredService]) -> DiscoveredService:
    advertised = [s for s in group if s.service_type != NAME_ONLY] or list(group)
    return max(advertised, key=lambda s: (s.last_seen, -len(s.server)))


def _name_only(group: Sequence[DiscoveredService]) -> bool:
    return bool(group) and all(s.service_type == NAME_ONLY for s in group)


def _instances(group: Sequence[DiscoveredService]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(s.instance for s in group if s.service_type != NAME_ONLY))


def _with_probe(row: DeviceRow, probes: Mapping[str, ProbeResult]) -> DeviceRow:
    probe = probes.get(row.key) or probes.get(row.probe_key)
    if probe is None:
        return row
    return replace(row, reachable=probe.reachable, latency_ms=probe.latency_ms, banner=probe.banner)


def _last_seen(group: Sequence[DiscoveredService], now: float) -> float | None:
    times = [s.last_seen for s in group if s.last_seen]
    if not times:
        return now if group and now else None
    return min(max(times), now) if now else max(times)


def _profile_row(
    profile: DeviceProfile,
    group: Sequence[DiscoveredService],
    probes: Mapping[str, ProbeResult],
    now: float,
    seen: Mapping[str, float],
) -> DeviceRow:
    hosts = [_host_of(s) for s in group]
    last_seen = _last_seen(group, now) if group else seen.get(canonical_host(profile.host))
    row = DeviceRow(
        key=f"profile:{profile.name}",
        name=profile.name,
        host=profile.host,
        port=profile.port,
        addresses=order_addresses(a for s in group for a in s.addresses),
        profile=profile,
        advertised=bool(group) and not _name_only(group),
        last_seen=last_seen,
        model=spark_model(profile.host, profile.name, *hosts),
        instances=_instances(group),
        name_only=_name_only(group),
    )
    return _with_probe(row, probes)


def _discovered_row(
    group: Sequence[DiscoveredService], probes: Mapping[str, ProbeResult], now: float
) -> DeviceRow:
    latest = _latest(group)
    host = _host_of(latest)
    hosts = [_host_of(s) for s in group]
    row = DeviceRow(
        key=f"host:{min(hosts)}",
        name=host,
        host=f"{host}.local" if latest.server else (latest.addresses[0] if latest.addresses else host),
        port=latest.port or next((s.port for s in group if s.port), 22),
        addresses=order_addresses(a for s in group for a in s.addresses),
        advertised=not _name_only(group),
        last_seen=_last_seen(group, now),
        model=spark_model(*hosts),
        instances=_instances(group),
        name_only=_name_only(group),
    )
    return _with_probe(row, probes)
