"""spark-tui's tunnel against OpenSSH's ``ssh -N -L``, in one run, on the same loopback sshd.

Run (as root, for the test sshd):  .venv/bin/python -m benchmarks.bench_tunnels [--seconds 3]

What it measures, each through both tunnels (each tunnel in its own process, like ssh is):
  * bulk throughput down (device -> laptop) and up, time-bounded;
  * round trip of 1 byte to an echo server (median and p99 of ``--pings``);
  * 200 and 500 concurrent short connections (failures, connections/s);
  * spark-tui with byte counting on vs off (bulk throughput both ways, best of ``--rounds``);
  * spark-tui's fallback carrier (asyncssh moves the bytes: no ssh program, jump hosts, macOS).
spark-tui runs as the product does: its own listener, an OpenSSH control master carrying the
bytes, the kernel counting them. It prints figures and ratios against OpenSSH (default cipher)
measured in the same run, and two round-trip floors: a bare asyncio relay (no SSH) and
asyncssh's own forward (aes128-gcm).
Everything listens on 127.0.0.1 and stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CHUNK = 1 << 20
FAST_CIPHERS = ["aes128-gcm@openssh.com", "aes256-gcm@openssh.com", "chacha20-poly1305@openssh.com", "aes128-ctr"]


# ------------------------------------------------------------------ the "device" services


async def _serve_targets(ready: threading.Event, ports: dict) -> None:
    """Echo, bulk and short-connection servers on 127.0.0.1 (run in a child process)."""

    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        while data := await reader.read(65536):
            writer.write(data)
        writer.close()

    async def bulk(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        mode = await reader.readexactly(1)
        if mode == b"D":  # send until the client goes away
            block = b"\xa5" * CHUNK
            try:
                while not writer.is_closing():
                    writer.write(block)
                    await writer.drain()
            except (ConnectionError, OSError):
                pass
        else:  # "U": count what arrives until EOF, reply with the count
            total = 0
            while data := await reader.read(CHUNK):
                total += len(data)
            writer.write(str(total).encode())
            await writer.drain()
        writer.close()

    async def short(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if await reader.read(1) == b"x":
            writer.write(b"y")
            await writer.drain()
        writer.close()

    for name, handler in (("echo", echo), ("bulk", bulk), ("short", short)):
        server = await asyncio.start_server(handler, "127.0.0.1", 0, backlog=1024)
        ports[name] = server.sockets[0].getsockname()[1]
    ready.set()
    await asyncio.Event().wait()


def targets_main() -> None:
    ports: dict = {}
    ready = threading.Event()

    async def run() -> None:
        task = asyncio.create_task(_serve_targets(ready, ports))
        while not ready.is_set():
            await asyncio.sleep(0.01)
        print(ports["echo"], ports["bulk"], ports["short"], flush=True)
        await task

    asyncio.run(run())


# ------------------------------------------------------------------ our tunnel, in its own process


def tunnel_main(sshd_root: str, port: int, user: str, count: bool, remotes: list[int], carrier: str) -> None:
    from spark_tui.core.models import DeviceProfile, TunnelSpec
    from spark_tui.services.ssh.connection import ConnectionService
    from spark_tui.services.tunnels.carrier import master_factory
    from spark_tui.services.tunnels.service import TunnelService

    root = Path(sshd_root)
    # The product's own path: the shared-connection service with its cipher order and socket.
    connections = ConnectionService(known_hosts=root / "known_hosts")
    profile = DeviceProfile(name="bench", host="127.0.0.1", port=port, user=user, identity_file=str(root / "client_ed25519"))

    async def connect():
        return await connections.connect(profile)

    async def run() -> None:
        # What `spark-tui` does: an OpenSSH master carries the bytes when it can (see
        # services/ssh/openssh_mux.py); --carrier asyncssh measures the all-Python path.
        openssh = master_factory(lambda: profile, root / "known_hosts") if carrier == "openssh" else None
        service = TunnelService(connect, "bench", count_bytes=count, owns_connection=True, openssh=openssh)
        locals_ = []
        for remote in remotes:
            stats = await service.start(TunnelSpec(f"t{remote}", remote, 0))
            locals_.append(stats.local_port)
        used = await service.wait_carrier(20)
        if used != carrier:
            raise SystemExit(f"wanted carrier {carrier}, got {used}: {service.carrier_note}")
        print(*locals_, flush=True)
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        await stop.wait()
        await service.close()  # stops the master and removes its control socket's folder

    # The product's loop too (uvloop when installed), as `spark-tui` and `spark-tui tunnel` run it.
    from spark_tui.services import event_loop

    event_loop.run(run())


# ------------------------------------------------------------------ load generators (main process)


def bulk_down(port: int, seconds: float) -> float:
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(b"D")
        buf = bytearray(CHUNK)
        view = memoryview(buf)
        total = 0
        # Skip the first 0.3 s (slow start, window growth), then measure.
        warm = time.perf_counter() + 0.3
        while time.perf_counter() < warm:
            total += sock.recv_into(view)
        total, start = 0, time.perf_counter()
        end = start + seconds
        while (now := time.perf_counter()) < end:
            total += sock.recv_into(view)
        return total / (now - start)


def bulk_up(port: int, seconds: float) -> float:
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(b"U")
        block = b"\x5a" * CHUNK
        start = time.perf_counter()
        end = start + seconds
        while time.perf_counter() < end:
            sock.sendall(block)
        sock.shutdown(socket.SHUT_WR)
        received = int(sock.recv(64) or b"0")
        return received / (time.perf_counter() - start)


def round_trips(port: int, pings: int) -> list[float]:
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        times = []
        for i in range(pings + 50):
            t0 = time.perf_counter()
            sock.sendall(b"p")
            if sock.recv(16) != b"p":
                raise RuntimeError("echo mismatch")
            if i >= 50:  # first 50 are warm-up
                times.append(time.perf_counter() - t0)
        return times


async def _concurrent(port: int, count: int, timeout: float) -> tuple[int, float]:
    failures = 0

    async def one() -> None:
        nonlocal failures
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), timeout)
            writer.write(b"x")
            reply = await asyncio.wait_for(reader.read(1), timeout)
            writer.close()
            if reply != b"y":
                failures += 1
        except (OSError, asyncio.TimeoutError):
            failures += 1

    start = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(count)))
    return failures, count / (time.perf_counter() - start)


def concurrent(port: int, count: int, timeout: float = 20.0) -> tuple[int, float]:
    return asyncio.run(_concurrent(port, count, timeout))


# ------------------------------------------------------------------ orchestration


def _spawn(args: list[str]) -> tuple[subprocess.Popen, list[int]]:
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, text=True, start_new_session=True, cwd=ROOT)
    line = proc.stdout.readline()  # type: ignore[union-attr]
    if not line:
        raise SystemExit(f"helper failed to start: {args}")
    return proc, [int(x) for x in line.split()]


def _ssh_tunnel(sshd, remotes: list[int]) -> tuple[subprocess.Popen, list[int]]:
    from tests.sshd_server import free_port

    locals_ = [free_port() for _ in remotes]
    forwards = []
    for local, remote in zip(locals_, remotes):
        forwards += ["-L", f"127.0.0.1:{local}:127.0.0.1:{remote}"]
    cmd = sshd.ssh_command()[:-1] + ["-N", "-o", "ExitOnForwardFailure=yes", *forwards, sshd.ssh_command()[-1]]
    proc = subprocess.Popen(cmd, start_new_session=True)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", locals_[-1]), timeout=0.2).close()
            return proc, locals_
        except OSError:
            time.sleep(0.05)
    raise SystemExit("ssh -L did not come up")


def _stop(proc: subprocess.Popen) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):  # ssh may hang on to a flood's leftovers
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=10)
            return
        except subprocess.TimeoutExpired:
            continue


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds used so far by process ``pid`` and its live descendants
    (spark-tui's OpenSSH master is its child: its CPU is the tunnel's CPU)."""
    total = 0
    todo = [pid]
    while todo:
        current = todo.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
        todo.extend(int(child) for child in children)
    return total / os.sysconf("SC_CLK_TCK")


