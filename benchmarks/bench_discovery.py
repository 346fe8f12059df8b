"""How fast does a new device show up, and what does browsing cost while nothing happens?

    .venv/bin/python benchmarks/bench_discovery.py [--quick] [--count 20] [--idle 10] [--devices 200]

(Against real avahi-daemon in network namespaces, and death -> gone: bench_discovery_avahi.py.)

(a) Time from a service's registration (its first announcement leaving) to the
    DiscoveryService callback whose snapshot holds it: median and p95 over ``--count``
    registrations on 127.0.0.1. Target: median < 0.5 s.
(b) CPU of a browsing process over ``--idle`` seconds while a separate process advertises
    ``--devices`` services and nothing changes. Target: < 5 % of one core.

Reference, measured in the same run: python-zeroconf's own ServiceBrowser with a listener that
does nothing (avahi-browse is not installed here), so the ratios show what our translation,
merging and coalescing add on top of the library. Everything stays on loopback.

:func:`registration_latencies` is reusable: give it one ``seen_at(host) -> perf_counter time or
None`` per observer (a DiscoveryService callback, or a row appearing in the Devices pane).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import socket
import statistics
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Callable, Mapping

from zeroconf import ServiceBrowser, ServiceInfo, Zeroconf
from zeroconf.asyncio import AsyncZeroconf

from spark_tui.services.discovery.browser import DiscoveryService

LOOPBACK = "127.0.0.1"
SSH = "_ssh._tcp.local."
SeenAt = Callable[[str], "float | None"]


def _info(host: str, address: str = "127.0.0.1") -> ServiceInfo:
    return ServiceInfo(SSH, f"{host}.{SSH}", addresses=[socket.inet_aton(address)], port=22, server=f"{host}.local.")


async def registration_latencies(
    observers: Mapping[str, SeenAt],
    *,
    count: int = 20,
    interface: str = LOOPBACK,
    timeout: float = 5.0,
    gap: float = 0.25,
) -> dict[str, list[float]]:
    """Register ``count`` services one by one; per observer, seconds until it saw each.

    Args:
        observers: Label -> ``seen_at(host)``, returning the ``time.perf_counter()`` moment the
            observer first saw ``host`` (``"bench-xxxx"``), or ``None`` while it has not.
        count: Registrations.
        interface: Address the advertiser uses.
        timeout: Seconds to wait for every observer, per registration.
        gap: Seconds (randomised +-50 %) between registrations, so coalescing windows don't
            overlap and each measurement is a fresh appearance.

    Returns:
        Label -> latencies in seconds (a registration nobody saw in time counts as ``timeout``).
    """
    latencies: dict[str, list[float]] = {label: [] for label in observers}
    advertiser = AsyncZeroconf(interfaces=[interface])
    try:
        for _ in range(count):
            host = "bench-" + uuid.uuid4().hex[:8]
            started = time.perf_counter()
            await advertiser.async_register_service(_info(host), cooperating_responders=True)
            deadline = started + timeout
            while time.perf_counter() < deadline and any(seen(host) is None for seen in observers.values()):
                await asyncio.sleep(0.002)
            for label, seen in observers.items():
                moment = seen(host)
                latencies[label].append(timeout if moment is None else max(0.0, moment - started))
            await asyncio.sleep(gap * random.uniform(0.5, 1.5))
    finally:
        await advertiser.async_close()
    return latencies


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


async def bench_latency(count: int) -> dict[str, list[float]]:
    """(a): our DiscoveryService against zeroconf's bare ServiceBrowser, same registrations."""
    ours: dict[str, float] = {}
    reference: dict[str, float] = {}

    def on_change(snapshot) -> None:
        now = time.perf_counter()
        for service in snapshot:
            ours.setdefault(service.instance.split(".", 1)[0], now)

    def on_reference(zeroconf, service_type, name, state_change) -> None:
        reference.setdefault(name.split(".", 1)[0], time.perf_counter())

    discovery = DiscoveryService(on_change, interfaces=[LOOPBACK])
    discovery.start()
    zc = Zeroconf(interfaces=[LOOPBACK], use_asyncio=False)
    browser = ServiceBrowser(zc, SSH, handlers=[on_reference])
    await asyncio.sleep(0.5)
    try:
        return await registration_latencies({"ours": ours.get, "reference": reference.get}, count=count)
    finally:
        browser.cancel()
        zc.close()
        discovery.close()


