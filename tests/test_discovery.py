"""DiscoveryService against real multicast on loopback: python-zeroconf advertisers on 127.0.0.1.

Every instance name carries a per-test token, so services other people's tests advertise on
loopback at the same time never confuse these assertions.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator

import pytest
from zeroconf import DNSAddress, DNSOutgoing, DNSPointer, DNSService, DNSText, ServiceInfo, Zeroconf, const
from zeroconf.asyncio import AsyncZeroconf

from spark_tui.core.untrusted import display_safe
from spark_tui.core.devices import merge_devices
from spark_tui.core.models import DiscoveredService
from spark_tui.services.discovery.browser import DiscoveryService

LOOPBACK = "127.0.0.1"
SSH = "_ssh._tcp.local."


class Recorder:
    """Collects snapshots handed to on_change (on zeroconf's thread) and waits for conditions."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.calls: list[tuple[float, tuple[DiscoveredService, ...]]] = []
        self._cond = threading.Condition()

    def __call__(self, snapshot: tuple[DiscoveredService, ...]) -> None:
        with self._cond:
            self.calls.append((time.monotonic(), snapshot))
            self._cond.notify_all()

    def mine(self, snapshot: tuple[DiscoveredService, ...]) -> list[DiscoveredService]:
        return [s for s in snapshot if self.token in s.instance]

    def wait_for(self, predicate: Callable[[list[DiscoveredService]], bool], timeout: float = 8.0) -> list[DiscoveredService]:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                if self.calls and predicate(self.mine(self.calls[-1][1])):
                    return self.mine(self.calls[-1][1])
                left = deadline - time.monotonic()
                if left <= 0:
                    last = self.mine(self.calls[-1][1]) if self.calls else None
                    raise AssertionError(f"condition not met within {timeout} s; last snapshot: {last}")
                self._cond.wait(left)


@pytest.fixture
def token() -> str:
    return "h3t" + uuid.uuid4().hex[:8]


@pytest.fixture
def browser(token: str) -> Iterator[tuple[DiscoveryService, Recorder]]:
    recorder = Recorder(token)
    service = DiscoveryService(recorder, interfaces=[LOOPBACK], coalesce=0.1)
    service.start()
    yield service, recorder
    service.close()


@pytest.fixture
def advertiser() -> Iterator[Zeroconf]:
    zc = Zeroconf(interfaces=[LOOPBACK])
    yield zc
    zc.close()


def ssh_info(name: str, *addresses: str, port: int = 22, server: str | None = None, txt: dict | None = None) -> ServiceInfo:
    return ServiceInfo(
        SSH,
        f"{name}.{SSH}",
        addresses=[socket.inet_aton(a) for a in addresses],
        port=port,
        server=server or f"{name}.local.",
        properties=txt or {},
    )


def send_raw_answer(
    zc: Zeroconf, label: str, server: str, *, txt: bytes = b"", addresses: tuple[str, ...] = (), ttl: int = 120
) -> None:
    """Answer like a broken or hostile responder would: records zeroconf's ServiceInfo refuses.

    ``ttl=0`` makes it a goodbye.
    """
    instance = f"{label}.{SSH}"
    unique = const._CLASS_IN | const._CLASS_UNIQUE
    out = DNSOutgoing(const._FLAGS_QR_RESPONSE | const._FLAGS_AA)
    out.add_answer_at_time(DNSPointer(SSH, const._TYPE_PTR, const._CLASS_IN, ttl, instance), 0)
    out.add_answer_at_time(DNSService(instance, const._TYPE_SRV, unique, ttl, 0, 0, 22, server), 0)
    out.add_answer_at_time(DNSText(instance, const._TYPE_TXT, unique, ttl, txt), 0)
    for address in addresses:
        out.add_answer_at_time(DNSAddress(server, const._TYPE_A, unique, ttl, socket.inet_aton(address)), 0)
    zc.send(out)


def test_a_service_is_discovered_updated_and_removed_after_its_goodbye(browser, advertiser, token):
    service, recorder = browser
    info = ssh_info(f"spark-{token}", "127.0.0.2", txt={"model": "gb10"})
    advertiser.register_service(info, cooperating_responders=True)
    (found,) = recorder.wait_for(lambda mine: len(mine) == 1)
    assert found.server == f"spark-{token}.local."
    assert found.addresses == ("127.0.0.2",) and found.port == 22
    assert found.txt == {"model": "gb10"}
    assert found.interface == LOOPBACK and found.last_seen > 0

    moved = ssh_info(f"spark-{token}", "127.0.0.3", port=2222)
    advertiser.update_service(moved)
    (updated,) = recorder.wait_for(lambda mine: len(mine) == 1 and mine[0].port == 2222)
    assert updated.addresses[0] == "127.0.0.3"  # the newest address comes first

    advertiser.unregister_service(moved)
    recorder.wait_for(lambda mine: mine == [])
    assert f"spark-{token}" in service.last_seen()  # a device that left still says when it was seen
    assert service.stats().answers_heard > 0 and service.stats().services_seen >= 1


def test_snapshot_reads_the_current_services_from_any_thread(browser, advertiser, token):
    service, recorder = browser
    advertiser.register_service(ssh_info(f"box-{token}", "127.0.0.4"), cooperating_responders=True)
    recorder.wait_for(lambda mine: len(mine) == 1)
    assert [s.instance for s in service.snapshot() if token in s.instance] == [f"box-{token}.{SSH}"]


def test_hostile_names_and_txt_are_bounded_and_shown_escaped(browser, advertiser, token):
    _, recorder = browser
    evil_label = f"evil\x1b[2J\u202egnp.exe-{token}-" + "z" * 30  # 63 bytes on the wire at most
    long_server = ("y" * 60 + ".") * 4 + "local."
    txt = bytes([249]) + b"k=" + b"\xff" * 247 + bytes([5]) + b"a=\x1b\x00b"
    send_raw_answer(advertiser, evil_label, long_server, txt=txt, addresses=("127.0.0.7",))
    (bad,) = recorder.wait_for(lambda mine: len(mine) == 1)
    assert len(bad.server) == 250 and bad.addresses == ("127.0.0.7",)
    assert bad.txt["a"] == "\x1b\x00b"  # kept as data ...
    assert set(bad.txt["k"]) == {"\ufffd"}  # invalid UTF-8 decoded leniently
    shown = display_safe(bad.instance, 200)
    assert "\\x1b[2J\\u202egnp.exe" in shown and "\x1b" not in shown and "\u202e" not in shown
    assert display_safe(bad.txt["a"], 20) == "\\x1b\\x00b"
    (row,) = [r for r in merge_devices([], (bad,), {}, time.time()) if token in r.instances[0]]
    assert row.addresses == ("127.0.0.7",)

    # discovery goes on working after the bad answer
    advertiser.register_service(ssh_info(f"fine-{token}", "127.0.0.8"), cooperating_responders=True)
    recorder.wait_for(lambda mine: len(mine) == 2)


def test_a_service_without_addresses_is_listed_with_none(browser, advertiser, token):
    _, recorder = browser
    advertiser.register_service(ssh_info(f"noaddr-{token}"), cooperating_responders=True)
    (found,) = recorder.wait_for(lambda mine: len(mine) == 1)
    assert found.addresses == () and found.port == 22 and found.server == f"noaddr-{token}.local."


def test_an_ipv6_only_device_is_listed_with_its_ipv6_addresses_link_local_ones_scoped(browser, advertiser, token):
    _, recorder = browser
    info = ServiceInfo(
        SSH,
        f"v6only-{token}.{SSH}",
        addresses=[ipaddress.ip_address("fd18::5").packed, ipaddress.ip_address("fe80::5").packed],
        port=22,
        server=f"v6only-{token}.local.",
    )
    advertiser.register_service(info, cooperating_responders=True)
    (found,) = recorder.wait_for(lambda mine: len(mine) == 1 and len(mine[0].addresses) == 2)
    # Heard over IPv4 (no scope in the packet): the scope of the one interface listened on is
    # added, so the address can be dialled as printed.
    lo = socket.if_nametoindex("lo")
    assert set(found.addresses) == {"fd18::5", f"fe80::5%{lo}"}
    (row,) = merge_devices([], (found,), {}, time.time())
    assert row.addresses == ("fd18::5", f"fe80::5%{lo}") and row.probe_target == ("fd18::5", 22)


def test_a_repeated_unchanged_answer_refreshes_last_seen_without_a_callback(browser, advertiser, token):
    service, recorder = browser
    label, server = f"same-{token}", f"same-{token}.local."
    send_raw_answer(advertiser, label, server, addresses=("127.0.0.13",))
    (first,) = recorder.wait_for(lambda mine: len(mine) == 1)
    time.sleep(0.3)
    calls = len(recorder.calls)
    # (zeroconf drops a byte-identical packet within 1 s, so the refresh carries a new TTL)
    send_raw_answer(advertiser, label, server, addresses=("127.0.0.13",), ttl=119)
    time.sleep(0.4)
    (again,) = [s for s in service.snapshot() if token in s.instance]
    assert again == first  # same service ...
    assert again.last_seen >= first.last_seen + 0.3  # ... heard again ...
    assert len(recorder.calls) == calls  # ... and the UI is not bothered


def test_a_service_flapping_every_100_ms_does_not_flood_the_callback(browser, advertiser, token):
    service, recorder = browser
    label, server = f"flap-{token}", f"flap-{token}.local."
    heard_before = service.stats().answers_heard
    started = time.monotonic()
    for i in range(30):  # 3 s: every 100 ms it appears on a new address, 50 ms later says goodbye
        address = f"127.0.1.{i + 1}"
        send_raw_answer(advertiser, label, server, addresses=(address,))
        time.sleep(0.05)
        send_raw_answer(advertiser, label, server, addresses=(address,), ttl=0)
        time.sleep(0.05)
    elapsed = time.monotonic() - started
    send_raw_answer(advertiser, label, server, addresses=("127.0.1.99",))
    recorder.wait_for(lambda mine: len(mine) == 1 and "127.0.1.99" in mine[0].addresses)
    assert service.stats().answers_heard - heard_before >= 30 * 4  # every packet reached the browser
    times = [t for t, snapshot in recorder.calls if t >= started]
    # 60 changes went by; callbacks saw a sample of them (phase depends on timing), never more
    # than one per `coalesce`, and the last one holds the latest state
    assert len(times) <= (elapsed + 1.0) / 0.1 + 2
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert min(gaps) >= 0.09
    send_raw_answer(advertiser, label, server, addresses=("127.0.1.99",), ttl=0)
    recorder.wait_for(lambda mine: mine == [])  # a goodbye removes it (after the 1 s RFC grace)


async def test_five_hundred_services_at_once_arrive_in_a_few_coalesced_snapshots_and_all_go(token):
    recorder = Recorder(token)
    # Short liveness clock: a goodbye lost on a loaded loopback is caught by the re-query.
    service = DiscoveryService(recorder, interfaces=[LOOPBACK], coalesce=0.1, refresh_after=5.0, gone_after=10.0)
    service.start()
    advertiser = AsyncZeroconf(interfaces=[LOOPBACK])
    try:
        broadcasts = []
        started = time.monotonic()
        for i in range(500):
            info = ssh_info(f"flood{i}-{token}", "127.0.0.10")
            broadcasts.append(await advertiser.async_register_service(info, cooperating_responders=True))
        await asyncio.gather(*broadcasts)
        mine = await asyncio.to_thread(recorder.wait_for, lambda mine: len(mine) == 500, 15.0)
        elapsed = time.monotonic() - started
        assert len([s for s in service.snapshot() if token in s.instance]) == 500
        assert len({s.instance for s in mine}) == 500
        calls = [t for t, s in recorder.calls if recorder.mine(s)]
        assert len(calls) <= elapsed / 0.1 + 2  # not one callback per service
        assert len(calls) < 50
        closed = time.monotonic()
        await advertiser.async_close()  # 500 goodbyes, over many packets
        # Most go by their goodbye (after the RFC's 1 s grace); on a loaded loopback some
        # goodbye packets are dropped, and those few go when the re-query gets no answer.
        await asyncio.to_thread(recorder.wait_for, lambda mine: len(mine) <= 250, 5.0)
        left_after_goodbyes = len(recorder.mine(service.snapshot()))
        await asyncio.to_thread(recorder.wait_for, lambda mine: not mine, service.gone_after + 5.0)
        assert not [s for s in service.snapshot() if token in s.instance]
        assert time.monotonic() - closed < service.gone_after + 5.0
        if left_after_goodbyes:
            assert service.requeries >= left_after_goodbyes  # each was asked before being dropped
    finally:
        service.close()
        await advertiser.async_close()


def test_no_callback_arrives_after_close(token):
    recorder = Recorder(token)
    service = DiscoveryService(recorder, interfaces=[LOOPBACK])
    service.start()
    service.close()
    service.close()  # twice is fine
    count = len(recorder.calls)
    zc = Zeroconf(interfaces=[LOOPBACK])
    try:
        zc.register_service(ssh_info(f"late-{token}", "127.0.0.11"), cooperating_responders=True)
        time.sleep(0.3)
    finally:
        zc.close()
    assert len(recorder.calls) == count


def test_starting_twice_or_after_close_is_refused(browser):
    service, _ = browser
    with pytest.raises(RuntimeError, match="already started"):
        service.start()
    service.close()
    with pytest.raises(RuntimeError, match="make a new one"):
        service.start()


def test_closing_from_inside_the_callback_does_not_deadlock(advertiser, token):
    closed = threading.Event()

    def on_change(snapshot) -> None:
        if any(token in s.instance for s in snapshot):
            service.close()
            closed.set()

    service = DiscoveryService(on_change, interfaces=[LOOPBACK])
    service.start()
    try:
        advertiser.register_service(ssh_info(f"closer-{token}", "127.0.0.12"), cooperating_responders=True)
        assert closed.wait(5.0)
    finally:
        service.close()


# --- spark-tui discover, in-process on loopback ---------------------------------------------------


def run_discover(capsys, tmp_path, *options: str) -> tuple[int, str, str]:
    from spark_tui import cli

    code = cli.main(["--config", str(tmp_path / "profiles.toml"), "discover", "--interface", LOOPBACK, *options])
    out, err = capsys.readouterr()
    return code, out, err


def test_discover_prints_found_devices_as_json_marking_saved_ones(advertiser, token, tmp_path, capsys):
    from spark_tui.config.store import ProfileStore
    from spark_tui.core.models import DeviceProfile

    ProfileStore(tmp_path / "profiles.toml").add_device(DeviceProfile(name="desk", host=f"saved-{token}.local"))
    advertiser.register_service(ssh_info(f"saved-{token}", "198.18.0.7"), cooperating_responders=True)
    advertiser.register_service(ssh_info(f"other-{token}", "198.18.0.8", port=2222), cooperating_responders=True)
    # a responder stays quiet for 1 s after announcing (RFC 6762 s6), so listen past the next query
    code, out, _ = run_discover(capsys, tmp_path, "--timeout", "2.5", "--json")
    assert code == 0
    mine = {d["host"]: d for d in json.loads(out) if token in d["instance"]}
    assert mine[f"saved-{token}.local"] == {
        "name": "desk",
        "host": f"saved-{token}.local",
        "addresses": ["198.18.0.7"],
        "port": 22,
        "model": None,
        "saved": True,
        "profile": "desk",
        "instance": f"saved-{token}.{SSH}",
        "found_by": "service",
        "reachable": None,
    }
    assert mine[f"other-{token}.local"]["saved"] is False and mine[f"other-{token}.local"]["port"] == 2222


def test_discover_table_escapes_hostile_names(advertiser, token, tmp_path, capsys):
    # a raw answer is not repeated on query, so send it while discover is listening
    answer = threading.Timer(
        0.5,
        send_raw_answer,
        (advertiser, f"spark-1a2b\u202e{token}", f"spark-1a2b\x1b{token}.local."),
        {"addresses": ("198.18.0.9",)},
    )
    answer.start()
    code, out, _ = run_discover(capsys, tmp_path, "--timeout", "1.5")
    answer.join()
    assert code == 0
    assert "\x1b" not in out and "\u202e" not in out
    assert f"spark-1a2b\\x1b{token}" in out
    assert out.splitlines()[1].split()[:6] == ["NAME", "HOST", "ADDRESSES", "PORT", "MODEL", "SAVED"]


@pytest.mark.parametrize(
    ("options", "message"),
    [(("--timeout", "0"), "--timeout must be"), (("--timeout", "1", "--interface", "eth0"), "not 'eth0'")],
)
def test_discover_refuses_bad_options_with_usage_exit_code(tmp_path, capsys, options, message):
    code, _, err = run_discover(capsys, tmp_path, *options)
    assert code == 2 and message in err


def test_discover_on_an_address_that_is_not_ours_explains_what_to_pass(tmp_path, capsys):
    code, _, err = run_discover(capsys, tmp_path, "--interface", "192.0.2.1", "--timeout", "0.2")
    assert code == 1 and "cannot listen for mDNS on 127.0.0.1, 192.0.2.1" in err and "ip addr" in err


def test_a_silent_device_goes_after_gone_after_and_its_expiring_records_never_count_as_heard(advertiser, token):
    recorder = Recorder(token)
    service = DiscoveryService(recorder, interfaces=[LOOPBACK], coalesce=0.05, refresh_after=1.0, gone_after=4.0)
    service.start()
    try:
        # A responder that answers once and never again (like a SIGKILLed one); its SRV and A
        # records expire from zeroconf's cache after 2 s, which must not look like an answer.
        send_raw_answer(advertiser, f"mute-{token}", f"mute-{token}.local.", addresses=("127.0.0.12",), ttl=2)
        (found,) = recorder.wait_for(lambda mine: len(mine) == 1 and mine[0].addresses)
        heard_at = found.last_seen
        recorder.wait_for(lambda mine: not mine, 8.0)
        gone_at = time.time()
        assert gone_at - heard_at < 4.0 + 2.0
        seen = [s.last_seen for _, snap in recorder.calls for s in recorder.mine(snap)]
        assert seen and max(seen) - heard_at < 0.5  # never refreshed by the expiry or our own questions
        assert service.requeries >= 2  # asked before giving up
        assert abs(service.last_seen()[f"mute-{token}"] - max(seen)) < 1e-6
    finally:
        service.close()