def _cpu_per_gb(pid: int, run) -> tuple[float, float]:
    """Run ``run() -> bytes/s`` and return (bytes/s, CPU seconds the tunnel spent per GB)."""
    before, start = _cpu_seconds(pid), time.perf_counter()
    rate = run()
    elapsed = time.perf_counter() - start
    moved = rate * elapsed
    return rate, (_cpu_seconds(pid) - before) / (moved / 1e9)


def _product_loop() -> str:
    from spark_tui.services import event_loop

    loop = event_loop.new_event_loop()
    try:
        return event_loop.loop_name(loop)
    finally:
        loop.close()


def _fmt_rate(value: float) -> str:
    return f"{value / 1e6:8.1f} MB/s"


def relay_main(target: int) -> None:
    """A bare asyncio TCP relay to ``target`` (no SSH, no crypto): the floor for any
    asyncio-based forwarder on this machine, printed next to the round-trip figures."""

    class Side(asyncio.Protocol):
        peer: Side | None = None

        def connection_made(self, transport) -> None:
            self.transport = transport

        def data_received(self, data: bytes) -> None:
            self.peer.transport.write(data)  # type: ignore[union-attr]

    class Accepted(Side):
        # No pause_reading() in connection_made: on Python 3.11.2 (Debian 12's python3) the
        # transport's own deferred add-reader undoes it, so bytes can arrive before the
        # outgoing side is joined. They are held here and written once it is (as the
        # product's forwarding.LocalEnd does).
        def connection_made(self, transport) -> None:
            self.transport = transport
            self.early: list[bytes] = []
            asyncio.ensure_future(self._join())

        def data_received(self, data: bytes) -> None:
            if self.peer is None:
                self.early.append(data)
                self.transport.pause_reading()
                return
            self.peer.transport.write(data)

        async def _join(self) -> None:
            _, out = await asyncio.get_running_loop().create_connection(Side, "127.0.0.1", target)
            out.peer, self.peer = self, out
            if self.early:
                out.transport.write(b"".join(self.early))
                self.early = []
            self.transport.resume_reading()

    async def run() -> None:
        server = await asyncio.get_running_loop().create_server(Accepted, "127.0.0.1", 0)
        print(server.sockets[0].getsockname()[1], flush=True)
        await asyncio.Event().wait()

    asyncio.run(run())


