"""The /proc/net/tcp(6) parser and port rules, on text captured from a real Linux machine."""

from __future__ import annotations

import socket

import pytest
from hypothesis import given
from hypothesis import strategies as st

from spark_tui.core.models import PortRules
from spark_tui.core.proc_net import (
    DetectedPort,
    check_port_rules,
    forwardable_ports,
    parse_listening,
    port_allowed,
    reachable_through_tunnel,
)

# Captured on this project's CI machine with listeners on 127.0.0.1:18888, 0.0.0.0:18000,
# [::1]:11434, [::]:18080 and [::ffff:127.0.0.1]:18265, plus one accepted connection.
# The last tcp line (192.168.0.2:8080) was added by hand in the same format: a LAN-only bind.
PROC_NET_TCP = """\
  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode                                                     
   0: 0100007F:49C8 00000000:0000 0A 00000000:00000001 00:00000000 00000000     0        0 10526 2 0000000038678ce7 100 0 0 10 0                     
   1: 00000000:07E8 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1533 1 00000000abae6d5e 100 0 0 10 0                      
   2: 00000000:4650 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 10527 1 000000005ff062a6 100 0 0 10 0                     
   3: 0100007F:49C8 0100007F:E442 01 00000000:00000000 00:00000000 00000000     0        0 0 1 000000003b6d1d9b 20 0 0 10 -1                         
   4: 0100007F:E442 0100007F:49C8 01 00000000:00000000 00:00000000 00000000     0        0 10531 2 00000000adcf9d90 20 0 0 10 -1                     
   5: 0200A8C0:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 10600 1 00000000abae6d5f 100 0 0 10 0                      
"""
PROC_NET_TCP6 = """\
  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000000000000:46A0 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 10529 1 00000000ecf674bf 100 0 0 10 0
   1: 0000000000000000FFFF00000100007F:4759 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 10530 1 00000000a3549870 100 0 0 10 0
   2: 00000000000000000000000001000000:2CAA 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 10528 1 000000000445bfe7 100 0 0 10 0
"""


def test_every_listening_socket_is_found_with_its_address_family_and_inode():
    found = parse_listening(PROC_NET_TCP + PROC_NET_TCP6)
    assert [(p.port, p.address, p.family, p.inode) for p in found] == [
        (18888, "127.0.0.1", 4, 10526),
        (2024, "0.0.0.0", 4, 1533),
        (18000, "0.0.0.0", 4, 10527),
        (8080, "192.168.0.2", 4, 10600),
        (18080, "::", 6, 10529),
        (18265, "::ffff:127.0.0.1", 6, 10530),
        (11434, "::1", 6, 10528),
    ]


def test_established_connections_are_not_listeners():
    assert 58434 not in {p.port for p in parse_listening(PROC_NET_TCP)}  # 0xE442, state 01


def test_only_loopback_and_wildcard_binds_are_offered_sorted_and_named():
    ports = forwardable_ports(PROC_NET_TCP + PROC_NET_TCP6, name_of={11434: "ollama"})
    assert [p.port for p in ports] == [2024, 11434, 18000, 18080, 18265, 18888]  # not 192.168.0.2:8080
    assert next(p for p in ports if p.port == 11434).preset == "ollama"


def test_a_port_bound_on_both_v4_and_v6_is_one_entry():
    both = PROC_NET_TCP + PROC_NET_TCP6.replace(":46A0 ", ":49C8 ")  # [::]:18888 as well
    ports = forwardable_ports(both)
    assert [p for p in ports if p.port == 18888] == [DetectedPort(18888, "127.0.0.1", 4, None, None, 10526)]


def test_ignored_ports_are_left_out():
    assert 2024 not in {p.port for p in forwardable_ports(PROC_NET_TCP, ignore=frozenset({2024}))}


def test_garbage_and_truncated_lines_do_not_hide_good_ones():
    text = "nonsense\n   9: ZZZZ:0050 00000000:0000 0A x x x x x 1\n   7: 0100007F:1F90\n" + PROC_NET_TCP
    assert 18888 in {p.port for p in parse_listening(text)}
    assert parse_listening("") == ()


@pytest.mark.parametrize(
    ("address", "expected"),
    [("127.0.0.1", True), ("127.1.2.3", True), ("0.0.0.0", True), ("::", True), ("::1", True),
     ("::ffff:127.0.0.1", True), ("::ffff:0.0.0.0", True), ("192.168.0.2", False), ("fe80::1", False),
     ("::ffff:10.0.0.1", False)],
)
def test_reachable_addresses_are_loopback_or_wildcard(address, expected):
    assert reachable_through_tunnel(address) is expected


def test_rules_deny_wins_and_an_empty_allow_list_means_everything_else():
    rules = PortRules(allow=(), deny=("22", "6000-6063"))
    assert port_allowed(8888, rules) and not port_allowed(22, rules) and not port_allowed(6010, rules)
    rules = PortRules(allow=("8000-8999", "11000"), deny=("8080",))
    assert port_allowed(8888, rules) and port_allowed(11000, rules)
    assert not port_allowed(8080, rules) and not port_allowed(3000, rules)


def test_bad_rule_entries_are_reported_by_the_check_and_ignored_when_matching():
    with pytest.raises(ValueError, match="'80-x' is not a port"):
        check_port_rules(PortRules(allow=("80-x",)))
    with pytest.raises(ValueError, match="reversed"):
        check_port_rules(PortRules(deny=("9000-8000",)))
    assert port_allowed(8888, PortRules(allow=("junk", "8888")))
    check_port_rules(PortRules(allow=("1-65535",), deny=(" 22 ",)))


def _hex_v4(address: str, port: int) -> str:
    return socket.inet_aton(address)[::-1].hex().upper() + f":{port:04X}"


@given(st.ip_addresses(v=4), st.integers(1, 65535))
def test_any_ipv4_listener_round_trips_through_the_parser(ip, port):
    line = f"   0: {_hex_v4(str(ip), port)} 00000000:0000 0A 00000000:00000000 00:00000000 00000000  0  0 77 1 0 100 0 0 10 0"
    [found] = parse_listening(line)
    assert (found.address, found.port, found.family) == (str(ip), port, 4)


@given(st.binary(max_size=300).map(lambda b: b.decode("latin-1")))
def test_random_text_never_crashes_the_parser(text):
    parse_listening(text)
