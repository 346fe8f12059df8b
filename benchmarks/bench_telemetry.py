"""What telemetry costs the device: CPU seconds per second of sampling, on the remote side.

Runs the embedded demo device on loopback (so the "remote" processes are on this machine and
their CPU time can be read from /proc), connects to it with asyncssh, then measures:

1. the TelemetrySampler: one long-lived script plus one ``nvidia-smi -l`` process. Its cost is
   script's own CPU time (``/proc/PID/task/*/schedstat``, nanoseconds) plus cutime+cstime
   (every child it forked and waited for, e.g. df; clock ticks) plus the same for its live
   descendants (nvidia-smi), read at the start and the end of a steady-state window after a
   warm-up;
2. the reference, measured in the same run: what the issue rejected, a new SSH command each
   interval doing the same work (``cat /proc/stat /proc/meminfo; df -kP ~; nvidia-smi ...``).
   Those processes are children of this process (the demo's SSH server runs here), so their
   cost is this process's RUSAGE_CHILDREN over the window.

The SSH server's own work (asyncssh, in this process) is left out of both figures.
The demo's nvidia-smi is a small Python script; a real nvidia-smi costs more to start, which
only widens the gap in the sampler's favour.

Usage: .venv/bin/python benchmarks/bench_telemetry.py [--seconds 20] [--interval 1] [--disk-every N]
       [--reference-seconds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

import asyncssh

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from spark_tui.core.telemetry import GPU_QUERY_FIELDS  # noqa: E402
from spark_tui.services.demo.device import DemoDeviceThread  # noqa: E402
from spark_tui.services.telemetry.sampler import TelemetrySampler  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str] | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def _on_cpu(pid: int) -> float:
    """Seconds ``pid`` ran on a CPU (all its threads), in nanosecond resolution from schedstat."""
    total = 0
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            total += int(Path(f"/proc/{pid}/task/{task}/schedstat").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        pass
    return total / 1e9


def _process_cpu(pid: int) -> float | None:
    """CPU seconds of ``pid``: its own time (schedstat, precise) plus its reaped children's
    (cutime + cstime: clock ticks, the only resolution the kernel exports for them)."""
    fields = _stat(pid)
    if fields is None:
        return None
    return _on_cpu(pid) + (int(fields[13]) + int(fields[14])) / TICKS


def tree_cpu(root: int) -> tuple[float, float, int]:
    """CPU seconds of ``root`` and of its live descendants, and how many descendants live."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (fields := _stat(int(entry))) is not None:
            children.setdefault(int(fields[1]), []).append(int(entry))
    own = _process_cpu(root)
    if own is None:
        raise RuntimeError(f"remote script {root} is gone")
    live, todo, count = 0.0, list(children.get(root, [])), 0
    while todo:
        pid = todo.pop()
        if (cpu := _process_cpu(pid)) is not None:
            live += cpu
            count += 1
        todo.extend(children.get(pid, []))
    return own, live, count


async def measure_sampler(
    conn: asyncssh.SSHClientConnection, interval: float, seconds: float, disk_every: int | None
) -> dict:
    samples: list = []
    sampler = TelemetrySampler(conn, "bench", interval, samples.append, disk_every=disk_every)
    await sampler.start()
    await asyncio.sleep(max(3.0, 2 * interval))  # warm-up: start-up of the script and nvidia-smi
    pid = sampler.remote_pid
    own0, live0, _ = tree_cpu(pid)
    wall0, count0 = time.monotonic(), len(samples)
    await asyncio.sleep(seconds)
    own1, live1, processes = tree_cpu(pid)
    wall1, count1 = time.monotonic(), len(samples)
    await sampler.stop()
    wall = wall1 - wall0
    return {
        "cpu_per_s": ((own1 - own0) + (live1 - live0)) / wall,
        "script_per_s": (own1 - own0) / wall,
        "gpu_per_s": (live1 - live0) / wall,
        "samples": count1 - count0,
        "processes": 1 + processes,
        "wall": wall,
        "disk_every": sampler.disk_every,
    }


