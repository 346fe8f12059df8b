"""Checks for single values of the profile file, each raising ``SchemaProblem`` with the path.

``schema`` composes these into whole tables; they also serve values that come from code.
"""

from __future__ import annotations

import difflib
import ipaddress
import re
from collections.abc import Iterable, Mapping
from typing import Any

from spark_tui.core.models import PortRules

Where = tuple[str | int, ...]

NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}")
TUNNEL_NAME_RE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9 ._-]{0,46}[A-Za-z0-9._-])?")
TAG_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,31}")
HOST_RE = re.compile(r"[A-Za-z0-9_:\[][A-Za-z0-9_.:%\[\]-]{0,252}")
USER_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.@$\\-]{0,63}")
JUMP_RE = re.compile(r"[A-Za-z0-9_:\[][A-Za-z0-9_.:%@,\[\]-]{0,254}")
THEME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,47}")
BINDING_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,63}")
SERVICE_TYPE_RE = re.compile(r"_[A-Za-z0-9-]{1,62}\._(tcp|udp)\.local\.")
PORT_RULE_RE = re.compile(r"(\d{1,5})(?:-(\d{1,5}))?")
BARE_KEY_RE = re.compile(r"[A-Za-z0-9_-]+")
CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")


class SchemaProblem(Exception):
    """One invalid value, located by its path in the TOML data.

    Args:
        where: Path of keys (and list indexes) to the offending value.
        message: What is wrong.
        hint: How to fix it.
    """

    def __init__(self, where: Where, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.where = where
        self.message = message
        self.hint = hint

    @property
    def field(self) -> str:
        """The dotted field name, e.g. ``devices.spark-1a2b.tunnels[0].remote_port``."""
        return format_field(self.where)


def format_field(where: Where) -> str:
    """Render a path the way a person reads TOML: ``devices."my.box".tunnels[1].name``."""
    out = ""
    for part in where:
        if isinstance(part, int):
            out += f"[{part}]"
            continue
        key = part if BARE_KEY_RE.fullmatch(part) else '"' + part.replace("\\", "\\\\").replace('"', '\\"') + '"'
        out += ("." if out else "") + key
    return out


# --- value checks ------------------------------------------------------------------------


def describe(value: Any) -> str:
    kind = {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "an array", dict: "a table"}
    for python_type, word in kind.items():
        if type(value) is python_type:
            return f"{word} ({short(value)})" if python_type in (int, float, str, bool) else word
    return f"a {type(value).__name__}"


def short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def table_of(value: Any, where: Where) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise SchemaProblem(where, f"must be a table, got {describe(value)}", f"write it as [{format_field(where)}] with keys below it")
    return value


def array(value: Any, where: Where) -> list[Any]:
    if not isinstance(value, list):
        raise SchemaProblem(where, f"must be an array, got {describe(value)}", 'write it as [ ... ], e.g. ["lab"]')
    return value


def string(value: Any, where: Where) -> str:
    if not isinstance(value, str):
        raise SchemaProblem(where, f"must be a string, got {describe(value)}", 'put the value in double quotes: "..."')
    return value


def matching(value: Any, where: Where, pattern: re.Pattern[str], example: str) -> str:
    text = string(value, where)
    if not pattern.fullmatch(text):
        raise SchemaProblem(where, f"invalid value {short(text)}", f"expected {example}")
    return text


def boolean(value: Any, where: Where) -> bool:
    if not isinstance(value, bool):
        raise SchemaProblem(where, f"must be true or false, got {describe(value)}", "write true or false without quotes")
    return value


def port_number(value: Any, where: Where) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise SchemaProblem(where, f"must be a port number, got {describe(value)}", "write a number from 1 to 65535 without quotes")
    if not 1 <= value <= 65535:
        raise SchemaProblem(where, f"port {short(value)} is out of range", "use a number from 1 to 65535")
    return value


def file_path(value: Any, where: Where) -> str:
    text = string(value, where)
    if not text or len(text) > 4096 or CONTROL_RE.search(text):
        raise SchemaProblem(where, f"invalid file path {short(text)}", 'e.g. "~/.ssh/id_ed25519"')
    return text


def ip_address(value: Any, where: Where) -> str:
    text = string(value, where)
    try:
        ipaddress.ip_address(text)
    except ValueError:
        raise SchemaProblem(where, f"not an IP address: {short(text)}", 'list interface addresses, e.g. ["192.168.1.20"]') from None
    return text


def local_address(value: Any, where: Where) -> str:
    text = string(value, where)
    if text != "localhost":
        try:
            ipaddress.ip_address(text)
        except ValueError:
            raise SchemaProblem(where, f"not a local address: {short(text)}", 'use "127.0.0.1" (default) or an address of this computer') from None
    return text


def port_rules(value: Any, where: Where) -> PortRules:
    data = table_of(value, where)
    no_unknown_keys(data, ("allow", "deny"), where)
    found: dict[str, tuple[str, ...]] = {}
    for key in ("allow", "deny"):
        entries = []
        for i, item in enumerate(array(data.get(key, []), (*where, key))):
            entries.append(_port_rule(item, (*where, key, i)))
        found[key] = tuple(entries)
    return PortRules(**found)


def _port_rule(value: Any, where: Where) -> str:
    text = str(value) if isinstance(value, int) and not isinstance(value, bool) else string(value, where)
    match = PORT_RULE_RE.fullmatch(text)
    low, high = (int(match[1]), int(match[2] or match[1])) if match else (0, 0)
    if not match or not (1 <= low <= high <= 65535):
        raise SchemaProblem(where, f"invalid port rule {short(text)}", 'write a port or a range: "8888" or "8000-8999"')
    return text


def optional(data: Mapping[str, Any], key: str, where: Where, check: Any) -> Any:
    return check(data[key], (*where, key)) if key in data else None


def no_unknown_keys(data: Mapping[str, Any], known: Iterable[str], where: Where) -> None:
    known = tuple(known)
    for key in data:
        if key not in known:
            raise SchemaProblem((*where, key), f"unknown key {key!r}", did_you_mean(key, known))


def did_you_mean(key: str, known: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(key, known, n=1)
    listing = "known keys: " + ", ".join(known)
    return f"did you mean {close[0]!r}? {listing}" if close else f"remove it; {listing}"
