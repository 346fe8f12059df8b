"""The Shell pane's terminal against tmux (and stock pyte), in one run, on the same bytes.

Run (as root, for the test sshd):  .venv/bin/python -m benchmarks.bench_terminal [--quick]

1. Throughput of the WHOLE path at 120x40: bytes in 32 KiB chunks -> emulator -> Strips for
   every visible row, drawn at most 60 times a second of elapsed time (as Textual would).
   Streams are recorded from real programs under a PTY: log lines (awk), a coloured listing
   (``ls --color -l`` of /usr/bin, repeated), and a full-screen TUI (vim paging through a file).
   tmux consumes the same bytes (``cat`` in a detached 120x40 session, start-up subtracted);
   stock pyte (Screen, and HistoryScreen) parses a prefix, for reference.
2. Keystroke-to-echo latency during a flood, through ShellSession over a real OpenSSH sshd on
   127.0.0.1 (the PTY echoes the key inside the flood; p50/p95 of the time until our emulator
   has consumed the echo).
3. Peak memory (RSS above the start) while a 100 MB flood goes through ShellSession into the
   emulator, and the end-to-end rate.
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

from spark_tui.widgets.terminal.emulator import Terminal  # noqa: E402
from spark_tui.widgets.terminal.render import line_strip  # noqa: E402
from tests.terminal_fixtures.record import record  # noqa: E402

COLS, ROWS = 120, 40
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
    return {"log lines": log, "coloured listing": listing, "full-screen TUI (vim)": tui}


# ------------------------------------------------------------------ our whole path


def whole_path(data: bytes) -> tuple[float, int]:
    """Seconds to feed ``data`` and draw the screen at frame rate; returns (seconds, frames)."""
    term = Terminal(COLS, ROWS)
    frames = 0
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
    return time.perf_counter() - start, frames + 1


def pyte_rate(data: bytes, history: bool) -> str:
    """Stock pyte's parse rate (MB/s) on ``data``, or ``"fails"`` when it raises."""
    import pyte

    screen = pyte.HistoryScreen(COLS, ROWS, history=10_000) if history else pyte.Screen(COLS, ROWS)
    stream = pyte.ByteStream(screen)
    start = time.perf_counter()
    try:
        for offset in range(0, len(data), CHUNK):
            stream.feed(data[offset : offset + CHUNK])
    except Exception:  # stock pyte 0.8.2 raises on CSI > 4;2 m (vim's modifyOtherKeys)
        return "fails"
    return f"{len(data) / (time.perf_counter() - start) / 1e6:.2f}"


# ------------------------------------------------------------------ tmux


def tmux_seconds(path: Path) -> float:
    """Seconds tmux takes to consume ``path`` in a detached 120x40 pane (no client attached)."""
    socket = f"spark-tui-bench-{os.getpid()}-{next(_sockets)}"
    tmux = shutil.which("tmux")
    conf = path.parent / "tmux.conf"
    conf.write_text("set -g status off\nset -g history-limit 10000\n")
    env = {**os.environ, "LANG": "C.UTF-8"}
    env.pop("TMUX", None)
    base = [tmux, "-u", "-L", socket, "-f", str(conf)]
    command = f"stty raw -echo; cat {path}; {tmux} -L {socket} wait-for -S done; sleep 60"
    start = time.perf_counter()
    subprocess.run([*base, "new-session", "-d", "-x", str(COLS), "-y", str(ROWS), "-s", "b", command], check=True, env=env)
    try:
        subprocess.run([*base, "wait-for", "done"], check=True, timeout=120, env=env)
        return time.perf_counter() - start
    finally:
        subprocess.run([*base, "kill-server"], capture_output=True, env=env)


def best(fn, rounds: int):
    return min((fn() for _ in range(rounds)), key=lambda result: result if isinstance(result, float) else result[0])


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


async def keystroke_latency(server, keys: int) -> tuple[list[float], float]:
    """Times (s) from writing a key to the emulator consuming its echo during a flood, and the
    flood's rate (MB/s) meanwhile."""
    from spark_tui.services.shell import ShellSession

    term = Terminal(COLS, ROWS)
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


