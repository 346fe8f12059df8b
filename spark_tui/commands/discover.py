"""``spark-tui discover [--timeout S] [--interface ADDR] [--json]``: browse mDNS, print, exit.

The table marks saved devices and Sparks. ``--json`` prints an array, one object per device
found; fields are only ever added, never renamed or removed::

    [
      {
        "name": "spark-1a2b",              // advertised host name (or the saved profile's name)
        "host": "spark-1a2b.local",        // what to connect to
        "addresses": ["192.0.2.7", "fe80::1%3"],
        "port": 22,
        "model": "DGX Spark",              // null: an SSH host that is not a Spark
        "saved": false,                    // a saved profile matches it
        "profile": null,                   // that profile's name
        "instance": "spark-1a2b._ssh._tcp.local.",
        "found_by": "service",             // "name": advertises no service, found by the
                                           //   reverse-name sweep (discovery_sweep setting)
        "reachable": null                  // "name" rows only: did its SSH port answer a probe
      }
    ]

IPv6 link-local addresses carry their ``%scope`` so they can be dialled as printed.

Finding nothing is not an error: the command explains what it tried and exits 0.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import time
from dataclasses import replace
from typing import Any

from spark_tui.core.device_listing import diagnostics_text
from spark_tui.core.untrusted import display_safe
from spark_tui.core.devices import DeviceRow, merge_devices
from spark_tui.core.errors import SparkError

MAX_TIMEOUT = 300.0
COLUMNS = ("NAME", "HOST", "ADDRESSES", "PORT", "MODEL", "SAVED")


def run(args: argparse.Namespace, ctx: Any) -> int:
    """Browse for ``--timeout`` seconds and print the devices found.

    Returns:
        0 (also when nothing was found), 2 for a bad option value.

    Raises:
        SparkError: The mDNS sockets cannot be opened on the given interface.
    """
    timeout = float(getattr(args, "timeout", 3.0))
    interfaces = tuple(getattr(args, "interface", None) or ())
    problem = _check(timeout, interfaces)
    if problem:
        print(f"spark-tui discover: error: {problem}", file=ctx.stderr)
        return 2
    config = _config(ctx)
    types: tuple[str, ...] = ("_ssh._tcp.local.",)
    sweep = True
    if config is not None:
        interfaces = interfaces or tuple(config.settings.discovery_interfaces)
        types = tuple(config.settings.discovery_types) or types
        sweep = config.settings.discovery_sweep

    from spark_tui.services.discovery import DiscoveryService  # zeroconf only when needed

    service = DiscoveryService(lambda snapshot: None, interfaces=interfaces, service_types=types, sweep=sweep)
    started = time.monotonic()
    try:
        service.start()
    except OSError as error:
        where = ", ".join(interfaces) or "all interfaces"
        raise SparkError(
            f"cannot listen for mDNS on {where}: {error}",
            "pass an address of this computer (see `ip addr`), or leave out --interface",
        ) from error
    try:
        time.sleep(timeout)
        snapshot = service.snapshot()
        stats = service.stats()
    finally:
        service.close()
    elapsed = time.monotonic() - started
    profiles = config.devices if config else ()
    rows = [r for r in merge_devices(profiles, snapshot, {}, time.time()) if r.advertised or r.name_only]
    rows = _probe_name_only(rows)
    if getattr(args, "json", False):
        json.dump([_as_json(r) for r in rows], ctx.stdout, indent=2)
        ctx.stdout.write("\n")
    elif rows:
        _print_table(rows, ctx)
    else:
        print(diagnostics_text(stats, elapsed), file=ctx.stdout)
    return 0


def _probe_name_only(rows: list[DeviceRow]) -> list[DeviceRow]:
    """Rows found by name only, with their SSH port probed: nothing says they run SSH."""
    targets = [r for r in rows if r.name_only]
    if not targets:
        return rows
    import asyncio

    from spark_tui.services.ssh import probe_ssh

    async def probe_all():
        return await asyncio.gather(*(probe_ssh(*r.probe_target, timeout=1.5) for r in targets))

    results = dict(zip((r.key for r in targets), asyncio.run(probe_all())))
    out = []
    for row in rows:
        probe = results.get(row.key)
        out.append(row if probe is None else replace(row, reachable=probe.reachable, latency_ms=probe.latency_ms, banner=probe.banner))
    return out


def _check(timeout: float, interfaces: tuple[str, ...]) -> str:
    if not 0 < timeout <= MAX_TIMEOUT:
        return f"--timeout must be more than 0 and at most {MAX_TIMEOUT:g} seconds, got {timeout:g}"
    for address in interfaces:
        try:
            ipaddress.ip_address(address)
        except ValueError:
            return f"--interface takes an address of this computer (like 192.168.1.20), not {address!r}"
    return ""


def _config(ctx: Any):
    """The saved profiles, or ``None`` with a warning when the file can't be read."""
    try:
        return ctx.store().load()
    except SparkError as error:
        print(f"spark-tui discover: warning: saved devices not marked: {error}", file=ctx.stderr)
        return None


def _as_json(row: DeviceRow) -> dict[str, Any]:
    return {
        "name": row.name,
        "host": row.host,
        "addresses": list(row.addresses),
        "port": row.port,
        "model": row.model,
        "saved": row.saved,
        "profile": row.profile.name if row.profile else None,
        "instance": row.instances[0] if row.instances else "",
        "found_by": "name" if row.name_only else "service",
        "reachable": row.reachable if row.name_only else None,
    }


def _print_table(rows: list[DeviceRow], ctx: Any) -> None:
    lines = [COLUMNS]
    for row in rows:
        addresses = ", ".join(row.addresses[:3]) + (f" (+{len(row.addresses) - 3})" if len(row.addresses) > 3 else "")
        lines.append(
            (
                display_safe(row.name, 40) + (" (name only" + (", SSH answers)" if row.reachable else ", SSH not answering)") if row.name_only else ""),
                display_safe(row.host, 48),
                display_safe(addresses or "-", 60),
                str(row.port),
                row.model or "-",
                f"as {display_safe(row.profile.name, 32)}" if row.profile else "-",
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(COLUMNS))]
    sparks = sum(1 for r in rows if r.is_spark)
    print(f"Found {len(rows)} SSH host(s), {sparks} Spark(s):", file=ctx.stdout)
    for line in lines:
        print("  ".join(cell.ljust(w) for cell, w in zip(line, widths)).rstrip(), file=ctx.stdout)
