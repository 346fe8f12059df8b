"""`.local` names resolved over real multicast on loopback, and the system-resolver-first rule."""

from __future__ import annotations

import asyncio
import ipaddress
import uuid

import pytest
from zeroconf import ServiceInfo
from zeroconf.asyncio import AsyncZeroconf

from spark_tui.core.errors import ConnectError
from spark_tui.services.discovery.resolve import order_for_connect, resolve_host, resolve_local

LOOPBACK = ("127.0.0.1",)


@pytest.fixture
async def advertise():
    """Advertise ``host.local`` with the given addresses on 127.0.0.1 (a host record via SSH)."""
    zc = AsyncZeroconf(interfaces=list(LOOPBACK))

    async def publish(addresses: list[str]) -> str:
        host = "spark-" + uuid.uuid4().hex[:4]
        packed = [ipaddress.ip_address(a).packed for a in addresses]
        info = ServiceInfo("_ssh._tcp.local.", f"{host}-h3._ssh._tcp.local.", addresses=packed, port=22, server=f"{host}.local.")
        await zc.async_register_service(info, cooperating_responders=True)  # first announcement sent
        return host

    yield publish
    await zc.async_close()


async def test_a_name_advertised_on_loopback_resolves_routable_ipv4_first(advertise):
    host = await advertise(["169.254.7.7", "fd00::7", "198.18.3.3", "fe80::7"])
    addresses = await resolve_local(f"{host.upper()}.local", interfaces=LOOPBACK, timeout=3.0)
    assert addresses == ["198.18.3.3", "fd00::7"]  # link-local dropped while something better exists


async def test_link_local_addresses_are_used_when_nothing_else_answers(advertise):
    host = await advertise(["169.254.8.8"])
    assert await resolve_local(f"{host}.local.", interfaces=LOOPBACK, timeout=3.0) == ["169.254.8.8"]


async def test_a_silent_name_raises_a_resolve_error_with_a_hint():
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(ConnectError) as caught:
        await resolve_local("spark-" + uuid.uuid4().hex[:4] + ".local", interfaces=LOOPBACK, timeout=0.6)
    assert loop.time() - started < 3.0
    assert caught.value.kind == "resolve"
    assert "no answer over mDNS" in caught.value.message
    assert "IP address" in caught.value.hint and "3-4 minutes" in caught.value.hint


@pytest.mark.parametrize("name", ["spark-1a2b.lan", "example.com", "local", ""])
async def test_only_local_names_are_asked_over_mdns(name):
    with pytest.raises(ConnectError, match="not a .local host name") as caught:
        await resolve_local(name, interfaces=LOOPBACK, timeout=0.2)
    assert caught.value.kind == "resolve"


async def test_an_address_that_is_not_local_gives_a_clear_error():
    with pytest.raises(ConnectError, match="cannot open mDNS sockets") as caught:
        await resolve_local("x.local", interfaces=("192.0.2.1",), timeout=0.2)
    assert caught.value.hint


@pytest.mark.parametrize(("name", "expected"), [("192.0.2.7", ["192.0.2.7"]), ("[2001:db8::1]", ["2001:db8::1"]), ("fe80::1%2", ["fe80::1%2"])])
async def test_ip_literals_are_returned_without_any_lookup(name, expected):
    assert await resolve_host(name, 22) == expected


async def test_the_system_resolver_answers_first_for_names_it_knows():
    # "localhost" comes from /etc/hosts: no packet leaves the machine.
    assert "127.0.0.1" in await resolve_host("localhost", 22, interfaces=LOOPBACK, timeout=2.0)


def test_connect_order_prefers_routable_ipv4_then_ipv6_and_keeps_link_local_as_last_resort():
    assert order_for_connect(["fe80::1%3", "2001:db8::2", "169.254.1.1", "192.0.2.1", "192.0.2.1"]) == [
        "192.0.2.1",
        "2001:db8::2",
    ]
    assert order_for_connect(["fe80::1%3", "169.254.1.1"]) == ["169.254.1.1", "fe80::1%3"]
    assert order_for_connect([]) == []
