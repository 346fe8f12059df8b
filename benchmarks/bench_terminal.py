"""The Shell pane's terminal against tmux (and stock pyte), in one run, on the same bytes.

Run (as root, for the test sshd):  .venv/bin/python -m benchmarks.bench_terminal [--quick]

1. Peak memory (RSS growth, measured first in a fresh process) while a 100 MB flood goes
   through ShellSession over a real OpenSSH sshd on 127.0.0.1 into the emulator, and the rate.
2. Keystroke-to-echo latency during a flood over the same sshd (the PTY echoes the key inside
   the flood; p50/p95 of the time until our emulator has consumed the echo).
Each on both terminal cores (native: libghostty-vt; python: ours) where the native one loads.

3. Throughput of the WHOLE path at 120x40: bytes in 32 KiB chunks -> emulator -> Strips for
   every visible row, drawn at most 60 times a second (as Textual would). Streams are recorded
   from real programs under a PTY: log lines (awk), a coloured listing (``ls --color -l``,
   repeated), a full-screen TUI (vim paging through a file), a monitor (htop at its fastest
   refresh, the btop kind of stream) and a file manager (mc's panels). tmux consumes the same bytes
   (``cat`` in a detached 120x40 session). Both sides are measured in CPU seconds (ours: this
   process; tmux: its server process), interleaved, best of N, so other load on a shared
   machine cancels out. Stock pyte (Screen, HistoryScreen) parses a 200 KB prefix for reference;
   libghostty-vt (pyghostty, where its wheel installs) parses the whole stream, parse only.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from spark_tui.widgets.terminal.core import make_terminal, native_problem  # noqa: E402
from spark_tui.widgets.terminal.render import line_strip  # noqa: E402
from tests.terminal_fixtures.record import record  # noqa: E402

COLS, ROWS = 120, 40
CORES = ("python",) if native_problem() is not None else ("python", "native")
CHUNK = 32 * 1024
FRAME = 1 / 60
_sockets = itertools.count()


# ------------------------------------------------------------------ streams


def record_streams(tmp: Path, scale: float) -> dict[str, bytes]:
    """Record the three benchmark streams from real programs under a 120x40 PTY."""
    lines = int(150_000 * scale)
    log_awk = (
        f"BEGIN {{ for (i = 0; i < {lines}; i++) "
        'printf "2026-11-25T09:%02d:%02d.%03dZ INFO  [worker-%d] request id=%08x path=/api/v1/items/%d '
        'status=200 bytes=%d in %.2fms\\n", (i/60)%60, i%60, i%1000, i%8, i*2654435761%4294967296, i%977, i*37%9000, (i%997)/7.0 }'
    )
    log = record(["awk", log_awk], quiet=0.5, limit=60)
    repeats = max(1, int(12 * scale))
    listing = record(
        ["sh", "-c", f"for i in $(seq {repeats}); do ls --color=always -l /usr/bin /usr/lib/x86_64-linux-gnu 2>/dev/null; done"],
        quiet=0.5,
        limit=60,
    )
    source = tmp / "big.py"
    source.write_text("".join(p.read_text() for p in sorted((ROOT / "spark_tui").rglob("*.py"))) * 3)
    pages = int(250 * scale)
    keys = [(0.8 + i * 0.012, b"\x06") for i in range(pages)]
    tui = record(["vim", "-N", "-u", "DEFAULTS", "-i", "NONE", "+syntax on", str(source)], keys=keys, quiet=0.8, limit=60)
    # btop is not packaged everywhere; htop at its fastest refresh is the same kind of stream
    # (a full-screen monitor redrawing meters and a process table in colour).
    monitor = record(["htop", "-d", "1"], quiet=60, limit=max(1.5, 6 * scale))
    # mc's first screen: two coloured panels of box drawing and file rows (a listing of /usr/bin).
    commander = record(["mc", "--nosubshell", "/usr/bin", "/usr/lib"], quiet=1.0, limit=10)
    # Replayed (the same frames again) to a few MB each, so tmux's CPU time is many clock ticks
    # (10 ms) and the ratio is not one tick's rounding.
    least = int(4_000_000 * scale)

    def replayed(data: bytes) -> bytes:
        return data * max(4, -(-least // max(1, len(data))))

    return {
        "log lines": log,
        "coloured listing": listing,
        "full-screen TUI (vim)": replayed(tui),
        "monitor (htop, btop-like)": replayed(monitor),
        "file manager (mc)": replayed(commander),
    }


# ------------------------------------------------------------------ our whole path


def whole_path(data: bytes, core: str) -> tuple[float, float, int]:
    """Feed ``data`` to a terminal on ``core`` and draw the screen at frame rate.

    Returns:
        (CPU seconds, wall seconds, frames drawn).
    """
    term = make_terminal(COLS, ROWS, core=core)
    frames = 0
    cpu = time.process_time()
    start = last_frame = time.perf_counter()
    for offset in range(0, len(data), CHUNK):
        term.feed(data[offset : offset + CHUNK])
        now = time.perf_counter()
        if now - last_frame >= FRAME:
            for line in term.lines:
                line_strip(line)
            frames += 1
            last_frame = now
    for line in term.lines:
        line_strip(line)
    return time.process_time() - cpu, time.perf_counter() - start, frames + 1


def native_rate(data: bytes) -> str:
    """libghostty-vt's parse rate (MB per CPU-second) through pyghostty, or "n/a" where it is not
    installed. Parse only: no cells are read back, so this bounds what a native core could reach."""
    try:
        import pyghostty
    except ImportError:
        return "n/a"
    term = pyghostty.Terminal(COLS, ROWS, scrollback=10_000)
    start = time.process_time()
    for offset in range(0, len(data), CHUNK):
        term.feed(data[offset : offset + CHUNK])
    return f"{len(data) / max(time.process_time() - start, 1e-6) / 1e6:.0f}"


def pyte_rate(data: bytes, history: bool) -> str:
    """Stock pyte's parse rate (MB/s) on ``data``, or ``"fails"`` when it raises."""
    try:
        import pyte
    except ImportError:
        return "n/a"

    screen = pyte.HistoryScreen(COLS, ROWS, history=10_000) if history else pyte.Screen(COLS, ROWS)
    stream = pyte.ByteStream(screen)
    start = time.process_time()
    try:
        for offset in range(0, len(data), CHUNK):
            stream.feed(data[offset : offset + CHUNK])
    except Exception:  # stock pyte 0.8.2 raises on CSI > 4;2 m (vim's modifyOtherKeys)
        return "fails"
    return f"{len(data) / (time.process_time() - start) / 1e6:.2f}"


