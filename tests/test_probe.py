"""Reachability probes against real listeners on 127.0.0.1: sshd, asyncssh, plain sockets."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable

import pytest

from spark_tui.core.devices import ProbeResult
from spark_tui.services.ssh.probe import Prober, probe_ssh


async def listen(handler: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]):
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # nobody listens once the socket is closed


async def test_a_real_sshd_is_reachable_and_shows_its_banner(sshd):
    result = await probe_ssh("127.0.0.1", sshd.port, 3.0)
    assert result.reachable and result.error == ""
    assert result.banner.startswith("SSH-2.0-OpenSSH")
    assert result.latency_ms is not None and result.latency_ms >= 0


async def test_an_asyncssh_server_banner_is_read(asyncssh_server):
    server = await asyncssh_server()
    result = await probe_ssh(server.host, server.port, 3.0)
    assert result.reachable and result.banner.startswith("SSH-2.0-AsyncSSH")


async def test_a_closed_port_is_unreachable_with_a_plain_reason():
    result = await probe_ssh("127.0.0.1", closed_port(), 2.0)
    assert result == ProbeResult(reachable=False, latency_ms=None, banner="", error="connection refused")


async def test_lines_before_the_banner_are_skipped_and_the_banner_is_capped():
    async def talk(reader, writer):
        writer.write(b"Welcome to the lab\r\nSSH-2.0-" + b"x" * 230 + b"\r\n")
        await writer.drain()
        await asyncio.sleep(1)
        writer.close()

    server, port = await listen(talk)
    async with server:
        result = await probe_ssh("127.0.0.1", port, 2.0)
    assert result.reachable and result.banner == "SSH-2.0-" + "x" * 230


async def test_a_silent_server_times_out_but_counts_as_reachable():
    async def silent(reader, writer):
        await asyncio.sleep(5)

    server, port = await listen(silent)
    async with server:
        loop = asyncio.get_running_loop()
        started = loop.time()
        result = await probe_ssh("127.0.0.1", port, 0.5)
        took = loop.time() - started
        server.close()
    assert result.reachable and result.banner == ""
    assert result.error == "no SSH banner before the timeout"
    assert took < 2.0


async def test_an_endless_line_is_cut_off_not_buffered():
    async def flood(reader, writer):
        try:
            for _ in range(1000):
                writer.write(b"A" * 1024)
                await writer.drain()
        except (ConnectionError, OSError):
            pass

    server, port = await listen(flood)
    async with server:
        result = await probe_ssh("127.0.0.1", port, 2.0)
    assert result.reachable and result.banner == "" and result.error == "banner line too long"


async def test_a_non_ssh_service_is_reachable_without_a_banner():
    async def http(reader, writer):
        writer.write(b"HTTP/1.1 400 Bad Request\r\n\r\n")
        await writer.drain()
        writer.close()

    server, port = await listen(http)
    async with server:
        result = await probe_ssh("127.0.0.1", port, 2.0)
    assert result.reachable and result.banner == "" and "banner" in result.error


async def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="port"):
        await probe_ssh("127.0.0.1", 0, 1.0)
    with pytest.raises(ValueError, match="timeout"):
        await probe_ssh("127.0.0.1", 22, 0)


async def test_the_prober_probes_new_targets_at_once_then_on_its_interval(sshd):
    results: list[tuple[str, ProbeResult]] = []
    prober = Prober(lambda key, result: results.append((key, result)), interval=0.4, concurrency=2, timeout=2.0)
    prober.start()
    try:
        prober.set_targets({"up": ("127.0.0.1", sshd.port), "down": ("127.0.0.1", closed_port())})
        await asyncio.sleep(1.3)
        first = {key: r.reachable for key, r in results}
        assert first == {"up": True, "down": False}
        counts = {key: sum(1 for k, _ in results if k == key) for key in ("up", "down")}
        assert 2 <= counts["up"] <= 5 and 2 <= counts["down"] <= 5  # about every 0.4 s, not a flood

        prober.set_targets({"up": ("127.0.0.1", sshd.port)})  # "down" is dropped
        results.clear()
        await asyncio.sleep(0.6)
        assert {key for key, _ in results} == {"up"}
    finally:
        await prober.close()


async def test_the_prober_never_runs_more_probes_at_once_than_allowed():
    in_flight = 0
    peak = 0
    release = asyncio.Event()

    async def slow(reader, writer):
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await release.wait()
        writer.write(b"SSH-2.0-slow\r\n")
        await writer.drain()
        in_flight -= 1
        writer.close()

    server, port = await listen(slow)
    results: list[str] = []
    prober = Prober(lambda key, result: results.append(key), interval=30, concurrency=2, timeout=3.0)
    async with server:
        prober.start()
        prober.set_targets({f"t{i}": ("127.0.0.1", port) for i in range(6)})
        await asyncio.sleep(0.5)
        assert peak == 2
        release.set()
        for _ in range(50):
            if len(results) == 6:
                break
            await asyncio.sleep(0.05)
        await prober.close()
    assert sorted(results) == [f"t{i}" for i in range(6)]