def plain_asyncssh_main(sshd_root: str, port: int, user: str, target: int) -> None:
    """asyncssh's own ``forward_local_port`` with AES-128-GCM on asyncio's loop: the floor for
    any forwarder built on asyncssh here, printed next to the round-trip figures."""
    import asyncssh

    root = Path(sshd_root)

    async def run() -> None:
        conn = await asyncssh.connect(
            "127.0.0.1", port, username=user, client_keys=[str(root / "client_ed25519")],
            known_hosts=str(root / "known_hosts"), agent_path=None, config=None,
            encryption_algs=["aes128-gcm@openssh.com"],
        )
        listener = await conn.forward_local_port("127.0.0.1", 0, "127.0.0.1", target)
        print(listener.get_port(), flush=True)
        await asyncio.Event().wait()

    asyncio.run(run())


def counting_ns_per_chunk(repeats: int = 30) -> tuple[float, float]:
    """Nanoseconds per chunk of the real pump's read path with counting on and off.

    Timed in this process (the channel is a do-nothing sink, identical for both), interleaved,
    best of many repeats: a small, steady difference that whole-tunnel throughput runs on a
    shared machine cannot resolve.
    """
    import timeit

    from spark_tui.services.tunnels.counters import Traffic
    from spark_tui.services.tunnels.forwarding import LocalEnd, QuietLocalEnd

    class Sink:
        def write(self, data: bytes) -> None:
            pass

    chunk = b"x" * 32768
    ends = []
    for cls in (LocalEnd, QuietLocalEnd):
        end = cls(Traffic())
        end.chan = Sink()  # type: ignore[assignment]
        ends.append(end)
    n, best = 50_000, [1e9, 1e9]
    for _ in range(repeats):
        for i, end in enumerate(ends):
            best[i] = min(best[i], timeit.timeit("f(c)", globals={"f": end.data_received, "c": chunk}, number=n) / n)
    return best[0] * 1e9, best[1] * 1e9