# ------------------------------------------------------------------ tmux


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used so far.

    From the scheduler's nanosecond count of time on a CPU (``/proc/PID/task/*/schedstat``),
    where the kernel has it: ``/proc/PID/stat`` counts in clock ticks (10 ms), and tmux
    parses the smaller streams (htop, mc) in one or two ticks, which made its rate jump by
    a factor of two between runs.
    """
    try:
        return sum(
            int((task / "schedstat").read_text().split()[0]) for task in Path(f"/proc/{pid}/task").iterdir()
        ) / 1e9
    except (OSError, ValueError, IndexError):
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tmux_seconds(path: Path) -> tuple[float, float]:
    """tmux consuming ``path`` in a detached 120x40 pane (no client attached).

    Returns:
        (CPU seconds of the tmux server, wall seconds from start to done).
    """
    socket = f"spark-tui-bench-{os.getpid()}-{next(_sockets)}"
    tmux = shutil.which("tmux")
    conf = path.parent / "tmux.conf"
    conf.write_text("set -g status off\nset -g history-limit 10000\n")
    env = {**os.environ, "LANG": "C.UTF-8"}
    env.pop("TMUX", None)
    base = [tmux, "-u", "-L", socket, "-f", str(conf)]
    command = f"{tmux} -L {socket} wait-for go; stty raw -echo; cat {path}; {tmux} -L {socket} wait-for -S done; sleep 60"
    subprocess.run([*base, "new-session", "-d", "-x", str(COLS), "-y", str(ROWS), "-s", "b", command], check=True, env=env)
    try:
        pid = int(subprocess.run([*base, "display-message", "-p", "#{pid}"], check=True, capture_output=True, text=True, env=env).stdout)
        cpu = _cpu_seconds(pid)
        start = time.perf_counter()
        subprocess.run([*base, "wait-for", "-S", "go"], check=True, env=env)
        subprocess.run([*base, "wait-for", "done"], check=True, timeout=120, env=env)
        return _cpu_seconds(pid) - cpu, time.perf_counter() - start
    finally:
        subprocess.run([*base, "kill-server"], capture_output=True, env=env)


# ------------------------------------------------------------------ over ssh


def _rss() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


async def _connect(server):
    import asyncssh

    return await asyncssh.connect(
        server.host, server.port, username=server.user, client_keys=[str(server.client_key)],
        known_hosts=str(server.known_hosts), agent_path=None,
    )


consumed = [0]


async def keystroke_latency(server, keys: int, core: str) -> tuple[list[float], float]:
    """Times (s) from writing a key to the emulator consuming its echo during a flood, and the
    flood's rate (MB/s) meanwhile."""
    from spark_tui.services.shell.session import ShellSession

    term = make_terminal(COLS, ROWS, core=core)
    waiting: dict[str, float] = {}
    latencies: list[float] = []

    def consume(data: bytes) -> None:
        consumed[0] += len(data)
        term.feed(data)
        if waiting and b"Z" in data:
            latencies.append(time.perf_counter() - waiting.pop("key"))

    async with await _connect(server) as conn:
        session = ShellSession(conn, cols=COLS, rows=ROWS, on_output=consume, command="yes 'flood line: the quick brown fox jumps over the lazy dog'")
        await session.start()
        await asyncio.sleep(0.5)
        started, before = time.perf_counter(), consumed[0]
        for _ in range(keys):
            waiting["key"] = time.perf_counter()
            session.write(b"Z")
            deadline = time.perf_counter() + 5
            while waiting and time.perf_counter() < deadline:
                await asyncio.sleep(0.001)
            waiting.clear()
            await asyncio.sleep(0.03)
        rate = (consumed[0] - before) / (time.perf_counter() - started) / 1e6
        await session.close()
    return latencies, rate


