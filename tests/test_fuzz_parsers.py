"""Everything the network or a remote program can say, fuzzed: nothing escapes, everything stays bounded.

The parsers under test read text we do not control: mDNS answers (``mdns_records.translate`` and
``translate_from_cache``, then ``merge_devices``/``display_safe``), the remote's terminal output
(``Terminal.feed``), nvidia-smi and ``/proc`` text (``core.telemetry``, the telemetry decoder)
and ``/proc/net/tcp`` (``core.proc_net``). Each property runs a fixed number of examples by
default; the ``slow`` variants run many more (``--run-slow`` or ``SPARK_TUI_RUN_SLOW=1``).
Every test prints how many cases it ran (``-s`` shows them).
"""

from __future__ import annotations

import ipaddress
import time
import unicodedata

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from zeroconf import BadTypeInNameException, DNSAddress, DNSService, DNSText, Zeroconf
from zeroconf.asyncio import AsyncServiceInfo
from zeroconf.const import _CLASS_IN, _TYPE_A, _TYPE_AAAA, _TYPE_SRV, _TYPE_TXT

from spark_tui.core import proc_net
from spark_tui.core.untrusted import display_safe
from spark_tui.core.devices import merge_devices
from spark_tui.core.models import DeviceProfile, DiscoveredService, PortRules
from spark_tui.core.telemetry import (
    cpu_busy_percent,
    parse_cpu_line,
    parse_df,
    parse_gpu_csv,
    parse_gpu_line,
    parse_meminfo,
)
from spark_tui.services.discovery import records as mdns_records
from spark_tui.services.telemetry.sampler import TelemetryDecoder
from spark_tui.widgets.terminal.emulator import HOLD_LIMIT, Terminal

DEFAULT_EXAMPLES = 150
SLOW_EXAMPLES = 3000
MAX_COMBINING_PER_CELL = 32
"""A cell may carry a few combining marks (xterm keeps 2); more is a memory/CPU amplifier."""

BASE = settings(
    deadline=None,
    database=None,
    derandomize=False,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
)
cases: dict[str, int] = {}


def counted(name: str) -> None:
    cases[name] = cases.get(name, 0) + 1


def run(prop, examples: int, name: str) -> None:
    """Run hypothesis property ``prop`` for ``examples`` examples and report the count."""
    cases[name] = 0
    try:
        settings(BASE, max_examples=examples)(prop)()
    finally:
        # settings() marks the function as configured; unmark it so the other variant (default
        # or slow, both in one --run-slow session) can apply its own example count.
        prop.__dict__.pop("_hypothesis_internal_settings_applied", None)
    print(f"\n{name}: {cases[name]} cases")
    assert cases[name] > 0


def is_control(char: str) -> bool:
    code = ord(char)
    return code < 0x20 or 0x7F <= code <= 0x9F


# --- mDNS answers ------------------------------------------------------------------------------

SSH = "_ssh._tcp.local."
hostile_text = st.lists(
    st.one_of(
        st.characters(codec="utf-8"),
        st.sampled_from(["\x1b", "\x1b[2J", "\u202e", "\x00", "\x9b", "\u2028", ".", "\\", "%", "#"]),
    ),
    max_size=60,
).map("".join)
ipv4 = st.integers(0, 2**32 - 1).map(lambda n: ipaddress.IPv4Address(n).packed)
ipv6 = st.integers(0, 2**128 - 1).map(lambda n: ipaddress.IPv6Address(n).packed)
txt_bytes = st.binary(max_size=300)
properties = st.dictionaries(st.binary(min_size=1, max_size=100), st.one_of(st.none(), st.binary(max_size=300)), max_size=40)


