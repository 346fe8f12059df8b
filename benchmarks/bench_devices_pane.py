"""The Devices pane under mDNS: how fast a new device gets its row, and the app's idle CPU.

    .venv/bin/python benchmarks/bench_devices_pane.py [--count 20] [--devices 200] [--idle 10]

(a) Time from a service's registration on 127.0.0.1 to its row in the real dashboard's Devices
    pane (SparkApp headless, real DiscoveryService, real widgets), median and p95, next to
    python-zeroconf's bare ServiceBrowser seeing the same registrations. Target: < 0.5 s.
(b) CPU of the real dashboard process (spark-tui in a tmux pane) over --idle seconds while a
    separate process advertises --devices services and nothing changes, next to the bare
    browser measured at the same time. Target: < 5 % of one core.

Everything stays on loopback: services advertise 127.0.0.1 (the dashboard probes what it
finds, and a probe of 127.0.0.1 is refused at once).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from pathlib import Path

from zeroconf import ServiceBrowser, Zeroconf

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a file from anywhere: `python benchmarks/bench_devices_pane.py`

from benchmarks.bench_discovery import IDLE_BROWSER, _percentile, registration_latencies  # noqa: E402
SPARK_TUI = str(Path(sys.executable).parent / "spark-tui")

ADVERTISER = textwrap.dedent(
    """
    import asyncio, socket, sys
    from zeroconf import ServiceInfo
    from zeroconf.asyncio import AsyncZeroconf
    async def main(count, seconds, tag):
        zc = AsyncZeroconf(interfaces=["127.0.0.1"])
        tasks = []
        for i in range(count):
            info = ServiceInfo("_ssh._tcp.local.", f"idle{i}-{tag}._ssh._tcp.local.", port=20000 + i,
                               addresses=[socket.inet_aton("127.0.0.1")], server=f"idle{i}-{tag}.local.")
            tasks.append(await zc.async_register_service(info, cooperating_responders=True))
        await asyncio.gather(*tasks)
        print("up", flush=True)
        await asyncio.sleep(seconds)
        await zc.async_close()
    asyncio.run(main(int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]))
    """
)


async def bench_row_latency(count: int) -> dict[str, list[float]]:
    """(a): registration -> row in the pane, and -> bare zeroconf browser, same registrations."""
    from spark_tui.app import Services, SparkApp
    from spark_tui.config.store import ProfileStore
    from spark_tui.services.discovery.browser import DiscoveryService
    from spark_tui.services.fleet import Fleet
    from spark_tui.widgets.device_list import DeviceList

    with tempfile.TemporaryDirectory() as tmp:
        store = ProfileStore(Path(tmp) / "profiles.toml")
        services = Services(store, Fleet(), discovery=lambda cb: DiscoveryService(cb, interfaces=("127.0.0.1",)))
        app = SparkApp(services, store.load())
        rows: dict[str, float] = {}
        reference: dict[str, float] = {}

        def row_seen(host: str) -> float | None:
            if host not in rows:
                table = app.query_one("#device-table")
                if any(str(key.value).endswith(host) or host in str(key.value) for key in table.rows):
                    rows[host] = time.perf_counter()
            return rows.get(host)

        zc = Zeroconf(interfaces=["127.0.0.1"], use_asyncio=False)
        browser = ServiceBrowser(
            zc, "_ssh._tcp.local.", handlers=[lambda zeroconf, service_type, name, state_change: reference.setdefault(name.split(".", 1)[0], time.perf_counter())]
        )
        try:
            async with app.run_test(size=(140, 45)):
                await asyncio.sleep(1.0)
                assert app.query_one(DeviceList)
                return await registration_latencies({"pane": row_seen, "zeroconf": reference.get}, count=count)
        finally:
            browser.cancel()
            zc.close()


def process_cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def bench_idle_cpu(devices: int, seconds: float) -> dict[str, float]:
    """(b): the dashboard's CPU and the bare browser's, side by side, while devices idle."""
    tag = uuid.uuid4().hex[:6]
    advertiser = subprocess.Popen([sys.executable, "-c", ADVERTISER, str(devices), str(seconds + 60), tag], stdout=subprocess.PIPE, text=True)
    socket_name = f"spark-bench-pane-{os.getpid()}"
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "profiles.toml"
        config.write_text('[settings]\ndiscovery_interfaces = ["127.0.0.1"]\n')
        env = dict(os.environ, XDG_STATE_HOME=f"{tmp}/s", XDG_DATA_HOME=f"{tmp}/d", TERM="xterm-256color")
        try:
            if advertiser.stdout.readline().strip() != "up":
                raise RuntimeError("the advertiser did not start")
            subprocess.run(["tmux", "-L", socket_name, "new-session", "-d", "-s", "b", "-x", "140", "-y", "45", f"{SPARK_TUI} --config {config}"], check=True, env=env)
            pid = int(subprocess.run(["tmux", "-L", socket_name, "list-panes", "-t", "b", "-F", "#{pane_pid}"], capture_output=True, text=True).stdout)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and f"idle" not in subprocess.run(["tmux", "-L", socket_name, "capture-pane", "-p", "-t", "b"], capture_output=True, text=True).stdout:
                time.sleep(0.2)
            time.sleep(3.0)  # discovery's first burst and the first round of probes settle
            reference = subprocess.Popen([sys.executable, "-c", IDLE_BROWSER, "reference", str(devices), str(seconds), tag], stdout=subprocess.PIPE, text=True)
            time.sleep(1.0)
            before, wall = process_cpu_seconds(pid), time.monotonic()
            time.sleep(seconds)
            app_cpu = 100.0 * (process_cpu_seconds(pid) - before) / (time.monotonic() - wall)
            ref = json.loads(reference.communicate(timeout=seconds + 60)[0])
        finally:
            subprocess.run(["tmux", "-L", socket_name, "kill-server"], capture_output=True)
            advertiser.terminate()
            advertiser.wait(10)
    return {"app": app_cpu, "reference": ref["cpu_percent"], "reference_seen": ref["seen"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20)
    parser.add_argument("--devices", type=int, default=200)
    parser.add_argument("--idle", type=float, default=10.0)
    parser.add_argument("--quick", action="store_true", help="5 registrations, 20 devices, 2 s idle: a brief run for CI")
    args = parser.parse_args(argv)
    if args.quick:
        args.count, args.devices, args.idle = 5, 20, 2.0
    latencies = asyncio.run(bench_row_latency(args.count))
    pane, ref = latencies["pane"], latencies["zeroconf"]
    print(f"(a) registration -> row in the Devices pane, {args.count} registrations on 127.0.0.1")
    print(f"    pane     median {statistics.median(pane) * 1000:7.1f} ms   p95 {_percentile(pane, 0.95) * 1000:7.1f} ms   (target < 500 ms)")
    print(f"    zeroconf median {statistics.median(ref) * 1000:7.1f} ms   p95 {_percentile(ref, 0.95) * 1000:7.1f} ms   (bare ServiceBrowser, same run)")
    print(f"    ratio (median) {statistics.median(pane) / max(statistics.median(ref), 1e-6):.2f}x")
    idle = bench_idle_cpu(args.devices, args.idle)
    print(f"(b) idle CPU with {args.devices} advertised devices, {args.idle:.0f} s")
    print(f"    dashboard {idle['app']:5.2f} % of one core   (target < 5 %)")
    print(f"    bare zeroconf browser {idle['reference']:5.2f} % (saw {idle['reference_seen']}); ratio {idle['app'] / max(idle['reference'], 0.01):.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
