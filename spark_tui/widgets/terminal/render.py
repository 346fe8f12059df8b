"""Turn emulator lines into Textual Strips: one Segment per run of equal attributes.

A line's Strip is cached on the line itself (``Line.cache``) and the emulator clears that
slot whenever it writes to the line, so an unchanged line costs nothing to draw again.
"""

from __future__ import annotations

from rich.color import Color
from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip

from .cells import (
    BLINK,
    BOLD,
    COLOR_MASK,
    DIM,
    HIDDEN,
    ITALIC,
    LINK_MASK,
    REVERSE,
    STRIKE,
    TRUECOLOR,
    UNDERLINE,
    Line,
    PendingLine,
    StoredLine,
    bg_of,
    load_line,
)

_styles: dict[int, Style] = {}


def _color(packed: int) -> Color | None:
    if packed == 0:
        return None
    if packed & TRUECOLOR:
        value = packed & 0xFFFFFF
        return Color.from_rgb(value >> 16, (value >> 8) & 255, value & 255)
    return Color.from_ansi(packed - 1)


def style_for(attr: int) -> Style:
    """The Rich style for a packed attribute (memoised)."""
    style = _styles.get(attr)
    if style is None:
        style = Style(
            color=_color(attr & COLOR_MASK),
            bgcolor=_color(bg_of(attr)),
            bold=bool(attr & BOLD) or None,
            dim=bool(attr & DIM) or None,
            italic=bool(attr & ITALIC) or None,
            underline=bool(attr & (UNDERLINE | LINK_MASK)) or None,  # links are underlined
            blink=bool(attr & BLINK) or None,
            reverse=bool(attr & REVERSE) or None,
            conceal=bool(attr & HIDDEN) or None,
            strike=bool(attr & STRIKE) or None,
        )
        if len(_styles) > 4096:
            _styles.clear()
        _styles[attr] = style
    return style


def line_strip(line: Line) -> Strip:
    """The Strip for ``line`` (cached on the line until the emulator changes it)."""
    strip = line.cache
    if strip is None:
        if line.__class__ is PendingLine:  # drawn from its stored form, which it keeps
            strip = line.cache = _build_stored(*line.stored)
        else:
            strip = line.cache = _build(line.chars, line.attrs)
    return strip


def _build_stored(text: str, runs: tuple[tuple[int, int], ...]) -> Strip:
    """A Strip from a padded text (one character a cell) and its (attr, length) runs."""
    segments = []
    start = 0
    for attr, length in runs:
        segments.append(Segment(text[start : start + length], style_for(attr)))
        start += length
    return Strip(segments, len(text))


def _build(chars: list[str], attrs: list[int]) -> Strip:
    cols = len(chars)
    if not cols:
        return Strip([], 0)
    first = attrs[0]
    if attrs.count(first) == cols:
        return Strip([Segment("".join(chars), style_for(first))], cols)
    segments = []
    start = 0
    current = first
    for index in range(1, cols):
        attr = attrs[index]
        if attr != current:
            segments.append(Segment("".join(chars[start:index]), style_for(current)))
            start, current = index, attr
    segments.append(Segment("".join(chars[start:]), style_for(current)))
    return Strip(segments, cols)


class HistoryStrips:
    """Strips for scrollback lines, cached by identity of the stored line (bounded)."""

    def __init__(self, limit: int = 512) -> None:
        self._cache: dict[int, tuple[StoredLine, int, Strip]] = {}
        self._limit = limit

    def strip(self, stored: StoredLine, cols: int) -> Strip:
        """The Strip for a stored scrollback line at ``cols`` columns."""
        key = id(stored)
        hit = self._cache.get(key)
        if hit is not None and hit[0] is stored and hit[1] == cols:
            return hit[2]
        line = load_line(stored, cols)
        strip = _build(line.chars, line.attrs)
        if len(self._cache) >= self._limit:
            self._cache.clear()
        self._cache[key] = (stored, cols, strip)
        return strip


def highlight(strip: Strip, start: int, end: int, style: Style) -> Strip:
    """``strip`` with cells ``start..end-1`` drawn in ``style`` on top of their own."""
    if start >= end:
        return strip
    length = strip.cell_length
    start, end = max(0, start), min(length, end)
    if start >= end:
        return strip
    parts = strip.divide([start, end, length])
    middle = Strip([Segment(text, (own or Style()) + style) for text, own, _ in parts[1]], end - start)
    return Strip.join([parts[0], middle, *parts[2:]])