def check_service(found: DiscoveredService) -> None:
    """The bounds ``translate`` promises, whatever the answer held."""
    assert len(found.instance) <= mdns_records.MAX_NAME
    assert len(found.server) <= mdns_records.MAX_NAME
    assert len(found.addresses) <= mdns_records.MAX_ADDRESSES
    for address in found.addresses:
        ipaddress.ip_address(address.split("%", 1)[0])  # every address is a real one
    assert 0 <= found.port <= 65535
    assert len(found.txt) <= mdns_records.MAX_TXT_ENTRIES
    for key, value in found.txt.items():
        assert 0 < len(key) <= mdns_records.MAX_TXT_KEY and len(value) <= mdns_records.MAX_TXT_VALUE
    for text in (found.instance, found.server, *found.txt, *found.txt.values()):
        shown = display_safe(text, 64)
        assert len(shown) <= 64 and shown.isprintable() and not any(is_control(c) for c in shown)


@given(
    label=hostile_text,
    server=hostile_text,
    port=st.integers(-5, 70000),
    addresses=st.lists(st.one_of(ipv4, ipv6), max_size=40),
    props=properties,
)
def translate_property(label, server, port, addresses, props):
    try:
        info = AsyncServiceInfo(
            SSH, f"{label}.{SSH}", port=port if 0 <= port <= 65535 else None, properties=props,
            server=f"{server}.local." if server else None, addresses=addresses,
        )
    except (BadTypeInNameException, ValueError, UnicodeError):
        assume(False)  # zeroconf refuses the name itself; translate_from_cache covers those
    counted("translate")
    check_service(mdns_records.translate(info, SSH, interface="127.0.0.1", now=1.0))


def test_any_resolved_mdns_answer_translates_to_bounded_display_safe_values():
    run(translate_property, DEFAULT_EXAMPLES, "translate")


@pytest.mark.slow
def test_many_resolved_mdns_answers_translate_to_bounded_display_safe_values():
    run(translate_property, SLOW_EXAMPLES, "translate")


@pytest.fixture(scope="module")
def loopback_zeroconf():
    """A zeroconf instance on 127.0.0.1 only, whose cache the cache-reading path is fed from."""
    zc = Zeroconf(interfaces=["127.0.0.1"])
    yield zc
    zc.close()


def cache_property(zc: Zeroconf):
    @given(
        name=st.binary(min_size=1, max_size=300).map(lambda b: b.decode("utf-8", "replace")),
        server=st.binary(max_size=300).map(lambda b: b.decode("utf-8", "replace")),
        port=st.integers(0, 65535),
        texts=st.lists(txt_bytes, max_size=3),
        v4=st.lists(ipv4, max_size=20),
        v6=st.lists(ipv6, max_size=20),
    )
    def prop(name, server, port, texts, v4, v6):
        counted("translate_from_cache")
        instance = f"{name}.{SSH}"
        records = [DNSService(instance, _TYPE_SRV, _CLASS_IN, 120, 0, 0, port, server)]
        records += [DNSText(instance, _TYPE_TXT, _CLASS_IN, 120, text) for text in texts]
        records += [DNSAddress(server, _TYPE_A, _CLASS_IN, 120, packed) for packed in v4]
        records += [DNSAddress(server, _TYPE_AAAA, _CLASS_IN, 120, packed) for packed in v6]
        records = list(dict.fromkeys(records))  # the cache holds one copy of equal records
        zc.cache.async_add_records(records)
        try:
            check_service(mdns_records.translate_from_cache(zc, SSH, instance, interface="127.0.0.1"))
        finally:
            zc.cache.async_remove_records(records)

    return prop


def test_any_cached_mdns_record_set_translates_to_bounded_display_safe_values(loopback_zeroconf):
    run(cache_property(loopback_zeroconf), DEFAULT_EXAMPLES, "translate_from_cache")


@pytest.mark.slow
def test_many_cached_mdns_record_sets_translate_to_bounded_display_safe_values(request, loopback_zeroconf):
    run(cache_property(loopback_zeroconf), SLOW_EXAMPLES, "translate_from_cache")