def kernel_counter_poll_ns() -> float:
    """Nanoseconds per read of one socket's kernel byte counters (what the OpenSSH carrier polls)."""
    import timeit

    from spark_tui.services.tunnels.counters import socket_bytes

    with socket.create_server(("127.0.0.1", 0)) as server:
        client = socket.create_connection(server.getsockname())
        peer, _ = server.accept()
        with client, peer:
            client.sendall(b"x" * 65536)
            n = 20_000
            return min(timeit.timeit("f(s)", globals={"f": socket_bytes, "s": peer}, number=n) / n for _ in range(10)) * 1e9


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="seconds per bulk measurement")
    parser.add_argument("--pings", type=int, default=2000, help="round trips per measurement")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (best of, against noise)")
    parser.add_argument("--quick", action="store_true",
                        help="one round, 0.3 s bulk, 200 pings, 20/50 concurrent: a brief run for CI")
    parser.add_argument("--role", choices=["targets", "tunnel", "relay", "plain"], help=argparse.SUPPRESS)
    parser.add_argument("--sshd-root", help=argparse.SUPPRESS)
    parser.add_argument("--sshd-port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--user", help=argparse.SUPPRESS)
    parser.add_argument("--no-count", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--carrier", default="openssh", help=argparse.SUPPRESS)
    parser.add_argument("--remote", type=int, action="append", default=[], help=argparse.SUPPRESS)
    args = parser.parse_args()
    crowds = (200, 500)
    if args.quick:
        args.seconds, args.pings, args.rounds, crowds = 0.3, 200, 1, (20, 50)
    if args.role == "targets":
        targets_main()
        return 0
    if args.role == "relay":
        relay_main(args.remote[0])
        return 0
    if args.role == "plain":
        plain_asyncssh_main(args.sshd_root, args.sshd_port, args.user, args.remote[0])
        return 0
    if args.role == "tunnel":
        tunnel_main(args.sshd_root, args.sshd_port, args.user, not args.no_count, args.remote, args.carrier)
        return 0

    from tests.sshd_server import Sshd

    tmp = tempfile.TemporaryDirectory(prefix="spark-tui-bench-")
    sshd = Sshd(Path(tmp.name) / "sshd")
    sshd.start()
    procs: list[subprocess.Popen] = []
    me = [sys.executable, str(Path(__file__).resolve())]  # works from any folder
    try:
        targets, (echo, bulk, short) = _spawn([*me, "--role", "targets"])
        procs.append(targets)
        remotes = [echo, bulk, short]

        def ours(count: bool = True, carrier: str = "openssh") -> tuple[subprocess.Popen, list[int]]:
            extra = [] if count else ["--no-count"]
            cmd = [*me, "--role", "tunnel", "--sshd-root", str(sshd.root), "--sshd-port", str(sshd.port),
                   "--user", sshd.user, "--carrier", carrier, *extra]
            for r in remotes:
                cmd += ["--remote", str(r)]
            return _spawn(cmd)

        starters = {
            "openssh": lambda: _ssh_tunnel(sshd, remotes),
            "spark-tui": ours,
            "spark-tui, counting off": lambda: ours(False),
            "spark-tui, asyncssh carrier": lambda: ours(carrier="asyncssh"),
        }
        # The machine is shared: interleave the tunnels round by round and keep each one's
        # best figure, so a burst of someone else's load does not decide a ratio.
        res: dict[str, dict[str, float]] = {k: {"down": 0.0, "up": 0.0, "rtt": 1e9, "p99": 1e9,
                                                 "cpu_down": 1e9, "cpu_up": 1e9} for k in starters}
        for round_ in range(args.rounds):
            order = list(starters) if round_ % 2 == 0 else list(reversed(starters))
            for label in order:
                proc, (l_echo, l_bulk, l_short) = starters[label]()
                procs.append(proc)
                r = res[label]
                down, cpu_down = _cpu_per_gb(proc.pid, lambda: bulk_down(l_bulk, args.seconds))
                up, cpu_up = _cpu_per_gb(proc.pid, lambda: bulk_up(l_bulk, args.seconds))
                r["down"], r["up"] = max(r["down"], down), max(r["up"], up)
                r["cpu_down"], r["cpu_up"] = min(r["cpu_down"], cpu_down), min(r["cpu_up"], cpu_up)
                if label != "spark-tui, counting off":
                    before = _cpu_seconds(proc.pid)
                    rtt = sorted(round_trips(l_echo, args.pings))
                    r["cpu_rtt"] = min(r.get("cpu_rtt", 1.0), (_cpu_seconds(proc.pid) - before) / (args.pings + 50))
                    r["rtt"] = min(r["rtt"], statistics.median(rtt))
                    r["p99"] = min(r["p99"], rtt[int(len(rtt) * 0.99)])
                    for n in crowds:
                        fails, rate = concurrent(l_short, n)
                        r[f"fail{n}"] = r.get(f"fail{n}", 0) + fails  # failures add up over rounds
                        r[f"cps{n}"] = max(r.get(f"cps{n}", 0.0), rate)
                _stop(proc)
                procs.remove(proc)

        relay, (l_relay,) = _spawn([*me, "--role", "relay", "--remote", str(echo)])
        procs.append(relay)
        plain, (l_plain,) = _spawn([*me, "--role", "plain", "--sshd-root", str(sshd.root), "--sshd-port", str(sshd.port),
                                    "--user", sshd.user, "--remote", str(echo)])
        procs.append(plain)
        direct_rtt = min(statistics.median(round_trips(echo, args.pings)) for _ in range(args.rounds))
        relay_rtt = min(statistics.median(round_trips(l_relay, args.pings)) for _ in range(args.rounds))
        plain_rtt = min(statistics.median(round_trips(l_plain, args.pings)) for _ in range(args.rounds))
        count_ns = counting_ns_per_chunk(3 if args.quick else 30)
        poll_ns = kernel_counter_poll_ns()

        o, s, q = res["openssh"], res["spark-tui"], res["spark-tui, counting off"]
        a = res["spark-tui, asyncssh carrier"]
        print(f"\nspark-tui tunnel vs OpenSSH ssh -N -L: same sshd on 127.0.0.1, {os.cpu_count()} CPUs, "
              f"best of {args.rounds} interleaved rounds; spark-tui on {_product_loop()}, its bytes carried "
              f"by its OpenSSH master (services/ssh/openssh_mux.py; AES-GCM first, OpenSSH's default is ChaCha20-Poly1305)")
        print(f"{'':30}{'OpenSSH':>14}{'spark-tui':>14}{'ratio':>9}   target")
        for key, label in (("down", "throughput down"), ("up", "throughput up")):
            print(f"{label:30}{_fmt_rate(o[key]):>14}{_fmt_rate(s[key]):>14}{s[key] / o[key]:9.2f}x  >= 1.00x")
        print(f"{'1-byte round trip, median':30}{o['rtt'] * 1e6:11.0f} us{s['rtt'] * 1e6:11.0f} us"
              f"{s['rtt'] / o['rtt']:9.2f}x  <= 1.15x")
        print(f"{'1-byte round trip, p99':30}{o['p99'] * 1e6:11.0f} us{s['p99'] * 1e6:11.0f} us{s['p99'] / o['p99']:9.2f}x")
        print(f"{'  tunnel CPU per round trip':30}{o['cpu_rtt'] * 1e6:11.0f} us{s['cpu_rtt'] * 1e6:11.0f} us"
              f"{s['cpu_rtt'] / o['cpu_rtt']:9.2f}x")
        print(f"{'  reference, no tunnel':30}{direct_rtt * 1e6:11.0f} us  (echo server directly)")
        print(f"{'  reference, bare relay':30}{relay_rtt * 1e6:11.0f} us  (plain asyncio relay without SSH: "
              f"{relay_rtt / o['rtt']:.2f}x OpenSSH)")
        print(f"{'  reference, plain asyncssh':30}{plain_rtt * 1e6:11.0f} us  (asyncssh forward_local_port, aes128-gcm, "
              f"asyncio: {plain_rtt / o['rtt']:.2f}x OpenSSH)")
        for n in crowds:
            print(f"{f'{n} concurrent, conn/s':30}{o[f'cps{n}']:14.0f}{s[f'cps{n}']:14.0f}{s[f'cps{n}'] / o[f'cps{n}']:9.2f}x")
            print(f"{f'{n} concurrent, failures (all)':30}{o[f'fail{n}']:14.0f}{s[f'fail{n}']:14.0f}{'':9}   0")
        print(f"{'tunnel CPU s per GB down/up':30}{o['cpu_down']:8.2f}/{o['cpu_up']:.2f}{s['cpu_down']:9.2f}/{s['cpu_up']:.2f}")

        print(f"\nthe fallback when no master can run (asyncssh carries the bytes, "
              f"SPARK_TUI_TUNNEL_CARRIER=asyncssh)")
        print(f"{'':30}{'OpenSSH':>14}{'asyncssh':>14}{'ratio':>9}")
        for key, label in (("down", "throughput down"), ("up", "throughput up")):
            print(f"{label:30}{_fmt_rate(o[key]):>14}{_fmt_rate(a[key]):>14}{a[key] / o[key]:9.2f}x")
        print(f"{'1-byte round trip, median':30}{o['rtt'] * 1e6:11.0f} us{a['rtt'] * 1e6:11.0f} us{a['rtt'] / o['rtt']:9.2f}x")
        for n in crowds:
            print(f"{f'{n} concurrent, conn/s':30}{o[f'cps{n}']:14.0f}{a[f'cps{n}']:14.0f}{a[f'cps{n}'] / o[f'cps{n}']:9.2f}x")
            print(f"{f'{n} concurrent, failures (all)':30}{o[f'fail{n}']:14.0f}{a[f'fail{n}']:14.0f}")

        print(f"\nbyte counting (spark-tui){'off':>20}{'on':>14}{'cost':>9}   target")
        for key in ("down", "up"):
            print(f"{f'throughput {key}':30}{_fmt_rate(q[key]):>14}{_fmt_rate(s[key]):>14}"
                  f"{(1 - s[key] / q[key]) * 100:8.1f}%   (noise-bound)")
        for key in ("down", "up"):
            cpu_key = f"cpu_{key}"
            print(f"{f'CPU s per GB {key}':30}{q[cpu_key]:14.2f}{s[cpu_key]:14.2f}"
                  f"{(s[cpu_key] / q[cpu_key] - 1) * 100:8.1f}%   (noise-bound)")
        # OpenSSH carrier: the kernel counts; we read TCP_INFO + SIOCOUTQ per open connection
        # once per stats interval (0.5 s). Against the CPU that moving 1 GB/s costs the tunnel:
        per_second = poll_ns * 1e-9 * 2  # one connection, two polls a second
        moving = min(s["cpu_down"], s["cpu_up"]) * max(min(s["down"], s["up"]) / 1e9, 1e-9)  # CPU s per s
        print(f"{'kernel counters, ns per poll':30}{'':14}{poll_ns:14.0f}{per_second / moving * 100:8.3f}%   < 5%  "
              f"(2 polls/s of one busy connection over the tunnel's CPU s/s)")
        print(f"{'  500 open connections':30}{'':14}{poll_ns * 1000 / 1e3:11.0f} us/s  "
              f"({poll_ns * 1000 * 1e-9 * 100:.3f}% of one CPU)")
        on_ns, off_ns = count_ns
        chunks_per_gb = 1e9 / 16384  # pessimistic: 16 KiB chunks (SSH packets are usually larger)
        share = max(on_ns - off_ns, 0.0) * 1e-9 * chunks_per_gb / min(a["cpu_down"], a["cpu_up"]) * 100
        print(f"{'asyncssh fallback, ns/chunk':30}{off_ns:14.0f}{on_ns:14.0f}{share:8.2f}%   < 5%  "
              f"(difference x 61035 chunks/GB over that carrier's CPU s per GB)")
        return 0
    finally:
        for proc in procs:
            _stop(proc)
        sshd.close()
        tmp.cleanup()


if __name__ == "__main__":
    raise SystemExit(main())
