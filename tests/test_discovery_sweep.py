"""The reverse-name sweep's arithmetic and the addresses discovery hands out, as plain values."""

from __future__ import annotations

import ipaddress

import pytest

from spark_tui.config.fields import SchemaProblem
from spark_tui.config.schema import parse_settings
from spark_tui.services.discovery.records import dialable
from spark_tui.services.discovery.sweep import (
    LocalInterface,
    address_of,
    batches,
    in_subnets,
    local_ipv4,
    reverse_name,
    sweep_names,
)


def interface(address: str, prefix: int) -> LocalInterface:
    return LocalInterface(address, ipaddress.IPv4Network(f"{address}/{max(prefix, 24)}", strict=False), 7)


def test_a_reverse_name_and_its_address_are_each_others_inverse():
    assert reverse_name("198.18.0.10") == "10.0.18.198.in-addr.arpa."
    assert address_of("10.0.18.198.in-addr.arpa.") == "198.18.0.10"
    assert address_of("10.0.18.198.IN-ADDR.ARPA") == "198.18.0.10"


@pytest.mark.parametrize("name", ["spark-1a2b.local.", "1.0.18.198.ip6.arpa.", "300.0.18.198.in-addr.arpa.", "0.18.198.in-addr.arpa."])
def test_names_that_are_not_ipv4_reverse_names_give_no_address(name):
    assert address_of(name) is None


def test_a_slash_24_sweep_asks_for_every_other_host_once():
    names = sweep_names([interface("198.18.0.1", 24)])
    assert len(names) == 253 and reverse_name("198.18.0.1") not in names
    assert reverse_name("198.18.0.254") in names and reverse_name("198.18.0.255") not in names


def test_sweep_batches_are_small_enough_for_one_packet_each():
    names = sweep_names([interface("198.18.0.1", 24)])
    assert [len(b) for b in batches(names)] == [64, 64, 64, 61]


def test_answers_outside_the_swept_subnets_are_not_taken():
    swept = [interface("198.18.0.1", 24)]
    assert in_subnets("198.18.0.77", swept)
    assert not in_subnets("198.18.1.77", swept) and not in_subnets("192.0.2.1", swept)


def test_loopback_is_never_swept_and_wide_subnets_are_narrowed_to_a_slash_24():
    found = local_ipv4()
    assert all(not ipaddress.IPv4Address(i.address).is_loopback for i in found)
    assert all(i.network.prefixlen >= 24 for i in found)
    assert local_ipv4(["127.0.0.1"]) == []


def test_link_local_ipv6_is_only_handed_out_with_a_scope():
    heard = ["198.18.0.10", "fe80::1", "fe80::2%3", "fd00::1", "fe80::1"]
    assert dialable(heard, 5) == ("198.18.0.10", "fe80::1%5", "fe80::2%3", "fd00::1")
    assert dialable(heard, None) == ("198.18.0.10", "fe80::2%3", "fd00::1")


def test_the_sweep_setting_is_a_boolean_on_by_default():
    assert parse_settings({}).discovery_sweep is True
    assert parse_settings({"discovery_sweep": False}).discovery_sweep is False
    with pytest.raises(SchemaProblem, match="true or false"):
        parse_settings({"discovery_sweep": "no"})


def test_refresh_sweeps_at_most_once_per_interval():
    import time

    from spark_tui.services.discovery.browser import DiscoveryService

    service = DiscoveryService(lambda snapshot: None, interfaces=["127.0.0.1"], sweep=True, sweep_interval=30.0)
    service.start()
    try:
        for _ in range(5):
            service.refresh()
        deadline = time.monotonic() + 10
        while service.sweeps == 0 and time.monotonic() < deadline:
            time.sleep(0.1)  # one sweep is two rounds one second apart
        time.sleep(1.5)  # time for a second sweep, if one had been started
        assert service.sweeps == 1
    finally:
        service.close()
    assert service.sweeps == 1
