"""Which local subnets to sweep with reverse-address questions, and the questions themselves.

A host running Avahi with no service file still answers for its name: ``A``/``AAAA`` and the
reverse ``PTR`` (``10.0.18.198.in-addr.arpa. PTR spark-1a2b.local.``). One mDNS query carrying
the reverse names of a local subnet's addresses finds those hosts. Only IPv4, only subnets of
this computer's own interfaces (those chosen for discovery), each narrowed to the /24 holding
the computer's address, never wider; loopback is never swept.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import ifaddr

MAX_PREFIX_WIDTH = 24  # never sweep more than a /24 (254 addresses) per interface
QUESTIONS_PER_PACKET = 64  # 64 reverse names, about 1.2 kB with name compression: one packet each


@dataclass(frozen=True)
class LocalInterface:
    """One IPv4 address of this computer, its (narrowed) subnet and its interface index."""

    address: str
    network: ipaddress.IPv4Network
    index: int


def _adapters() -> list:
    try:
        return list(ifaddr.get_adapters())
    except OSError:
        return []


def local_ipv4(interfaces: Sequence[str] = ()) -> list[LocalInterface]:
    """This computer's IPv4 addresses (``interfaces`` only, when given), loopback left out.

    Subnets wider than /24 are narrowed to the /24 around the address.
    """
    chosen = set(interfaces)
    found: list[LocalInterface] = []
    for adapter in _adapters():
        for entry in adapter.ips:
            if not isinstance(entry.ip, str):
                continue  # IPv6: (address, flowinfo, scope)
            try:
                address = ipaddress.IPv4Address(entry.ip)
            except ValueError:
                continue
            if address.is_loopback or (chosen and entry.ip not in chosen):
                continue
            prefix = max(int(entry.network_prefix), MAX_PREFIX_WIDTH)
            network = ipaddress.IPv4Network(f"{address}/{prefix}", strict=False)
            found.append(LocalInterface(str(address), network, int(adapter.index or 0)))
    return found


def scope_of(address: str) -> int | None:
    """The interface index owning this computer's IPv4 ``address``, or ``None``."""
    for adapter in _adapters():
        if any(entry.ip == address for entry in adapter.ips):
            return int(adapter.index) if adapter.index else None
    return None


def reverse_name(address: str) -> str:
    """``198.18.0.10`` -> ``10.0.18.198.in-addr.arpa.``."""
    return ipaddress.IPv4Address(address).reverse_pointer + "."


def address_of(name: str) -> str | None:
    """The IPv4 address a reverse name stands for, or ``None`` if it is not one."""
    labels = name.lower().rstrip(".").split(".")
    if len(labels) != 6 or labels[4:] != ["in-addr", "arpa"]:
        return None
    try:
        return str(ipaddress.IPv4Address(".".join(reversed(labels[:4]))))
    except ValueError:
        return None


def sweep_names(interfaces: Iterable[LocalInterface]) -> list[str]:
    """Reverse names of every host address of the given subnets, the computer's own left out."""
    own = {i.address for i in interfaces}
    names: dict[str, None] = {}
    for interface in interfaces:
        for host in interface.network.hosts():
            if str(host) not in own:
                names[reverse_name(str(host))] = None
    return list(names)


def in_subnets(address: str, interfaces: Iterable[LocalInterface]) -> bool:
    """Whether ``address`` lies in one of the swept subnets."""
    try:
        ip = ipaddress.IPv4Address(address)
    except ValueError:
        return False
    return any(ip in i.network for i in interfaces)


def batches(items: Sequence[str], size: int = QUESTIONS_PER_PACKET) -> list[Sequence[str]]:
    """``items`` cut into runs of at most ``size``."""
    return [items[i : i + size] for i in range(0, len(items), size)]
