"""Showing device rows: sorting, filtering, and what to say when
discovery finds nothing. Pure functions over plain values.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from spark_tui.core.devices import DeviceRow
from spark_tui.core.untrusted import display_safe


# --- Sorting and filtering ----------------------------------------------------------------------

SORT_KEYS = ("name", "state", "last_seen")


def state_rank(row: DeviceRow) -> int:
    """0 reachable, 1 advertised but not probed, 2 unknown, 3 unreachable."""
    if row.reachable:
        return 0
    if row.reachable is None:
        return 1 if row.advertised else 2
    return 3


def sort_rows(rows: Iterable[DeviceRow], by: str = "name") -> list[DeviceRow]:
    """Rows sorted by ``name`` (case-insensitive), ``state`` (reachable first) or ``last_seen``
    (most recent first, never-seen last); ties fall back to the name.

    Raises:
        ValueError: When ``by`` is not one of :data:`SORT_KEYS`.
    """
    if by not in SORT_KEYS:
        raise ValueError(f"unknown sort key {by!r}; use one of {', '.join(SORT_KEYS)}")
    rows = sorted(rows, key=lambda r: (r.name.casefold(), r.key))
    if by == "state":
        rows.sort(key=state_rank)
    elif by == "last_seen":
        rows.sort(key=lambda r: -(r.last_seen or float("-inf")))
    return rows


def filter_rows(rows: Iterable[DeviceRow], query: str) -> list[DeviceRow]:
    """Rows whose name, host or one of whose tags contains ``query`` (case-insensitive).

    An empty or blank query keeps every row.
    """
    needle = query.strip().casefold()
    if not needle:
        return list(rows)

    def matches(row: DeviceRow) -> bool:
        tags = row.profile.tags if row.profile else ()
        return any(needle in text.casefold() for text in (row.name, row.host, *tags))

    return [row for row in rows if matches(row)]


# --- When nothing is found ----------------------------------------------------------------------


@dataclass(frozen=True)
class DiscoveryStats:
    """What a discovery run did, for diagnostics.

    Attributes:
        interfaces: Addresses zeroconf listened on; ``()`` means every interface.
        service_types: DNS-SD types browsed.
        started_at: Wall-clock start time.
        answers_heard: mDNS records received (any type, any name).
        services_seen: Distinct instances of the browsed types ever seen.
        callbacks: Snapshots handed to the callback.
    """

    interfaces: tuple[str, ...] = ()
    service_types: tuple[str, ...] = ("_ssh._tcp.local.",)
    started_at: float = 0.0
    answers_heard: int = 0
    services_seen: int = 0
    callbacks: int = 0


def diagnostics_text(stats: DiscoveryStats, elapsed: float) -> str:
    """Why discovery may have found nothing and what to do, as a few plain lines.

    Args:
        stats: Counters of the run.
        elapsed: Seconds spent listening.
    """
    where = ", ".join(stats.interfaces) if stats.interfaces else "all interfaces"
    types = ", ".join(stats.service_types)
    lines = [
        f"No SSH hosts found: browsed {types} on {where} for {elapsed:.1f} s "
        f"({stats.answers_heard} mDNS answers heard, {stats.services_seen} services seen).",
        "Usual reasons:",
        "  - mDNS (UDP 5353 multicast) is blocked on many corporate and campus networks;",
        "  - the device's .local name may resolve over IPv6 only;",
        "  - a Spark needs 3-4 minutes after first boot or an update before it answers.",
        "Add it by hostname or IP instead: spark-tui device add NAME --host H",
    ]
    return "\n".join(lines)