ADVERTISER = textwrap.dedent(
    """
    import asyncio, socket, sys
    from zeroconf import ServiceInfo
    from zeroconf.asyncio import AsyncZeroconf
    async def main(count, seconds):
        zc = AsyncZeroconf(interfaces=["127.0.0.1"])
        tasks = []
        for i in range(count):
            info = ServiceInfo("_ssh._tcp.local.", f"idle{i}-{sys.argv[3]}._ssh._tcp.local.", port=22,
                               addresses=[socket.inet_aton("127.0.0.1")], server=f"idle{i}-{sys.argv[3]}.local.")
            tasks.append(await zc.async_register_service(info, cooperating_responders=True))
        await asyncio.gather(*tasks)
        print("up", flush=True)
        await asyncio.sleep(seconds)
        await zc.async_close()
    asyncio.run(main(int(sys.argv[1]), float(sys.argv[2])))
    """
)

IDLE_BROWSER = textwrap.dedent(
    """
    import json, sys, time
    kind, expected, seconds, tag = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
    seen = set()
    if kind == "ours":
        from spark_tui.services.discovery.browser import DiscoveryService
        def on_change(snapshot):
            seen.update(s.instance for s in snapshot if tag in s.instance)
        browser = DiscoveryService(on_change, interfaces=["127.0.0.1"])
        browser.start()
    else:
        from zeroconf import ServiceBrowser, Zeroconf
        zc = Zeroconf(interfaces=["127.0.0.1"], use_asyncio=False)
        def on_event(zeroconf, service_type, name, state_change):
            if tag in name:
                seen.add(name)
        browser = ServiceBrowser(zc, "_ssh._tcp.local.", handlers=[on_event])
    deadline = time.monotonic() + 20
    while len(seen) < expected and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(1.0)  # let the first-answer burst settle
    before, wall = time.process_time(), time.monotonic()  # all threads, microsecond resolution
    time.sleep(seconds)
    cpu, wall = time.process_time() - before, time.monotonic() - wall
    print(json.dumps({"kind": kind, "seen": len(seen), "cpu_percent": 100.0 * cpu / wall}), flush=True)
    """
)


def bench_idle_cpu(devices: int, seconds: float) -> dict[str, dict]:
    """(b): CPU of our browser and the reference browser, side by side, while 200 devices idle."""
    tag = uuid.uuid4().hex[:6]
    advertiser = subprocess.Popen(
        [sys.executable, "-c", ADVERTISER, str(devices), str(seconds + 30), tag], stdout=subprocess.PIPE, text=True
    )
    try:
        if advertiser.stdout.readline().strip() != "up":
            raise RuntimeError("the advertiser did not start")
        browsers = [
            subprocess.Popen([sys.executable, "-c", IDLE_BROWSER, kind, str(devices), str(seconds), tag], stdout=subprocess.PIPE, text=True)
            for kind in ("ours", "reference")
        ]
        results = [json.loads(b.communicate(timeout=seconds + 40)[0]) for b in browsers]
    finally:
        advertiser.terminate()
        advertiser.wait(10)
    return {r["kind"]: r for r in results}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20, help="registrations for (a)")
    parser.add_argument("--devices", type=int, default=200, help="advertised services for (b)")
    parser.add_argument("--idle", type=float, default=10.0, help="seconds of idle CPU measurement for (b)")
    parser.add_argument("--quick", action="store_true", help="5 registrations, 20 devices, 2 s idle: a brief run for CI")
    args = parser.parse_args(argv)
    if args.quick:
        args.count, args.devices, args.idle = 5, 20, 2.0

    lat = asyncio.run(bench_latency(args.count))
    print(f"(a) registration -> callback holding it, {args.count} registrations on {LOOPBACK}")
    for label in ("ours", "reference"):
        values = lat[label]
        print(f"    {label:9}: median {statistics.median(values) * 1000:7.1f} ms   p95 {_percentile(values, 0.95) * 1000:7.1f} ms")
    ours_median, ref_median = statistics.median(lat["ours"]), statistics.median(lat["reference"])
    print(f"    ratio ours/reference (median): {ours_median / max(ref_median, 1e-6):.2f}x")
    print(f"    target < 500 ms: median is {ours_median / 0.5:.4f} of the target ({'met' if ours_median < 0.5 else 'MISSED'})")

    idle = bench_idle_cpu(args.devices, args.idle)
    ours, ref = idle["ours"], idle["reference"]
    print(f"(b) idle CPU with {args.devices} advertised devices (separate process), over {args.idle:g} s")
    print(f"    ours     : {ours['cpu_percent']:.2f} % of one core ({ours['seen']} seen)")
    print(f"    reference: {ref['cpu_percent']:.2f} % of one core ({ref['seen']} seen)")
    print(f"    ratio ours/reference: {ours['cpu_percent'] / max(ref['cpu_percent'], 0.01):.2f}x")
    print(f"    target < 5 %: {ours['cpu_percent'] / 5.0:.3f} of the target ({'met' if ours['cpu_percent'] < 5 else 'MISSED'})")
    print("reference: python-zeroconf ServiceBrowser with a no-op listener (avahi-browse is not installed)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
