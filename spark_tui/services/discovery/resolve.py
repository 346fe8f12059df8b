"""Resolve ``NAME.local`` over multicast DNS when the system resolver can't.

Many laptops (Windows, minimal Linux without nss-mdns, containers) cannot resolve
``spark-1a2b.local`` although the Spark answers mDNS; python-zeroconf's address resolver can.

Avahi answers one query on each socket it has: the IPv6 answer (link-local only, on a plain
LAN) often lands first. So after a first answer without a routable IPv4 address the resolver
waits up to ``ANSWER_WAIT`` for the rest of that query's answers before choosing. What was just
resolved is kept ``CACHE_SECONDS``: Avahi will not repeat a record within a second, so asking
again at once would wait for the 1 s retry.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from collections.abc import Sequence

from zeroconf import AddressResolver, DNSQuestionType
from zeroconf.asyncio import AsyncZeroconf

from spark_tui.core.devices import address_rank
from spark_tui.core.errors import ConnectError
from spark_tui.services.discovery.browser import open_zeroconf
from spark_tui.services.discovery.records import dialable
from spark_tui.services.discovery.sweep import scope_of

ANSWER_WAIT = 0.4  # seconds to wait for a routable IPv4 answer after a link-local-only one
CACHE_SECONDS = 10.0
_resolved: dict[tuple[str, tuple[str, ...]], tuple[float, list[str]]] = {}

MDNS_HINT = (
    "mDNS may be blocked on this network, or the device is still starting (a Spark needs "
    "3-4 minutes after first boot); try its IP address instead"
)


def _is_local(name: str) -> bool:
    return name.strip().lower().rstrip(".").endswith(".local")


def _ip_literal(name: str) -> str | None:
    text = name.strip().strip("[]")
    try:
        ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None
    return text


def order_for_connect(addresses: Sequence[str]) -> list[str]:
    """Routable IPv4 first, then routable IPv6; link-local (and loopback) only when nothing else.

    Duplicates are dropped; order within a group is kept.
    """
    unique = list(dict.fromkeys(addresses))
    preferred = [a for a in unique if address_rank(a)[0] <= 1]
    if preferred:
        return sorted(preferred, key=lambda a: address_rank(a)[0])
    return sorted(unique, key=lambda a: address_rank(a)[0])


async def resolve_local(name: str, *, interfaces: Sequence[str] = (), timeout: float = 3.0) -> list[str]:
    """Addresses of a ``.local`` host name, asked over mDNS.

    Args:
        name: ``spark-1a2b.local`` (a trailing dot is fine; case does not matter).
        interfaces: Local addresses to ask on; ``()`` = all. Tests pass ``("127.0.0.1",)``.
        timeout: Seconds to wait for an answer.

    Returns:
        Addresses ordered by :func:`order_for_connect`; IPv6 link-local ones keep their
        ``%scope``.

    Raises:
        ConnectError: kind ``resolve``, when the name is not a ``.local`` name or nothing
            answered in time.
    """
    if not _is_local(name) or len(name) > 253:
        raise ConnectError("resolve", f"{name!r} is not a .local host name", "mDNS only resolves NAME.local")
    fqdn = name.strip().lower().rstrip(".") + "."
    key = (fqdn, tuple(interfaces))
    cached = _resolved.get(key)
    if cached is not None and cached[0] > time.monotonic():
        return list(cached[1])
    try:
        zc = open_zeroconf(interfaces, use_asyncio=True)
    except OSError as error:
        raise ConnectError(
            "resolve", f"cannot open mDNS sockets to resolve {name}: {error}", "check --interface"
        ) from error
    aiozc = AsyncZeroconf(zc=zc)
    try:
        resolver = AddressResolver(fqdn)
        # QM: a multicast answer reaches us even if another mDNS stack shares port 5353.
        found = await resolver.async_request(zc, timeout * 1000, question_type=DNSQuestionType.QM)
        addresses = resolver.parsed_scoped_addresses() if found else []
        waited = 0.0
        while addresses and not _has_routable_ipv4(addresses) and waited < ANSWER_WAIT:
            await asyncio.sleep(0.05)  # the same query's answers on the other sockets
            waited += 0.05
            resolver.load_from_cache(zc)
            addresses = resolver.parsed_scoped_addresses()
    finally:
        await aiozc.async_close()
    scope = scope_of(interfaces[0]) if len(interfaces) == 1 else None
    addresses = list(dialable(addresses, scope))
    if not addresses:
        raise ConnectError("resolve", f"no answer over mDNS for {name} within {timeout:g} s", MDNS_HINT)
    ordered = order_for_connect(addresses)
    _resolved[key] = (time.monotonic() + CACHE_SECONDS, ordered)
    if len(_resolved) > 256:  # bounded: drop what expired
        for stale in [k for k, (until, _) in _resolved.items() if until <= time.monotonic()]:
            del _resolved[stale]
    return list(ordered)


def _has_routable_ipv4(addresses: Sequence[str]) -> bool:
    return any(address_rank(a)[0] == 0 for a in addresses)


def forget_resolved() -> None:
    """Empty the cache of recent answers (tests, and after a network change)."""
    _resolved.clear()


async def resolve_host(
    name: str,
    port: int = 22,
    *,
    interfaces: Sequence[str] = (),
    timeout: float = 3.0,
) -> list[str]:
    """Addresses to connect to for ``name``: the system resolver first, mDNS for ``.local``.

    Args:
        name: A host name, ``NAME.local`` or an IP address (returned as is).
        port: Port, passed to ``getaddrinfo``.
        interfaces: Local addresses for the mDNS fallback.
        timeout: Seconds for each of the two attempts.

    Returns:
        Addresses ordered by :func:`order_for_connect`.

    Raises:
        ConnectError: kind ``resolve``, when neither resolver knows the name.
    """
    literal = _ip_literal(name)
    if literal:
        return [literal]
    loop = asyncio.get_running_loop()
    try:
        infos = await asyncio.wait_for(
            loop.getaddrinfo(name, port, type=socket.SOCK_STREAM), timeout
        )
        addresses = [str(info[4][0]) for info in infos]
        if addresses:
            return order_for_connect(addresses)
    except (OSError, TimeoutError, asyncio.TimeoutError, UnicodeError):
        pass
    if _is_local(name):
        return await resolve_local(name, interfaces=interfaces, timeout=timeout)
    raise ConnectError(
        "resolve",
        f"cannot resolve host name {name}",
        "check the spelling, or save the device with its IP address",
    )