async def flood_memory(server, megabytes: int) -> tuple[float, float, float, float]:
    """A flood of ``megabytes`` MB through ShellSession into the emulator, traced.

    Returns:
        (peak traced Python memory MB, RSS growth MB, seconds, peak unconsumed KiB).
    """
    import tracemalloc

    from spark_tui.services.shell import ShellSession

    base_rss = peak_rss = _rss()
    tracemalloc.start()
    term = Terminal(COLS, ROWS)
    async with await _connect(server) as conn:
        command = f"yes '2026-11-25 INFO worker processed request in 12.5 ms status=ok' | head -c {megabytes * 1_000_000}"
        session = ShellSession(conn, cols=COLS, rows=ROWS, on_output=term.feed, command=command)
        start = time.perf_counter()
        await session.start()
        done = asyncio.ensure_future(session.wait_closed())
        while not done.done():
            peak_rss = max(peak_rss, _rss())
            await asyncio.sleep(0.05)
        seconds = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert len(term.history) == 10_000  # the scrollback is full: the bound is what we measured
    return peak / 1e6, (peak_rss - base_rss) / 1e6, seconds, session.peak_pending / 1024


# ------------------------------------------------------------------ main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller streams and fewer samples")
    parser.add_argument("--rounds", type=int, default=3, help="best of N for the throughput runs")
    args = parser.parse_args()
    scale = 0.3 if args.quick else 1.0

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        started = time.perf_counter()
        streams = record_streams(tmp, scale)
        print(f"(recorded {sum(map(len, streams.values())) / 1e6:.1f} MB in {time.perf_counter() - started:.1f} s)")
        print(f"throughput at {COLS}x{ROWS}, bytes -> emulator -> Strips at <= 60 fps (best of {args.rounds})")
        print(f"{'stream':24} {'MB':>6} {'ours MB/s':>10} {'tmux MB/s':>10} {'ours/tmux':>10} {'pyte':>7} {'pyte+hist':>9}")
        empty = tmp / "empty.bin"
        empty.write_bytes(b"")
        startup = min(tmux_seconds(empty) for _ in range(3))
        for name, data in streams.items():
            path = tmp / "stream.bin"
            path.write_bytes(data)
            seconds, _frames = best(lambda: whole_path(data), args.rounds)
            ours = len(data) / seconds / 1e6
            tmux_time = min(tmux_seconds(path) for _ in range(args.rounds)) - startup
            tmux = len(data) / max(tmux_time, 1e-6) / 1e6
            prefix = data[:200_000]
            print(
                f"{name:24} {len(data) / 1e6:6.1f} {ours:10.1f} {tmux:10.1f} {ours / tmux:10.2f}"
                f" {pyte_rate(prefix, False):>7} {pyte_rate(prefix, True):>9}"
            )
        print(f"(tmux start-up of {startup * 1000:.0f} ms subtracted; tmux parses with no client attached)")

    from tests.sshd_server import Sshd

    with tempfile.TemporaryDirectory() as tmp_name:
        server = Sshd(Path(tmp_name))
        server.start()
        try:
            keys = 20 if args.quick else 60
            latencies, rate = asyncio.run(keystroke_latency(server, keys))
            if latencies:
                latencies.sort()
                p95 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.95))]
                print(
                    f"keystroke -> echo during a flood over ssh: p50 {statistics.median(latencies) * 1000:.1f} ms, "
                    f"p95 {p95 * 1000:.1f} ms ({len(latencies)}/{keys} echoes seen; flood consumed at {rate:.1f} MB/s meanwhile)"
                )
            megabytes = 30 if args.quick else 100
            traced, grown, seconds, pending = asyncio.run(flood_memory(server, megabytes))
            print(
                f"{megabytes} MB flood over ssh into the emulator (10,000-line scrollback full): "
                f"peak traced Python memory {traced:.1f} MB, RSS +{grown:.1f} MB, peak unconsumed {pending:.0f} KiB, "
                f"{megabytes / seconds:.1f} MB/s under tracemalloc"
            )
        finally:
            server.close()


if __name__ == "__main__":
    main()
