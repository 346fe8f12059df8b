"""Cells of the terminal grid: packed attributes, lines, character widths.

A cell is one character (``str``; ``""`` for the right half of a wide character) and one
attribute ``int``. Packing colours and flags into a single int keeps SGR changes and run
comparisons cheap and makes every attribute hashable for the style cache.

Attribute layout (bits)::

    0..25   foreground: 0 default, 1..256 palette index + 1, TRUECOLOR | 0xRRGGBB
    26..51  background: same encoding, shifted by BG_SHIFT
    52..    flags: BOLD, DIM, ITALIC, UNDERLINE, BLINK, REVERSE, HIDDEN, STRIKE
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache, lru_cache
from itertools import groupby

from wcwidth import wcwidth

TRUECOLOR = 1 << 25
COLOR_MASK = (1 << 26) - 1
BG_SHIFT = 26
FLAG_SHIFT = 52

BOLD = 1 << FLAG_SHIFT
DIM = 2 << FLAG_SHIFT
ITALIC = 4 << FLAG_SHIFT
UNDERLINE = 8 << FLAG_SHIFT
BLINK = 16 << FLAG_SHIFT
REVERSE = 32 << FLAG_SHIFT
HIDDEN = 64 << FLAG_SHIFT
STRIKE = 128 << FLAG_SHIFT

FG_MASK = COLOR_MASK
BG_MASK = COLOR_MASK << BG_SHIFT
DEFAULT = 0

LINK_SHIFT = 61
LINK_IDS = 4095
LINK_MASK = LINK_IDS << LINK_SHIFT
"""Bits 61..72: the OSC 8 hyperlink a cell belongs to (an id into ``Terminal.links``; 0 none)."""


def link_of(attr: int) -> int:
    """The hyperlink id of ``attr`` (0 = not a link)."""
    return (attr >> LINK_SHIFT) & LINK_IDS


def fg_of(attr: int) -> int:
    """The packed foreground colour of ``attr`` (0 = default)."""
    return attr & COLOR_MASK


def bg_of(attr: int) -> int:
    """The packed background colour of ``attr`` (0 = default)."""
    return (attr >> BG_SHIFT) & COLOR_MASK


def palette(index: int) -> int:
    """Packed colour for palette entry ``index`` (0-255)."""
    return index + 1


def rgb(red: int, green: int, blue: int) -> int:
    """Packed truecolor value."""
    return TRUECOLOR | (red & 255) << 16 | (green & 255) << 8 | (blue & 255)


def describe_color(packed: int) -> str | int | None:
    """Human/test form of a packed colour: ``None`` default, palette int, or ``"#rrggbb"``."""
    if packed == 0:
        return None
    if packed & TRUECOLOR:
        return f"#{packed & 0xFFFFFF:06x}"
    return packed - 1


@lru_cache(maxsize=4096)
def char_width(char: str) -> int:
    """Columns ``char`` takes: 2 wide, 1 normal, 0 combining, -1 not printable."""
    return wcwidth(char)


_UNSAFE = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}


@lru_cache(maxsize=4096)
def shown_as(char: str) -> tuple[str, int]:
    """What a non-ASCII character from the remote becomes on screen, and its width.

    Format and control characters (bidi overrides, zero-width joiners, line separators) are
    dropped (width -1), unassigned or private-use ones shown as U+FFFD, so nothing the
    remote sends can reorder or hide what the outer terminal draws.
    """
    category = unicodedata.category(char)
    if category in _UNSAFE:
        return ("\ufffd", 1) if category in ("Cn", "Co") else ("", -1)
    width = wcwidth(char)
    if width < 0:
        return ("", -1)
    return (char, width)


# Blocks whose characters programs draw with most (accented letters, Greek and Cyrillic,
# punctuation, arrows and technical signs, box drawing, blocks, shapes, braille graphs).
_NARROW_BLOCKS = (
    (0xA0, 0x24F), (0x370, 0x52F), (0x2010, 0x205E), (0x2190, 0x23FF), (0x2500, 0x25FF), (0x2800, 0x28FF),
)


@cache
def _narrow_pattern() -> re.Pattern[str]:
    """A character class of the characters in ``_NARROW_BLOCKS`` that ``shown_as`` leaves as
    they are at width 1 (so a run of them can be written like ASCII, one cell each)."""
    ranges: list[list[int]] = []
    for first, last in _NARROW_BLOCKS:
        for code in range(first, last + 1):
            char = chr(code)
            if unicodedata.category(char) in _UNSAFE or wcwidth(char) != 1:
                continue
            if ranges and ranges[-1][1] == code - 1:
                ranges[-1][1] = code
            else:
                ranges.append([code, code])
    body = "".join(f"{chr(a)}-{chr(b)}" if a != b else chr(a) for a, b in ranges)
    return re.compile(f"[ -~{body}]+")  # all of them above U+00A0: nothing to escape


def narrow_run(run: str) -> bool:
    """True when every character of ``run`` (printable, no controls) is shown as itself in one
    cell, so the run can be written with one slice assignment."""
    return _narrow_pattern().fullmatch(run) is not None


cells_seen: dict[str, tuple[str, ...]] = {}
"""Runs already written -> their cells (field labels, box drawing and meters repeat a lot)."""
CELLS_SEEN = 4096
CELLS_KEY = 96


def run_cells(run: str) -> tuple[str, ...] | None:
    """The cells of ``run`` (printable, no controls) when each of its characters is shown as
    itself in one cell (ASCII, or ``narrow_run``), else None.

    Memoised (bounded): slice-assigning a tuple into a line costs half what a str does (no
    list is built from it), and shares the one-character strings outside Latin-1.
    """
    cells = cells_seen.get(run)
    if cells is None and (run.isascii() or _narrow_pattern().fullmatch(run) is not None):
        cells = tuple(run)
        if len(run) <= CELLS_KEY:
            if len(cells_seen) >= CELLS_SEEN:
                cells_seen.clear()
            cells_seen[run] = cells
    return cells


# DEC Special Graphics (ESC ( 0): what ncurses draws boxes with when it does not trust UTF-8.
DEC_GRAPHICS = str.maketrans(
    {
        "`": "◆", "a": "▒", "b": "␉", "c": "␌", "d": "␍", "e": "␊", "f": "°", "g": "±",
        "h": "␤", "i": "␋", "j": "┘", "k": "┐", "l": "┌", "m": "└", "n": "┼", "o": "⎺",
        "p": "⎻", "q": "─", "r": "⎼", "s": "⎽", "t": "├", "u": "┤", "v": "┴", "w": "┬",
        "x": "│", "y": "≤", "z": "≥", "{": "π", "|": "≠", "}": "£", "~": "·",
    }
)


class Line:
    """One row of cells.

    Attributes:
        chars: One string per cell (``""`` marks the right half of a wide character).
        attrs: One packed attribute per cell.
        wrapped: True when the text continues on the next line (soft wrap).
        cache: Free slot for a renderer to keep what it drew; cleared on every change.
    """

    __slots__ = ("chars", "attrs", "wrapped", "cache")

    def __init__(self, chars: list[str], attrs: list[int], wrapped: bool = False) -> None:
        self.chars = chars
        self.attrs = attrs
        self.wrapped = wrapped
        self.cache = None

    @classmethod
    def blank(cls, cols: int, attr: int = DEFAULT) -> Line:
        """A line of ``cols`` spaces with ``attr``."""
        return cls([" "] * cols, [attr] * cols)

    @property
    def text(self) -> str:
        """The characters of the line, wide characters once, trailing spaces kept."""
        return "".join(self.chars)

    def resize(self, cols: int) -> None:
        """Pad with blanks or cut to ``cols`` cells (no reflow)."""
        have = len(self.chars)
        if cols > have:
            self.chars.extend([" "] * (cols - have))
            self.attrs.extend([DEFAULT] * (cols - have))
        elif cols < have:
            del self.chars[cols:]
            del self.attrs[cols:]
            if cols and self.chars[cols - 1] != "" and char_width(self.chars[cols - 1][:1]) == 2:
                self.chars[cols - 1] = " "  # a wide character cut in half
        self.cache = None


_CHARS = Line.__dict__["chars"]
_ATTRS = Line.__dict__["attrs"]


class PendingLine(Line):
    """A row a flood of lines wrote, kept in its stored form until something reads its cells.

    In a flood fed in small slices most rows scroll off before anything looks at them: such a
    row costs a string and its runs, not two lists of ``cols`` items. Reading ``chars`` or
    ``attrs`` builds the lists and turns the object into a plain :class:`Line` (same layout);
    ``store_line`` and the renderer use the stored form as it is.
    """

    __slots__ = ()

    def __init__(self, text: str, runs: tuple[tuple[int, int], ...], wrapped: bool = False) -> None:
        _CHARS.__set__(self, text)  # the padded text, until the cells are built
        _ATTRS.__set__(self, runs)  # the (attr, length) runs, until the cells are built
        self.wrapped = wrapped
        self.cache = None

    @property
    def stored(self) -> tuple[str, tuple[tuple[int, int], ...]]:
        """The padded text and the runs."""
        return _CHARS.__get__(self, Line), _ATTRS.__get__(self, Line)

    def _cells(self) -> None:
        text, runs = self.stored
        attrs: list[int] = []
        for attr, length in runs:
            attrs.extend([attr] * length)
        _CHARS.__set__(self, list(text))
        _ATTRS.__set__(self, attrs)
        self.__class__ = Line  # type: ignore[assignment]  # from now on an ordinary line

    @property  # type: ignore[override]
    def chars(self) -> list[str]:
        self._cells()
        return _CHARS.__get__(self, Line)

    @property  # type: ignore[override]
    def attrs(self) -> list[int]:
        self._cells()
        return _ATTRS.__get__(self, Line)


# A scrolled-off line, stored compactly: (cells, runs, wrapped) where ``cells`` is the joined
# text when every cell holds exactly one character, else a tuple of the cells, and ``runs`` is
# a tuple of (attr, length) pairs.
StoredLine = tuple


# Attribute layouts seen recently -> their runs: program output repeats a few layouts a lot.
_runs_seen: dict[tuple[int, ...], tuple[tuple[int, int], ...]] = {}


def store_line(line: Line) -> StoredLine:
    """Compact ``line`` for the scrollback (a joined string and run-length attributes)."""
    if line.__class__ is PendingLine:  # still in that form
        return (_CHARS.__get__(line, Line), _ATTRS.__get__(line, Line), line.wrapped)
    chars = line.chars
    text = "".join(chars)
    cells: str | tuple[str, ...] = text if len(text) == len(chars) else tuple(chars)
    attrs = line.attrs
    first = attrs[0] if attrs else DEFAULT
    if attrs.count(first) == len(attrs):
        runs: tuple[tuple[int, int], ...] = ((first, len(attrs)),)
    else:
        key = tuple(attrs)
        runs = _runs_seen.get(key)
        if runs is None:
            runs = tuple([(attr, len(list(group))) for attr, group in groupby(key)])
            if len(_runs_seen) >= 4096:
                _runs_seen.clear()
            _runs_seen[key] = runs
    return (cells, runs, line.wrapped)


def load_line(stored: StoredLine, cols: int) -> Line:
    """Rebuild a :class:`Line` of ``cols`` cells from its stored form."""
    cells, runs, wrapped = stored
    attrs: list[int] = []
    for attr, length in runs:
        attrs.extend([attr] * length)
    line = Line(list(cells), attrs, wrapped)
    line.resize(cols)
    return line
