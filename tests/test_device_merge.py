"""Saved profiles and mDNS answers merge into one row per device; untrusted text is shown safely."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from spark_tui.core.device_listing import DiscoveryStats, diagnostics_text, filter_rows, sort_rows
from spark_tui.core.untrusted import display_safe
from spark_tui.core.devices import NAME_ONLY, DeviceRow, ProbeResult, merge_devices, spark_model
from spark_tui.core.models import DeviceProfile, DiscoveredService

SSH = "_ssh._tcp.local."


def svc(instance: str, server: str, *addresses: str, port: int = 22, seen: float = 100.0) -> DiscoveredService:
    return DiscoveredService(f"{instance}.{SSH}", SSH, server, tuple(addresses), port, last_seen=seen)


def test_a_spark_answering_on_several_interfaces_is_one_row_with_every_address():
    services = [
        svc("spark-1a2b", "spark-1a2b.local.", "fe80::1%3", "169.254.10.2"),
        svc("spark-1a2b", "spark-1a2b.local.", "192.0.2.7"),
        svc("spark-1a2b", "SPARK-1A2B.local.", "2001:db8::7"),
    ]
    rows = merge_devices([], services, {}, 200.0)
    assert len(rows) == 1
    row = rows[0]
    assert row.addresses == ("192.0.2.7", "2001:db8::7", "169.254.10.2", "fe80::1%3")
    assert row.model == "DGX Spark"
    assert row.host == "spark-1a2b.local"
    assert row.probe_target == ("192.0.2.7", 22)


def test_an_avahi_host_rename_that_shares_an_address_merges_into_the_original():
    services = [
        svc("spark1", "spark1.local.", "192.0.2.9", seen=100.0),
        svc("spark1 #2", "spark1-30.local.", "192.0.2.9", "169.254.1.1", seen=150.0),
    ]
    rows = merge_devices([], services, {}, 200.0)
    assert len(rows) == 1
    assert rows[0].name == "spark1-30"  # the name heard most recently is the one that resolves
    assert set(rows[0].instances) == {f"spark1.{SSH}", f"spark1 #2.{SSH}"}


def test_two_sparks_sharing_a_name_are_two_rows_each_with_its_own_addresses():
    # Avahi renamed the second one: a rename alone says nothing, the addresses differ.
    first = svc("spark-beef", "spark-beef.local.", "192.0.2.2", "fe80::2%3", seen=100.0)
    second = svc("spark-beef-2", "spark-beef-2.local.", "192.0.2.3", "fe80::3%3", seen=150.0)
    for services in ([first, second], [second, first]):
        rows = sorted(merge_devices([], services, {}, 200.0), key=lambda r: r.name)
        assert [(r.name, r.host, r.addresses) for r in rows] == [
            ("spark-beef", "spark-beef.local", ("192.0.2.2", "fe80::2%3")),
            ("spark-beef-2", "spark-beef-2.local", ("192.0.2.3", "fe80::3%3")),
        ]
        assert {r.key for r in rows} == {"host:spark-beef", "host:spark-beef-2"}


def test_a_saved_spark_keeps_its_own_row_and_the_namesake_stays_listed():
    profile = DeviceProfile(name="desk", host="spark-beef.local")
    first = svc("spark-beef", "spark-beef.local.", "192.0.2.2")
    second = svc("spark-beef-2", "spark-beef-2.local.", "192.0.2.3")
    for services in ([first, second], [second, first]):
        rows = merge_devices([profile], services, {}, 0.0)
        assert [(r.key, r.addresses, r.advertised) for r in rows] == [
            ("profile:desk", ("192.0.2.2",), True),
            ("host:spark-beef-2", ("192.0.2.3",), True),
        ]


def test_a_host_found_by_name_only_is_marked_and_not_called_advertised():
    reverse = DiscoveredService("4.2.0.192.in-addr.arpa.", NAME_ONLY, "quiet-box.local.", ("192.0.2.4",), last_seen=90.0)
    rows = merge_devices([], [reverse], {}, 100.0)
    assert [(r.name, r.host, r.addresses, r.port, r.name_only, r.advertised, r.instances) for r in rows] == [
        ("quiet-box", "quiet-box.local", ("192.0.2.4",), 22, True, False, ())
    ]


def test_a_host_advertising_ssh_and_found_by_name_is_one_advertised_row():
    reverse = DiscoveredService("4.2.0.192.in-addr.arpa.", NAME_ONLY, "spark-0004.local.", ("192.0.2.4",))
    rows = merge_devices([], [reverse, svc("spark-0004", "spark-0004.local.", "192.0.2.4")], {}, 100.0)
    assert [(r.name, r.name_only, r.advertised, r.instances) for r in rows] == [
        ("spark-0004", False, True, (f"spark-0004.{SSH}",))
    ]


def test_instance_renames_on_the_same_host_merge():
    services = [svc("gx10-00ff", "gx10-00ff.local."), svc("gx10-00ff #2", "gx10-00ff.local.")]
    rows = merge_devices([], services, {}, 0.0)
    assert [r.model for r in rows] == ["ASUS Ascent GX10"]


def test_different_hosts_with_numbered_names_stay_apart():
    services = [svc("web-01", "web-01.local.", "192.0.2.1"), svc("web-02", "web-02.local.", "192.0.2.2")]
    rows = merge_devices([], services, {}, 0.0)
    assert [r.name for r in rows] == ["web-01", "web-02"]
    assert len({r.key for r in rows}) == 2
    assert all(r.model is None for r in rows)


def test_loopback_addresses_do_not_merge_different_hosts():
    services = [svc("a", "a.local.", "127.0.0.1"), svc("b", "b.local.", "127.0.0.1")]
    assert len(merge_devices([], services, {}, 0.0)) == 2


@pytest.mark.parametrize("host", ["Spark-1A2B.local.", "spark-1a2b", "spark-1a2b.local", "192.0.2.7"])
def test_a_discovered_device_matching_a_profile_is_that_profiles_row(host):
    profile = DeviceProfile(name="lab", host=host, tags=("fleet",))
    services = [svc("spark-1a2b", "spark-1a2b.local.", "192.0.2.7", seen=90.0)]
    rows = merge_devices([profile], services, {}, 100.0)
    assert len(rows) == 1
    assert rows[0].key == "profile:lab" and rows[0].profile is profile
    assert rows[0].advertised and rows[0].last_seen == 90.0
    assert rows[0].host == host  # connect the way the user saved it
    assert rows[0].model == "DGX Spark"


def test_a_saved_name_matches_its_avahi_rename_when_nothing_else_claims_it():
    profile = DeviceProfile(name="desk", host="spark1.local")
    rows = merge_devices([profile], [svc("spark1 #2", "spark1-30.local.", "192.0.2.4")], {}, 0.0)
    assert len(rows) == 1 and rows[0].advertised and rows[0].addresses == ("192.0.2.4",)


def test_a_profile_not_advertised_is_still_a_row_and_keeps_its_last_seen():
    profile = DeviceProfile(name="gone", host="spark-0001.local")
    rows = merge_devices([profile], [], {}, 500.0, seen={"spark-0001": 321.0})
    assert rows == [
        DeviceRow(key="profile:gone", name="gone", host="spark-0001.local", port=22, profile=profile, last_seen=321.0, model="DGX Spark")
    ]


def test_two_profiles_never_claim_the_same_discovered_device():
    a = DeviceProfile(name="a", host="spark-1a2b.local")
    b = DeviceProfile(name="b", host="192.0.2.7")
    rows = merge_devices([a, b], [svc("spark-1a2b", "spark-1a2b.local.", "192.0.2.7")], {}, 0.0)
    assert [(r.name, r.advertised) for r in rows] == [("a", True), ("b", False)]


def test_probe_results_land_on_their_row_by_key_or_by_host_and_port():
    services = [svc("spark-1a2b", "spark-1a2b.local.", "192.0.2.7"), svc("box", "box.local.", "192.0.2.8", port=2222)]
    probes = {
        "host:spark-1a2b": ProbeResult(True, 1.5, "SSH-2.0-OpenSSH_9.6"),
        "192.0.2.8:2222": ProbeResult(False, None, "", "connection refused"),
    }
    spark, box = merge_devices([], services, probes, 0.0)
    assert (spark.reachable, spark.latency_ms, spark.banner) == (True, 1.5, "SSH-2.0-OpenSSH_9.6")
    assert (box.reachable, box.port) == (False, 2222)


@pytest.mark.parametrize(
    ("name", "model"),
    [
        ("spark-1a2b", "DGX Spark"),
        ("SPARK-ABCD.local.", "DGX Spark"),
        ("spark-1234", "DGX Spark"),
        ("gx10-9f9f.local", "ASUS Ascent GX10"),
        ("promaxgb10-0a0b", "Dell Pro Max GB10"),
        ("spark-1a2b-2.local", "DGX Spark"),
        ("spark-xyz1", None),
        ("spark-1a2b3", None),
        ("myspark-1a2b", None),
        ("raspberrypi", None),
    ],
)
def test_sparks_are_recognised_by_host_name_only(name, model):
    assert spark_model(name) == model


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("spark\x1b[31m", "spark\\x1b[31m"),
        ("evil\u202etxt.exe", "evil\\u202etxt.exe"),
        ("a\u2066b\u2069c\u200e\u200f", "a\\u2066b\\u2069c\\u200e\\u200f"),
        ("tab\there\nnew", "tab\\x09here\\x0anew"),
        ("back\\slash", "back\\\\slash"),
        ("zero\u200bwidth", "zero\\u200bwidth"),
        ("no\u00a0break", "no\\xa0break"),
        ("caf\u00e9 \u65e5\u672c", "caf\u00e9 \u65e5\u672c"),
    ],
)
def test_display_safe_escapes_control_and_bidi_characters(text, shown):
    assert display_safe(text, 100) == shown


def test_display_safe_truncates_with_an_ellipsis_and_never_splits_an_escape():
    assert display_safe("x" * 300, 10) == "x" * 9 + "\u2026"
    assert display_safe("abcdefgh\x1b", 10) == "abcdefgh\u2026"
    assert display_safe("exactly10!", 10) == "exactly10!"
    with pytest.raises(ValueError):
        display_safe("x", 0)


@given(st.text(), st.integers(min_value=1, max_value=80))
def test_display_safe_output_is_bounded_and_printable(text, limit):
    shown = display_safe(text, limit)
    assert len(shown) <= limit
    assert shown.isprintable()
    assert not any(0x202A <= ord(c) <= 0x202E or 0x2066 <= ord(c) <= 0x2069 for c in shown)


def _rows() -> list[DeviceRow]:
    return [
        DeviceRow("profile:b", "beta", "b.local", 22, reachable=False, last_seen=10.0,
                  profile=DeviceProfile("beta", "b.local", tags=("lab",))),
        DeviceRow("host:alpha", "Alpha", "alpha.local", 22, advertised=True, last_seen=30.0),
        DeviceRow("profile:c", "carol", "192.0.2.1", 22, reachable=True, profile=DeviceProfile("carol", "192.0.2.1")),
    ]


def test_rows_sort_by_name_state_and_last_seen():
    assert [r.name for r in sort_rows(_rows(), "name")] == ["Alpha", "beta", "carol"]
    assert [r.name for r in sort_rows(_rows(), "state")] == ["carol", "Alpha", "beta"]
    assert [r.name for r in sort_rows(_rows(), "last_seen")] == ["Alpha", "beta", "carol"]
    with pytest.raises(ValueError, match="unknown sort key"):
        sort_rows(_rows(), "colour")


def test_the_filter_matches_name_host_or_tag_ignoring_case():
    assert [r.name for r in filter_rows(_rows(), "LAB")] == ["beta"]
    assert [r.name for r in filter_rows(_rows(), "192.0")] == ["carol"]
    assert [r.name for r in filter_rows(_rows(), "alp")] == ["Alpha"]
    assert len(filter_rows(_rows(), "  ")) == 3
    assert filter_rows(_rows(), "nothing") == []


def test_diagnostics_say_what_was_tried_and_what_to_do():
    text = diagnostics_text(DiscoveryStats(interfaces=("127.0.0.1",), answers_heard=4, services_seen=0), 3.0)
    assert "127.0.0.1" in text and "3.0 s" in text and "4 mDNS answers" in text
    assert "corporate" in text and "IPv6" in text and "3-4 minutes" in text
    assert "spark-tui device add NAME --host H" in text
    assert "all interfaces" in diagnostics_text(DiscoveryStats(), 1.0)


def test_a_service_on_loopback_is_the_saved_profile_with_the_same_port_only():
    from spark_tui.core.devices import merge_devices
    from spark_tui.core.models import DeviceProfile, DiscoveredService

    demo = DeviceProfile(name="spark-demo", host="127.0.0.1", port=40022, demo=True)
    other = DeviceProfile(name="other", host="127.0.0.1", port=2222)
    advertised = DiscoveredService("spark-demo._ssh._tcp.local.", "_ssh._tcp.local.", "spark-demo.local.", ("127.0.0.1",), 40022)
    rows = merge_devices([demo, other], [advertised], now=1.0)
    by_name = {row.name: row for row in rows}
    assert set(by_name) == {"spark-demo", "other"}
    assert by_name["spark-demo"].advertised and not by_name["other"].advertised
