"""How fast a device connection is, against OpenSSH measured in the same run.

Starts a throwaway OpenSSH sshd on 127.0.0.1 (``tests/sshd_server.Sshd``; needs root), then times:

* ``connect``: ConnectionService.connect() on a fresh service (TCP + handshake + key login);
* ``connect + true``: the same plus one command and closing, what ``ssh host true`` does;
* ``true on open``: one command on the already open shared connection;
* references: OpenSSH ``ssh host true`` (full handshake every time) and ``ssh`` reusing a
  ControlMaster socket (what "true on open" competes with).

Prints medians in milliseconds and ratios (below 1.0 = spark-tui is faster). Run:

    sudo .venv/bin/python benchmarks/bench_connection.py [--rounds 15]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import asyncssh  # noqa: E402

from spark_tui.core.models import DeviceProfile  # noqa: E402
from spark_tui.services.ssh.connection import ConnectionService  # noqa: E402
from spark_tui.services.ssh.known_hosts import KnownHosts  # noqa: E402
from tests.sshd_server import Sshd  # noqa: E402


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def time_command(command: list[str], rounds: int) -> list[float]:
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True, timeout=30)
        samples.append(time.perf_counter() - start)
    return samples


async def time_service(server: Sshd, known_hosts: Path, rounds: int) -> dict[str, list[float]]:
    profile = DeviceProfile("bench", server.host, server.user, server.port, identity_file=str(server.client_key))
    connect, connect_true, on_open = [], [], []
    for _ in range(rounds):
        service = ConnectionService(known_hosts=known_hosts)
        start = time.perf_counter()
        conn = await service.connect(profile)
        connect.append(time.perf_counter() - start)
        await service.close()
    for _ in range(rounds):
        service = ConnectionService(known_hosts=known_hosts)
        start = time.perf_counter()
        conn = await service.connect(profile)
        await conn.run("true", check=True)
        await service.close()
        connect_true.append(time.perf_counter() - start)
    service = ConnectionService(known_hosts=known_hosts)
    conn = await service.connect(profile)
    for _ in range(rounds):
        start = time.perf_counter()
        await conn.run("true", check=True)
        on_open.append(time.perf_counter() - start)
    await service.close()
    return {"connect": connect, "connect + true": connect_true, "true on open": on_open}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15, help="samples per measurement (default 15)")
    parser.add_argument("--quick", action="store_true", help="3 rounds: a brief run for CI")
    args = parser.parse_args()
    rounds = 3 if args.quick else args.rounds
    if os.geteuid() != 0:
        print("needs root (the sshd fixture logs in a throwaway test user)", file=sys.stderr)
        return 2
    root = Path(tempfile.mkdtemp(prefix="spark-tui-bench-"))
    server = Sshd(root)
    server.start()
    master = None
    try:
        known_hosts = root / "spark_known_hosts"
        KnownHosts(known_hosts).add(server.host, server.port, asyncssh.read_public_key(f"{server.host_key}.pub"))
        ours = asyncio.run(time_service(server, known_hosts, rounds))
        plain = time_command(server.ssh_command("true"), rounds)
        socket_path = root / "cm.sock"
        base = server.ssh_command()
        master = subprocess.Popen([*base[:-1], "-M", "-N", "-o", f"ControlPath={socket_path}", base[-1]])
        deadline = time.monotonic() + 10
        while not socket_path.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        reused = time_command([*base[:-1], "-o", f"ControlPath={socket_path}", base[-1], "true"], rounds)
    finally:
        if master is not None:
            master.terminate()
            master.wait()
        server.close()
        shutil.rmtree(root, ignore_errors=True)

    rows = [
        ("spark-tui connect (handshake + key login)", median_ms(ours["connect"])),
        ("spark-tui connect + true + close", median_ms(ours["connect + true"])),
        ("spark-tui true on the open connection", median_ms(ours["true on open"])),
        ("OpenSSH ssh host true (full handshake)", median_ms(plain)),
        ("OpenSSH ssh host true (ControlMaster reuse)", median_ms(reused)),
    ]
    print(f"median of {rounds} rounds, sshd on 127.0.0.1")
    for label, value in rows:
        print(f"  {label:<46} {value:8.1f} ms")
    print("ratios (below 1.0 = spark-tui faster):")
    print(f"  connect + true      / ssh full handshake   = {rows[1][1] / rows[3][1]:.2f}")
    print(f"  connect alone       / ssh full handshake   = {rows[0][1] / rows[3][1]:.2f}")
    print(f"  true on open conn   / ssh ControlMaster    = {rows[2][1] / rows[4][1]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