address_text = st.one_of(
    ipv4.map(lambda p: str(ipaddress.IPv4Address(p))),
    ipv6.map(lambda p: str(ipaddress.IPv6Address(p))),
    st.sampled_from(["fe80::1%2", "fe80::1%eth0", "169.254.1.1", "127.0.0.1", "::1", "198.18.0.2"]),
)
host_names = st.one_of(
    hostile_text,
    st.sampled_from(["spark-1a2b", "spark-1a2b-2", "gx10-00ff", "promaxgb10-beef", "box"]),
).map(lambda h: f"{h}.local.")
services = st.builds(
    DiscoveredService,
    instance=st.one_of(hostile_text, st.sampled_from(["spark-1a2b", "spark-1a2b #2", "box (3)"])).map(lambda s: f"{s}.{SSH}"),
    service_type=st.just(SSH),
    server=st.one_of(st.just(""), host_names),
    addresses=st.lists(address_text, max_size=5).map(tuple),
    port=st.integers(0, 65535),
    txt=st.dictionaries(hostile_text, hostile_text, max_size=3),
    last_seen=st.floats(0, 2e9, allow_nan=False),
)
profiles = st.lists(
    st.builds(
        DeviceProfile,
        name=st.sampled_from(["spark-1a2b", "lab", "box", "gx10-00ff", "a", "b"]),
        host=st.one_of(host_names.map(lambda h: h.rstrip(".")), address_text),
        port=st.integers(1, 65535),
    ),
    max_size=4,
    unique_by=lambda p: p.name,
)


@given(saved=profiles, heard=st.lists(services, max_size=12, unique_by=lambda s: s.instance), now=st.floats(0, 2e9, allow_nan=False))
def merge_property(saved, heard, now):
    counted("merge_devices")
    rows = merge_devices(saved, heard, {}, now)
    # Saved profiles come first, in order, and nothing heard over mDNS changes who they are.
    assert len(rows) >= len(saved)
    for profile, row in zip(saved, rows):
        assert row.profile is profile
        assert (row.name, row.host, row.port, row.key) == (profile.name, profile.host, profile.port, f"profile:{profile.name}")
    # Every instance heard lands in exactly one row.
    merged = [instance for row in rows for instance in row.instances]
    assert sorted(merged) == sorted(dict.fromkeys(s.instance for s in heard))
    for row in rows[len(saved):]:
        assert row.profile is None and row.advertised
    for row in rows:
        for text in (row.name, row.host, *row.addresses):
            shown = display_safe(text, 48)
            assert len(shown) <= 48 and not any(is_control(c) for c in shown)


def test_any_mix_of_profiles_and_mdns_answers_merges_without_changing_a_saved_identity():
    run(merge_property, DEFAULT_EXAMPLES, "merge_devices")


@pytest.mark.slow
def test_many_mixes_of_profiles_and_mdns_answers_merge_without_changing_a_saved_identity():
    run(merge_property, SLOW_EXAMPLES, "merge_devices")


# --- the terminal emulator -------------------------------------------------------------------

params = st.lists(st.one_of(st.integers(0, 70000).map(str), st.just(""), st.text("0123456789:;<=>?", max_size=8)), max_size=6).map(";".join)
sequences = st.one_of(
    st.builds(lambda p, i, f: f"\x1b[{p}{i}{f}", st.sampled_from(["", "?", ">", "<", "="]).flatmap(lambda pre: params.map(lambda p: pre + p)),
              st.text(" !\"#$%&'()*+,-./", max_size=2), st.characters(min_codepoint=0x40, max_codepoint=0x7E)),
    st.builds(lambda c, body, end: f"\x1b]{c};{body}{end}", st.sampled_from(["0", "2", "8", "52", "4", "10", "11", "1337", "x"]),
              st.text(max_size=60), st.sampled_from(["\x07", "\x1b\\", "", "\x1b"])),
    st.builds(lambda k, body, end: f"\x1b{k}{body}{end}", st.sampled_from(["P", "_", "^", "X"]), st.text(max_size=60),
              st.sampled_from(["\x07", "\x1b\\", ""])),
    st.builds(lambda i, f: f"\x1b{i}{f}", st.text(" !\"#$%&'()*+,-./", max_size=2), st.characters(min_codepoint=0x30, max_codepoint=0x7E)),
    st.sampled_from(["\r\n", "\n", "\r", "\t", "\b", "\x07", "\x0e", "\x0f", "\x05", "\x9b", "\x9d", "\x90", "\x1b", "\x1bc",
                     "\x1b[?1049h", "\x1b[?1049l", "\x1b[?47h", "\x1b[2;5r", "\x1b[?6h", "\x1b#8", "\x1b(0", "\x1b[4h"]),
    st.text(max_size=40),
    st.text(alphabet=st.characters(categories=["Mn", "Me", "Lo", "So"]), max_size=20),
)
streams = st.lists(
    st.one_of(sequences.map(lambda s: ("text", s.encode("utf-8", "surrogatepass"))), st.binary(max_size=64).map(lambda b: ("bytes", b)),
              st.tuples(st.integers(1, 200), st.integers(1, 80)).map(lambda size: ("resize", size))),
    max_size=60,
)


