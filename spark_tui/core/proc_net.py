"""Listening ports from Linux ``/proc/net/tcp`` and ``/proc/net/tcp6`` text, and port rules.

Pure functions over text read elsewhere (the port watcher reads it over SSH). Addresses in
those files are hexadecimal 32-bit words in the host's byte order; every Spark (aarch64) and
every x86 machine is little-endian, which is what the decoding assumes.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from spark_tui.core.models import PortRules

LISTEN = "0A"
"""Socket state code of a listening TCP socket in /proc/net/tcp."""


@dataclass(frozen=True)
class DetectedPort:
    """A TCP port something listens on at the device, reachable through a tunnel.

    Attributes:
        port: The port number.
        address: The bound address as text (``127.0.0.1``, ``0.0.0.0``, ``::``, ``::1``).
        family: 4 or 6.
        preset: Name of the catalogue preset this port belongs to, or ``None``.
        process: Name of the owning process when visible, or ``None``.
        inode: The socket's inode (matches ``socket:[inode]`` links in ``/proc/PID/fd``).
    """

    port: int
    address: str
    family: int
    preset: str | None = None
    process: str | None = None
    inode: int = 0


def _decode_address(hex_address: str) -> tuple[str, int]:
    """``0100007F`` -> (``127.0.0.1``, 4); 32 hex digits -> an IPv6 address, ``::ffff:`` folded."""
    raw = bytes.fromhex(hex_address)
    if len(raw) == 4:
        return str(ipaddress.IPv4Address(raw[::-1])), 4
    if len(raw) == 16:
        # Four 32-bit words, each in host (little-endian) order.
        ip = ipaddress.IPv6Address(b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4)))
        return (f"::ffff:{ip.ipv4_mapped}" if ip.ipv4_mapped else str(ip)), 6
    raise ValueError(f"not an IPv4 or IPv6 address: {hex_address!r}")


def reachable_through_tunnel(address: str) -> bool:
    """True for loopback or wildcard binds (v4, v6 and v4-mapped): what sshd can connect to."""
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback or ip.is_unspecified


def parse_listening(text: str) -> tuple[DetectedPort, ...]:
    """Every LISTEN socket in the text of ``/proc/net/tcp``, ``/proc/net/tcp6`` or both.

    Header lines, truncated lines and anything that does not parse are skipped: the text comes
    from the network and a bad line must not hide the good ones.

    Args:
        text: The file contents (several files may be concatenated).

    Returns:
        One entry per listening socket, in file order, ``preset`` and ``process`` unset.
    """
    found: list[DetectedPort] = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 10 or not fields[0].endswith(":") or fields[3] != LISTEN:
            continue
        try:
            hex_address, hex_port = fields[1].split(":")
            address, family = _decode_address(hex_address)
            port = int(hex_port, 16)
            inode = int(fields[9])
        except ValueError:
            continue
        if not 0 < port <= 0xFFFF or inode < 0:  # the kernel writes 4 hex digits and unsigned inodes
            continue
        found.append(DetectedPort(port=port, address=address, family=family, inode=inode))
    return tuple(found)


def _port_range(entry: str) -> tuple[int, int]:
    """``"8000-8999"`` -> (8000, 8999); ``"8888"`` -> (8888, 8888).

    Raises:
        ValueError: The entry is not a port or a range of ports.
    """
    low, sep, high = entry.strip().partition("-")
    try:
        first = int(low)
        last = int(high) if sep else first
    except ValueError:
        raise ValueError(f"port rule {entry!r} is not a port (8888) or a range (8000-8999)") from None
    if not (0 < first <= last <= 65535):
        raise ValueError(f"port rule {entry!r} is outside 1-65535 or its range is reversed")
    return first, last


def check_port_rules(rules: PortRules) -> None:
    """Validate every allow/deny entry, for the config loader to report bad input early.

    Raises:
        ValueError: An entry is not a port or range; the message quotes it.
    """
    for entry in (*rules.allow, *rules.deny):
        _port_range(entry)


def port_allowed(port: int, rules: PortRules) -> bool:
    """Whether ``port`` passes the rules: denied never; allowed when ``allow`` is empty or lists it.

    Entries that do not parse are ignored here (``check_port_rules`` reports them).
    """

    def listed(entries: tuple[str, ...]) -> bool:
        for entry in entries:
            try:
                first, last = _port_range(entry)
            except ValueError:
                continue
            if first <= port <= last:
                return True
        return False

    if listed(rules.deny):
        return False
    return not rules.allow or listed(rules.allow)


def forwardable_ports(
    text: str,
    rules: PortRules = PortRules(),
    *,
    name_of: dict[int, str] | None = None,
    ignore: frozenset[int] = frozenset(),
) -> tuple[DetectedPort, ...]:
    """The ports worth offering as tunnels: listening on loopback or all interfaces, allowed.

    One entry per port number (a service bound on both v4 and v6 is one row; the first seen
    wins), sorted by port.

    Args:
        text: ``/proc/net/tcp`` and ``/proc/net/tcp6`` contents.
        rules: The device's allow/deny rules.
        name_of: Port -> preset name, to label known services.
        ignore: Ports never to offer (e.g. the SSH port itself).

    Returns:
        The detected ports.
    """
    names = name_of or {}
    by_port: dict[int, DetectedPort] = {}
    for entry in parse_listening(text):
        if entry.port in by_port or entry.port in ignore:
            continue
        if not reachable_through_tunnel(entry.address) or not port_allowed(entry.port, rules):
            continue
        by_port[entry.port] = DetectedPort(
            entry.port, entry.address, entry.family, names.get(entry.port), None, entry.inode
        )
    return tuple(by_port[p] for p in sorted(by_port))