async def flood_memory(server, megabytes: int, core: str) -> tuple[float, float, float]:
    """A flood of ``megabytes`` MB through ShellSession into the emulator.

    Run first in a fresh process, so RSS growth is the flood's and not an earlier phase's.

    Returns:
        (RSS growth MB, seconds, peak unconsumed KiB).
    """
    from spark_tui.services.shell.session import ShellSession

    async with await _connect(server) as conn:
        base_rss = peak_rss = _rss()
        term = make_terminal(COLS, ROWS, core=core)
        command = f"yes '2026-11-25 INFO worker processed request in 12.5 ms status=ok' | head -c {megabytes * 1_000_000}"
        session = ShellSession(conn, cols=COLS, rows=ROWS, on_output=term.feed, command=command)
        start = time.perf_counter()
        await session.start()
        done = asyncio.ensure_future(session.wait_closed())
        while not done.done():
            peak_rss = max(peak_rss, _rss())
            await asyncio.sleep(0.02)
        seconds = time.perf_counter() - start
    # The scrollback is full: its bound is part of the figure (Ghostty trims whole pages of rows).
    assert len(term.history) == 10_000, len(term.history)
    return (peak_rss - base_rss) / 1e6, seconds, session.peak_pending / 1024


# ------------------------------------------------------------------ main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller streams and fewer samples")
    parser.add_argument("--rounds", type=int, default=3, help="best of N for the throughput runs")
    args = parser.parse_args()
    scale = 0.3 if args.quick else 1.0
    if args.quick:
        args.rounds = 1

    from tests.sshd_server import Sshd

    with tempfile.TemporaryDirectory() as tmp_name:
        server = Sshd(Path(tmp_name))
        server.start()
        try:
            megabytes = 30 if args.quick else 100
            for core in CORES:
                grown, seconds, pending = asyncio.run(flood_memory(server, megabytes, core))
                print(
                    f"[{core} core] {megabytes} MB flood over ssh into the emulator (10,000-line scrollback full): "
                    f"peak RSS +{grown:.1f} MB, peak unconsumed {pending:.0f} KiB, {megabytes / seconds:.1f} MB/s end to end"
                )
            keys = 20 if args.quick else 60
            for core in CORES:
                latencies, rate = asyncio.run(keystroke_latency(server, keys, core))
                if latencies:
                    latencies.sort()
                    p95 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.95))]
                    print(
                        f"[{core} core] keystroke -> echo during a flood over ssh: p50 {statistics.median(latencies) * 1000:.1f} ms, "
                        f"p95 {p95 * 1000:.1f} ms ({len(latencies)}/{keys} echoes seen; flood consumed at {rate:.1f} MB/s meanwhile)"
                    )
        finally:
            server.close()

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        started = time.perf_counter()
        streams = record_streams(tmp, scale)
        print(f"(recorded {sum(map(len, streams.values())) / 1e6:.1f} MB in {time.perf_counter() - started:.1f} s)")
        print(f"throughput at {COLS}x{ROWS}, bytes -> emulator -> Strips at <= 60 fps; MB per CPU-second,")
        print(f"ours and tmux's server interleaved, best of {args.rounds} (CPU time, so other load on the machine cancels out)")
        print(
            f"{'stream':26} {'MB':>6} {'native':>8} {'python':>8} {'tmux':>8} {'native/tmux':>12} {'python/tmux':>12}"
            f" {'parse-only*':>11} {'pyte':>7} {'pyte+hist':>9}"
        )
        empty = tmp / "empty.bin"
        empty.write_bytes(b"")
        idle = min(tmux_seconds(empty)[0] for _ in range(3))
        for name, data in streams.items():
            path = tmp / "stream.bin"
            path.write_bytes(data)
            cpu = {core: float("inf") for core in CORES}
            tmux_cpu = float("inf")
            for _ in range(args.rounds):
                for core in CORES:
                    cpu[core] = min(cpu[core], whole_path(data, core)[0])
                tmux_cpu = min(tmux_cpu, tmux_seconds(path)[0] - idle)
            rate = {core: len(data) / cpu[core] / 1e6 for core in CORES}
            tmux = len(data) / max(tmux_cpu, 0.01) / 1e6
            native = f"{rate['native']:8.1f}" if "native" in rate else f"{'n/a':>8}"
            native_ratio = f"{rate['native'] / tmux:12.2f}" if "native" in rate else f"{'n/a':>12}"
            prefix = data[:200_000]
            print(
                f"{name:26} {len(data) / 1e6:6.1f} {native} {rate['python']:8.1f} {tmux:8.1f} {native_ratio}"
                f" {rate['python'] / tmux:12.2f} {native_rate(data):>11} {pyte_rate(prefix, False):>7} {pyte_rate(prefix, True):>9}"
            )
        print(f"(tmux's idle CPU of {idle * 1000:.0f} ms per session subtracted; it parses with no client attached)")
        print("(native and python: our two cores, the whole path including rows read back and Strips built)")
        print("(* parse-only: libghostty-vt alone via pyghostty, MB per CPU-second, no cells read back)")


if __name__ == "__main__":
    main()
