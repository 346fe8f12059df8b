"""Find the line of a field in TOML text, so an error can say ``profiles.toml:12``.

Neither ``tomllib`` nor ``tomlkit`` keeps line numbers for values, so this reads the text once
more, line by line: table headers (``[a.b]``, ``[[a.b]]`` counted per array) and ``key = value``
lines under them. It is only used on the error path, where the file already parsed, and it is
best effort: when the exact key is not on a line of its own (inline tables, multi-line values)
the nearest enclosing table or key that is found wins.
"""

from __future__ import annotations

import re
import tomllib

Path_ = tuple[str | int, ...]

_MAX_KEY_TEXT = 1024
_KEY_PART = re.compile(r"""\s*(?:([A-Za-z0-9_-]+)|("(?:[^"\\]|\\.)*")|('[^']*'))\s*""")


def line_of(text: str, where: Path_) -> int | None:
    """The 1-based line that defines ``where`` (or its closest found parent), or ``None``.

    Args:
        text: The TOML source.
        where: Path of keys and array-of-tables indexes, e.g. ``("devices", "a", "tunnels", 0, "name")``.
    """
    found = _index_lines(text)
    for end in range(len(where), 0, -1):
        line = found.get(where[:end])
        if line is not None:
            return line
    return None


def line_of_offset(data: bytes, offset: int) -> int:
    """The 1-based line holding byte ``offset`` of ``data``."""
    return data.count(b"\n", 0, offset) + 1


def _index_lines(text: str) -> dict[Path_, int]:
    found: dict[Path_, int] = {}
    aot_counts: dict[Path_, int] = {}
    table: Path_ = ()
    closing: str | None = None  # delimiter of a multi-line string we are inside
    for number, line in enumerate(text.splitlines(), start=1):
        if closing is not None:
            if closing in line:
                closing = None
            continue
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.startswith("[["):
            keys = _parse_key(stripped[2 : _header_end(stripped, "]]")])
            if keys is None:
                continue
            index = aot_counts.get(keys, 0)
            aot_counts[keys] = index + 1
            table = _resolve(keys, aot_counts) + (index,)
            found.setdefault(table[:-1], number)
            found.setdefault(table, number)
            continue
        if stripped.startswith("["):
            keys = _parse_key(stripped[1 : _header_end(stripped, "]")])
            if keys is None:
                continue
            table = _resolve(keys, aot_counts)
            found.setdefault(table, number)
            continue
        key_text, sep, value = _split_assignment(stripped)
        if not sep:
            continue
        keys = _parse_key(key_text)
        if keys is None:
            continue
        for end in range(1, len(keys) + 1):
            found.setdefault(table + keys[:end], number)
        for delimiter in ('"""', "'''"):
            if value.lstrip().startswith(delimiter) and value.count(delimiter) % 2 == 1:
                closing = delimiter
    return found


def _resolve(keys: Path_, aot_counts: dict[Path_, int]) -> Path_:
    """Insert array-of-tables indexes: ``devices.a.tunnels.x`` is under the last tunnel seen."""
    out: Path_ = ()
    plain: Path_ = ()
    for key in keys:
        plain += (key,)
        out += (key,)
        count = aot_counts.get(plain)
        if count and plain != keys:
            out += (count - 1,)
    return out


def _header_end(stripped: str, closer: str) -> int:
    position = stripped.rfind(closer, 0, stripped.find("#") if "#" in stripped else len(stripped))
    return position if position > 0 else len(stripped)


def _split_assignment(stripped: str) -> tuple[str, str, str]:
    """Split ``key = value`` at the first ``=`` outside quotes."""
    quote = ""
    for i, char in enumerate(stripped):
        if quote:
            if char == quote:
                quote = ""
        elif char in "\"'":
            quote = char
        elif char == "=":
            return stripped[:i], "=", stripped[i + 1 :]
    return stripped, "", ""


def _parse_key(text: str) -> Path_ | None:
    """Parse a (dotted) TOML key into its parts, or ``None`` when it is not one."""
    if len(text) > _MAX_KEY_TEXT:  # not a key a profile file uses; don't spend time on it
        return None
    parts: list[str] = []
    position = 0
    while True:
        match = _KEY_PART.match(text, position)
        if not match or not match.group(0).strip():
            return None
        bare, basic, literal = match.groups()
        if bare is not None:
            parts.append(bare)
        elif literal is not None:
            parts.append(literal[1:-1])
        else:
            try:
                parts.append(tomllib.loads(f"k = {basic}")["k"])
            except tomllib.TOMLDecodeError:
                return None
        position = match.end()
        if position == len(text):
            return tuple(parts)
        if text[position] != ".":
            return None
        position += 1