def check_terminal(term: Terminal, scrollback: int) -> None:
    assert 0 <= term.x < term.cols and 0 <= term.y < term.rows
    assert 0 <= term.top <= term.bottom < term.rows
    assert len(term.main.lines) == term.rows and len(term.alt.lines) == term.rows
    for line in term.lines:
        assert len(line.chars) == term.cols and len(line.attrs) == term.cols
        for cell in line.chars:
            assert not any(is_control(c) for c in cell)
            assert len(cell) <= 1 + MAX_COMBINING_PER_CELL
    assert term.history is None or len(term.history) <= scrollback
    assert len(term._hold) <= HOLD_LIMIT + 16
    assert term.title.isprintable() and len(term.title) <= 120
    term.display  # renders as text


@given(cols=st.integers(1, 200), rows=st.integers(1, 60), stream=streams, splits=st.integers(1, 7))
def terminal_property(cols, rows, stream, splits):
    counted("terminal")
    replies: list[bytes] = []
    term = Terminal(cols, rows, scrollback=50, on_reply=replies.append)
    fed = 0
    started = time.monotonic()
    for kind, item in stream:
        if kind == "resize":
            term.resize(*item)
            continue
        for start in range(0, len(item), splits):  # sequences and UTF-8 split at any byte
            term.feed(item[start:start + splits])
        fed += len(item)
        check_terminal(term, 50)
    # No hang: a few hundred bytes never take seconds (a hang detector, not a speed test).
    assert time.monotonic() - started < 2.0 + fed * 0.001
    for reply in replies:
        assert (reply.startswith(b"\x1b[") or reply.startswith(b"\x1bP>|spark-tui(")) and len(reply) <= 48 and reply.isascii()


def test_any_remote_output_keeps_the_terminal_consistent_and_bounded():
    run(terminal_property, DEFAULT_EXAMPLES, "terminal")


@pytest.mark.slow
def test_much_remote_output_keeps_the_terminal_consistent_and_bounded():
    run(terminal_property, SLOW_EXAMPLES, "terminal")


@pytest.mark.parametrize(
    "sequence",
    [b"\x1b[" + b"9" * 5000 + b"@", b"\x1b[?" + b"9" * 5000 + b"h", b"\x1b[1;" + b"7" * 4400 + b"H", b"\x1b[" + b"1;" * 3000 + b"m"],
    ids=["ich-5000-digits", "decset-5000-digits", "cup-4400-digits", "sgr-3000-params"],
)
def test_a_parameter_with_thousands_of_digits_is_clamped_not_an_exception(sequence):
    term = Terminal(80, 24)
    term.feed(b"before" + sequence + b"after")
    check_terminal(term, 10_000)
    assert "after" in "".join(term.display)


