"""Zeroconf's answers as plain values: one :class:`DiscoveredService` per instance, every field bounded.

What arrives here comes off the network from anyone on the LAN, so names, TXT entries and
address lists are capped and decoded leniently; :mod:`spark_tui.services.discovery.browser` calls these
from zeroconf's thread for every answer it hears.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable

from zeroconf import Zeroconf, current_time_millis
from zeroconf.asyncio import AsyncServiceInfo
from zeroconf.const import _CLASS_IN, _TYPE_A, _TYPE_AAAA, _TYPE_SRV, _TYPE_TXT

from spark_tui.core.models import DiscoveredService

MAX_NAME = 255
MAX_TXT_ENTRIES = 32
MAX_TXT_KEY = 64
MAX_TXT_VALUE = 255
MAX_ADDRESSES = 16


def _cap(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit]


def _decode(raw: bytes | str | None, limit: int) -> str:
    if raw is None:
        return ""
    if isinstance(raw, bytes):
        raw = raw[: limit * 4].decode("utf-8", errors="replace")
    return _cap(raw, limit)


def dialable(addresses: Iterable[str], scope: int | None = None) -> tuple[str, ...]:
    """Addresses someone can connect to as written: an IPv6 link-local address needs ``%scope``.

    One heard without a scope (an AAAA record that came in over IPv4) gets ``scope`` (the index
    of the one interface listened on), or is left out when that is unknown; duplicates go.
    """
    out: dict[str, None] = {}
    for address in addresses:
        if "%" not in address:
            try:
                ip = ipaddress.ip_address(address)
            except ValueError:
                continue
            if ip.version == 6 and ip.is_link_local:
                if not scope:
                    continue
                address = f"{address}%{scope}"
        out[address] = None
    return tuple(out)


def translate(
    info: AsyncServiceInfo, service_type: str, *, interface: str = "", now: float = 0.0, scope: int | None = None
) -> DiscoveredService:
    """Zeroconf's view of one service as a plain value, with every field bounded.

    Names and TXT are decoded leniently (invalid UTF-8 becomes U+FFFD) and capped; they may
    still hold control characters, so show them through ``core.devices.display_safe``.
    ``scope`` completes IPv6 link-local addresses heard without one (see :func:`dialable`).
    """
    txt: dict[str, str] = {}
    for key, value in list((info.properties or {}).items())[:MAX_TXT_ENTRIES]:
        name = _decode(key, MAX_TXT_KEY)
        if name and name not in txt:
            txt[name] = _decode(value, MAX_TXT_VALUE)
    port = info.port if isinstance(info.port, int) and 0 <= info.port <= 65535 else 0
    return DiscoveredService(
        instance=_cap(info.name, MAX_NAME),
        service_type=service_type,
        server=_cap(info.server or "", MAX_NAME),
        addresses=dialable(info.parsed_scoped_addresses(), scope)[:MAX_ADDRESSES],
        port=port,
        txt=txt,
        interface=interface,
        last_seen=now,
    )


def _txt_pairs(text: bytes) -> list[tuple[bytes, bytes | None]]:
    """Length-prefixed TXT strings split into (key, value); bounded by MAX_TXT_ENTRIES."""
    pairs: list[tuple[bytes, bytes | None]] = []
    pos = 0
    while pos < len(text) and len(pairs) < MAX_TXT_ENTRIES:
        length = text[pos]
        chunk = text[pos + 1 : pos + 1 + length]
        pos += 1 + length
        key, sep, value = chunk.partition(b"=")
        pairs.append((key, value if sep else None))
    return pairs


def translate_from_cache(
    zc: Zeroconf, service_type: str, name: str, *, interface: str = "", now: float = 0.0, scope: int | None = None
) -> DiscoveredService:
    """Like :func:`translate`, read straight from zeroconf's cache.

    Used for instance names zeroconf's ``ServiceInfo`` refuses (control characters, over-long
    labels), which a hostile or broken responder can still send. Runs on zeroconf's loop.
    """
    now_ms = current_time_millis()

    def records(record_name: str, record_type: int) -> list:
        found = zc.cache.async_all_by_details(record_name, record_type, _CLASS_IN)
        return [r for r in found if not r.is_expired(now_ms)]

    srv = records(name, _TYPE_SRV)
    server = srv[-1].server if srv else ""
    port = srv[-1].port if srv else 0
    txt: dict[str, str] = {}
    for text_record in records(name, _TYPE_TXT)[-1:]:
        for key, value in _txt_pairs(text_record.text):
            label = _decode(key, MAX_TXT_KEY)
            if label and label not in txt:
                txt[label] = _decode(value, MAX_TXT_VALUE)
    addresses: list[str] = []
    if server:
        for record in records(server, _TYPE_A) + records(server, _TYPE_AAAA):
            family = socket.AF_INET if len(record.address) == 4 else socket.AF_INET6
            try:
                text = socket.inet_ntop(family, record.address)
            except (OSError, ValueError):
                continue
            scope = getattr(record, "scope_id", None)
            addresses.append(f"{text}%{scope}" if scope and family == socket.AF_INET6 else text)
    return DiscoveredService(
        instance=_cap(name, MAX_NAME),
        service_type=service_type,
        server=_cap(server, MAX_NAME),
        addresses=dialable(addresses, scope)[:MAX_ADDRESSES],
        port=port if 0 <= port <= 65535 else 0,
        txt=txt,
        interface=interface,
        last_seen=now,
    )
