"""Showing device rows: untrusted text made safe, sorting, filtering, and what to say when
discovery finds nothing. Pure functions over plain values.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from spark_tui.core.devices import DeviceRow

_BIDI = {0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)}
ELLIPSIS = "\u2026"


# --- Showing untrusted text -------------------------------------------------------------------


def _escape(char: str) -> str:
    code = ord(char)
    if char == "\\":
        return "\\\\"
    if code in _BIDI or not char.isprintable():  # Cc, Cf, Cs, Co, Cn, Zl, Zp and Zs but " "
        if code < 0x100:
            return f"\\x{code:02x}"
        return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"
    return char


def display_safe(text: str, limit: int = 64) -> str:
    """Text from the network made safe to put on a terminal.

    Control characters, bidi overrides and isolates (U+202A-202E, U+2066-2069, U+200E/F),
    spaces other than U+0020, and other invisible or unassigned code points are shown as escapes (``\\x1b``, ``\\u202e``);
    a backslash is doubled so an escape can't be faked. Longer results are cut at ``limit``
    characters, ending in an ellipsis, never in the middle of an escape.

    Args:
        text: Anything (an instance name, a TXT value, a banner).
        limit: Maximum length of the result, at least 1.

    Returns:
        The safe text.

    Raises:
        ValueError: When ``limit`` is less than 1.
    """
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    pieces: list[str] = []
    used = 0
    for index, char in enumerate(text):
        piece = _escape(char)
        is_last = index == len(text) - 1
        room = limit - used - (0 if is_last else 1)
        if len(piece) > room:
            return "".join(pieces) + ELLIPSIS
        pieces.append(piece)
        used += len(piece)
    return "".join(pieces)


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