def test_a_flood_of_combining_marks_keeps_each_cell_bounded_and_costs_linear_time():
    term = Terminal(80, 24)
    small, large = b"a" + "\u0301".encode() * 2_000, b"a" + "\u0301".encode() * 40_000
    started = time.perf_counter()
    term.feed(small)
    per_byte_small = (time.perf_counter() - started) / len(small)
    started = time.perf_counter()
    term.feed(b"\r\n" + large)
    per_byte_large = (time.perf_counter() - started) / len(large)
    check_terminal(term, 10_000)
    # 20x the input must not cost much more than 20x the time (quadratic growth would be ~400x).
    assert per_byte_large < 10 * per_byte_small + 2e-6


def test_an_endless_unterminated_osc_is_dropped_and_the_terminal_recovers():
    term = Terminal(40, 5)
    term.feed(b"\x1b]0;")
    for _ in range(64):
        term.feed(b"x" * 4096)  # 256 KiB of title that never ends
    assert len(term._hold) <= HOLD_LIMIT
    term.feed(b"\x07visible")
    check_terminal(term, 10_000)
    assert "visible" in "".join(term.display) and term.title == ""


# --- nvidia-smi, /proc/stat, /proc/meminfo, df, and the telemetry stream --------------------

numberish = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(str), st.integers(-10**30, 10**30).map(str),
    st.sampled_from(["[N/A]", "N/A", "Not Supported", "[Not Supported]", "ERR!", "", " ", "45 %", "41.2 W", "1e400", "-0", "nan", "0x10"]),
    st.text(max_size=12),
)
gpu_lines = st.one_of(st.lists(numberish, max_size=9).map(", ".join), st.text(max_size=200))


@given(lines=st.lists(gpu_lines, max_size=12))
def gpu_property(lines):
    counted("nvidia-smi")
    for line in lines:
        sample = parse_gpu_line(line)
        if sample is not None:
            assert 0 <= sample.index <= 9999
            assert sample.name.isprintable() and len(sample.name) <= 120
            for value in (sample.utilization, sample.temperature, sample.power, sample.memory_used, sample.memory_total):
                assert value is None or (isinstance(value, float) and value == value and abs(value) != float("inf"))
    samples = parse_gpu_csv("\n".join(lines))
    assert len({s.index for s in samples}) == len(samples)


def test_any_nvidia_smi_output_parses_to_finite_numbers_or_unknown():
    run(gpu_property, DEFAULT_EXAMPLES * 2, "nvidia-smi")


@pytest.mark.slow
def test_much_nvidia_smi_output_parses_to_finite_numbers_or_unknown():
    run(gpu_property, SLOW_EXAMPLES * 2, "nvidia-smi")


proc_lines = st.one_of(
    st.lists(st.one_of(st.integers(-5, 10**25).map(str), st.text(max_size=6)), max_size=11).map(lambda p: " ".join(["cpu", *p])),
    st.lists(st.one_of(st.integers(-5, 10**25).map(str), st.sampled_from(["kB", "MemTotal:", "MemAvailable:"]), st.text(max_size=6)), max_size=4).map(" ".join),
    st.lists(st.one_of(st.integers(-5, 10**25).map(str), st.sampled_from(["/", "%", "50%", "100%", "Filesystem"]), st.text(max_size=6)), max_size=8).map(" ".join),
    st.text(max_size=120),
)
tags = st.sampled_from(["@P", "@N", "@C", "@M", "@D", "@d", "@E", "@X", "@"])
stream_lines = st.one_of(proc_lines, gpu_lines, st.tuples(tags, proc_lines).map(" ".join))


@given(before=proc_lines, after=proc_lines, lines=st.lists(proc_lines, max_size=10), stream=st.lists(stream_lines, max_size=80))
def proc_property(before, after, lines, stream):
    counted("proc-and-stream")
    busy = cpu_busy_percent(before, after)
    assert busy is None or 0.0 <= busy <= 100.0
    parse_cpu_line(before)
    total, available = parse_meminfo(lines)
    assert (total is None or total >= 0) and (available is None or available >= 0)
    disk_total, used = parse_df(lines)
    assert (disk_total is None) == (used is None) and (disk_total is None or disk_total >= 0 and used >= 0)
    decoder = TelemetryDecoder("fuzz")
    for index, line in enumerate(stream):
        sample = decoder.feed(line, float(index))
        if sample is not None:
            assert sample.cpu is None or 0.0 <= sample.cpu <= 100.0
            assert len(sample.gpus) <= 10_000
        assert len(decoder._mem) <= 4 and (decoder._df is None or len(decoder._df) <= 16)
    assert decoder.remote_pid is None or 0 <= decoder.remote_pid < 10**10