async def measure_reference(conn: asyncssh.SSHClientConnection, interval: float, seconds: float) -> dict:
    command = (
        "cat /proc/stat /proc/meminfo >/dev/null; df -kP ~ >/dev/null; "
        f"nvidia-smi --query-gpu={','.join(GPU_QUERY_FIELDS)} --format=csv,noheader,nounits"
    )
    await conn.run(command)  # warm-up
    before, wall0 = os.times(), time.monotonic()
    runs = 0
    next_at = wall0
    while time.monotonic() - wall0 < seconds:
        await conn.run(command, check=True)
        runs += 1
        next_at += interval
        await asyncio.sleep(max(0.0, next_at - time.monotonic()))
    after, wall = os.times(), time.monotonic() - wall0
    cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    return {"cpu_per_s": cpu / wall, "samples": runs, "wall": wall}


async def main_async(args: argparse.Namespace, device) -> None:
    known_hosts = device.workdir.parent / "known_hosts"
    known_hosts.write_text(device.known_hosts_line() + "\n")
    async with asyncssh.connect(
        device.host, device.port, username=device.user, client_keys=[str(device.client_key_path)],
        known_hosts=str(known_hosts), agent_path=None,
    ) as conn:
        sampler = await measure_sampler(conn, args.interval, args.seconds, args.disk_every)
        await asyncio.sleep(1.0)  # let the sampler's processes be reaped before the reference
        reference = await measure_reference(conn, args.interval, args.reference_seconds)
    s, r = sampler, reference
    if not s["samples"] or not r["samples"]:
        raise RuntimeError(f"telemetry delivered nothing: {s['samples']} sampler samples, {r['samples']} reference runs")
    print(f"telemetry cost on the device, interval {args.interval:g} s (CPU seconds per second of sampling)")
    print(f"  sampler   : {s['cpu_per_s'] * 1000:7.2f} ms/s = {s['cpu_per_s'] * 100:6.3f} % of one core "
          f"(script {s['script_per_s'] * 1000:.2f} ms/s, nvidia-smi -l {s['gpu_per_s'] * 1000:.2f} ms/s; "
          f"{s['samples']} samples in {s['wall']:.1f} s, df every {s['disk_every']}, {s['processes']} processes alive)")
    print(f"  reference : {r['cpu_per_s'] * 1000:7.2f} ms/s = {r['cpu_per_s'] * 100:6.3f} % of one core "
          f"(a new SSH command per sample; {r['samples']} runs in {r['wall']:.1f} s)")
    if s["cpu_per_s"] > 0:
        print(f"  ratio     : reference / sampler = {r['cpu_per_s'] / s['cpu_per_s']:.1f}x")
    else:
        print("  ratio     : sampler below measurement resolution")
    verdict = "PASS" if s["cpu_per_s"] < 0.01 else "FAIL"
    print(f"  target    : sampler < 1 % of one core -> {verdict} "
          f"(reaped children are counted in {1000 / TICKS:.0f} ms clock ticks)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="sampler measuring window (default 20)")
    parser.add_argument("--interval", type=float, default=1.0, help="sampling interval (default 1)")
    parser.add_argument("--disk-every", type=int, default=None, help="run df every N samples (default: ~5 s)")
    parser.add_argument("--reference-seconds", type=float, default=10.0, help="reference window (default 10)")
    parser.add_argument("--quick", action="store_true", help="3 s windows: a brief run for CI")
    args = parser.parse_args()
    if args.quick:
        args.seconds, args.reference_seconds = 3.0, 3.0
    with tempfile.TemporaryDirectory(prefix="bench-telemetry-") as folder:
        with DemoDeviceThread(Path(folder) / "device", advertise=False) as device:
            asyncio.run(main_async(args, device))


if __name__ == "__main__":
    main()
