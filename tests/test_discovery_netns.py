"""Discovery across a virtual link: an advertiser and a browser in two network namespaces.

The fixture builds ``adv <-veth-> brw`` with addresses from the 198.18.0.0/15 benchmark range,
inside the namespaces only, with a multicast route on each end. Nothing here touches the host's
real interfaces; the namespaces (and the veth pair with them) are deleted after every test.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = pytest.mark.netns

ADVERTISER = textwrap.dedent(
    """
    import socket, sys, time
    from zeroconf import ServiceInfo, Zeroconf
    ip, name, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
    zc = Zeroconf(interfaces=[ip])
    info = ServiceInfo("_ssh._tcp.local.", f"{name}._ssh._tcp.local.", port=22,
                       addresses=[socket.inet_aton(ip)], server=f"{name}.local.")
    zc.register_service(info)
    print("up", flush=True)
    time.sleep(seconds)
    zc.unregister_service(info)
    zc.close()
    print("down", flush=True)
    """
)

BROWSER = textwrap.dedent(
    """
    import json, sys, time
    from spark_tui.services.discovery.browser import DiscoveryService
    ip, seconds = sys.argv[1], float(sys.argv[2])
    started = time.monotonic()
    def show(snapshot):
        print(json.dumps([round(time.monotonic() - started, 3),
                          [[s.instance, s.server, list(s.addresses), s.port] for s in snapshot]]), flush=True)
    with DiscoveryService(show, interfaces=[ip]):
        time.sleep(seconds)
    """
)

RESOLVER = textwrap.dedent(
    """
    import asyncio, json, sys
    from spark_tui.core.errors import ConnectError
    from spark_tui.services.discovery.resolve import resolve_host
    async def main():
        try:
            print(json.dumps(await resolve_host(sys.argv[2], 22, interfaces=[sys.argv[1]], timeout=3.0)))
        except ConnectError as error:
            print(json.dumps({"kind": error.kind, "message": error.message, "hint": error.hint}))
    asyncio.run(main())
    """
)


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=10)


@dataclass
class Link:
    """Two namespaces joined by a veth pair."""

    advertiser_ns: str
    browser_ns: str
    advertiser_ip: str = "198.18.0.1"
    browser_ip: str = "198.18.0.2"

    def command(self, ns: str, *argv: str) -> list[str]:
        return ["ip", "netns", "exec", ns, *argv]

    def python(self, ns: str, script: str, *args: str) -> list[str]:
        return self.command(ns, sys.executable, "-c", script, *args)


@pytest.fixture
def link() -> Iterator[Link]:
    if os.geteuid() != 0 or shutil.which("ip") is None:
        pytest.skip("needs root and iproute2 to create network namespaces")
    tag = uuid.uuid4().hex[:6]
    adv, brw = f"h3adv{tag}", f"h3brw{tag}"
    veth_a, veth_b = f"h3a{tag}", f"h3b{tag}"
    resolv = Path("/etc/netns") / brw
    try:
        ip("netns", "add", adv)
        ip("netns", "add", brw)
        # `ip netns exec` mounts this over /etc/resolv.conf: the system resolver in the browser
        # namespace asks 127.0.0.1 (nothing listens), so no DNS query ever leaves it.
        resolv.mkdir(parents=True, exist_ok=True)
        (resolv / "resolv.conf").write_text("nameserver 127.0.0.1\n")
        ip("link", "add", veth_a, "type", "veth", "peer", "name", veth_b)
        ip("link", "set", veth_a, "netns", adv)
        ip("link", "set", veth_b, "netns", brw)
        for ns, dev, address in ((adv, veth_a, "198.18.0.1/24"), (brw, veth_b, "198.18.0.2/24")):
            ip("-n", ns, "addr", "add", address, "dev", dev)
            ip("-n", ns, "link", "set", dev, "up", "multicast", "on")
            ip("-n", ns, "link", "set", "lo", "up")
            ip("-n", ns, "route", "add", "224.0.0.0/4", "dev", dev)
        yield Link(adv, brw)
    finally:
        for ns in (adv, brw):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=10)
        shutil.rmtree(resolv, ignore_errors=True)


def spark_name() -> str:
    return "spark-" + uuid.uuid4().hex[:4]


def test_a_spark_in_another_namespace_is_discovered_across_the_link(link):
    name = spark_name()
    advertiser = subprocess.Popen(link.python(link.advertiser_ns, ADVERTISER, link.advertiser_ip, name, "6"), stdout=subprocess.PIPE, text=True)
    try:
        assert advertiser.stdout.readline().strip() == "up"
        out = subprocess.run(
            link.command(link.browser_ns, sys.executable, "-m", "spark_tui", "discover", "--interface", link.browser_ip, "--timeout", "2.5", "--json"),
            capture_output=True, text=True, timeout=30,
            env={**os.environ, "SPARK_TUI_CONFIG": "/nonexistent/h3/profiles.toml"},
        )
    finally:
        advertiser.terminate()
        advertiser.wait(10)
    assert out.returncode == 0, out.stderr
    found = json.loads(out.stdout)
    assert found == [
        {
            "name": name,
            "host": f"{name}.local",
            "addresses": [link.advertiser_ip],
            "port": 22,
            "model": "DGX Spark",
            "saved": False,
            "profile": None,
            "instance": f"{name}._ssh._tcp.local.",
            "found_by": "service",
            "reachable": None,
        }
    ]


def test_the_browser_sees_the_device_come_and_go_with_its_goodbye(link):
    name = spark_name()
    browser = subprocess.Popen(link.python(link.browser_ns, BROWSER, link.browser_ip, "7"), stdout=subprocess.PIPE, text=True)
    time.sleep(0.5)
    advertiser = subprocess.run(link.python(link.advertiser_ns, ADVERTISER, link.advertiser_ip, name, "2"), capture_output=True, text=True, timeout=30)
    assert advertiser.stdout.split() == ["up", "down"], advertiser.stderr
    out, _ = browser.communicate(timeout=30)
    snapshots = [json.loads(line) for line in out.splitlines()]
    states = [[entry for entry in snap if entry[0].startswith(name)] for _, snap in snapshots]
    appeared = next(i for i, mine in enumerate(states) if mine)
    assert states[appeared] == [[f"{name}._ssh._tcp.local.", f"{name}.local.", [link.advertiser_ip], 22]]
    assert states[-1] == []  # removed after the goodbye, not only when the TTL runs out
    gone_at = next(snapshots[i][0] for i in range(appeared, len(states)) if not states[i])
    assert gone_at - snapshots[appeared][0] < 4.0


def test_nothing_to_find_prints_what_was_tried_and_exits_zero(link):
    out = subprocess.run(
        link.command(link.browser_ns, sys.executable, "-m", "spark_tui", "discover", "--interface", link.browser_ip, "--timeout", "1"),
        capture_output=True, text=True, timeout=30,
        env={**os.environ, "SPARK_TUI_CONFIG": "/nonexistent/h3/profiles.toml"},
    )
    assert out.returncode == 0, out.stderr
    assert "No SSH hosts found: browsed _ssh._tcp.local. on 198.18.0.2 for 1." in out.stdout
    assert "0 services seen" in out.stdout
    assert "spark-tui device add NAME --host H" in out.stdout


def test_a_local_name_the_system_resolver_cannot_find_is_resolved_over_mdns(link):
    name = spark_name()
    advertiser = subprocess.Popen(link.python(link.advertiser_ns, ADVERTISER, link.advertiser_ip, name, "8"), stdout=subprocess.PIPE, text=True)
    try:
        assert advertiser.stdout.readline().strip() == "up"
        time.sleep(1.0)  # past the responder's 1 s quiet time after announcing
        found = subprocess.run(link.python(link.browser_ns, RESOLVER, link.browser_ip, f"{name}.local"), capture_output=True, text=True, timeout=30)
        missing = subprocess.run(link.python(link.browser_ns, RESOLVER, link.browser_ip, "spark-0000.local"), capture_output=True, text=True, timeout=30)
        plain = subprocess.run(link.python(link.browser_ns, RESOLVER, link.browser_ip, "no-such-host.example"), capture_output=True, text=True, timeout=30)
    finally:
        advertiser.terminate()
        advertiser.wait(10)
    assert json.loads(found.stdout) == [link.advertiser_ip], found.stderr
    assert json.loads(missing.stdout)["kind"] == "resolve"
    assert "no answer over mDNS" in json.loads(missing.stdout)["message"]
    assert json.loads(plain.stdout) == {
        "kind": "resolve",
        "message": "cannot resolve host name no-such-host.example",
        "hint": "check the spelling, or save the device with its IP address",
    }