def test_any_proc_text_and_telemetry_stream_decodes_without_escaping_its_bounds():
    run(proc_property, DEFAULT_EXAMPLES * 2, "proc-and-stream")


@pytest.mark.slow
def test_many_proc_texts_and_telemetry_streams_decode_without_escaping_their_bounds():
    run(proc_property, SLOW_EXAMPLES * 2, "proc-and-stream")


# --- /proc/net/tcp -----------------------------------------------------------------------------

hexes = st.text("0123456789ABCDEFabcdef", min_size=0, max_size=34)
tcp_lines = st.one_of(
    st.builds(
        lambda slot, addr, port, state, inode, extra: f"{slot}: {addr}:{port} 00000000:0000 {state} 00000000:00000000 00:00000000 00000000 0 0 {inode}{extra}",
        st.integers(0, 99).map(str), st.one_of(hexes, st.sampled_from(["0100007F", "00000000", "0" * 32, "0" * 24 + "01000000"])),
        st.one_of(hexes, st.sampled_from(["1F90", "FFFF", "10000", "FFFFFFFF", "0x1F", "1_0", "-1"])),
        st.sampled_from(["0A", "01", "0a", "XX"]), st.one_of(st.integers(-10, 10**20).map(str), st.text(max_size=5)), st.text(max_size=20),
    ),
    st.text(max_size=160),
)
rule_entries = st.lists(st.one_of(st.integers(-5, 70000).map(str), st.builds("{}-{}".format, st.integers(-5, 70000), st.integers(-5, 70000)),
                                  st.text(max_size=8)), max_size=4).map(tuple)


@given(lines=st.lists(tcp_lines, max_size=20), allow=rule_entries, deny=rule_entries, ignore=st.frozensets(st.integers(0, 65535), max_size=3))
def proc_net_property(lines, allow, deny, ignore):
    counted("proc-net-tcp")
    text = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n" + "\n".join(lines)
    for found in proc_net.parse_listening(text):
        assert 0 <= found.port <= 65535, found
        assert found.family in (4, 6) and found.inode >= 0
        ipaddress.ip_address(found.address)
    rules = PortRules(allow, deny)
    offered = proc_net.forwardable_ports(text, rules, ignore=ignore)
    ports = [p.port for p in offered]
    assert ports == sorted(set(ports))
    for port in offered:
        assert port.port not in ignore and proc_net.reachable_through_tunnel(port.address)
        assert proc_net.port_allowed(port.port, rules)


def test_any_proc_net_tcp_text_yields_only_real_ports_that_pass_the_rules():
    run(proc_net_property, DEFAULT_EXAMPLES * 2, "proc-net-tcp")


@pytest.mark.slow
def test_much_proc_net_tcp_text_yields_only_real_ports_that_pass_the_rules():
    run(proc_net_property, SLOW_EXAMPLES * 2, "proc-net-tcp")


def test_a_port_field_wider_than_16_bits_is_not_reported_as_a_port():
    line = "   0: 0100007F:10050 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4242"
    assert proc_net.parse_listening(line) == ()
    assert [p.port for p in proc_net.parse_listening(line.replace("10050", "1F90"))] == [8080]


def test_display_safe_never_lets_unicode_format_or_control_characters_through():
    everything = "".join(chr(c) for c in range(0x0, 0x3000) if not 0xD800 <= c <= 0xDFFF)
    shown = display_safe(everything, 10**6)
    assert not any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in shown)
