"""Reading libghostty-vt's screen back as our :class:`~.cells.Line` rows.

The native core keeps the grid; the view draws :class:`Line` objects (characters plus packed
attributes, see ``cells``). This module turns one into the other, and only for the rows the
native render state marks dirty, so a frame costs the rows that changed, not the screen.

A row's raw cells come back in one call (``CELLS_RAW``: one 64-bit word a cell) and are
decoded here; :func:`check_cell_layout` proves at start-up, against the library's own
``ghostty_cell_get``, that the decoding matches the pinned library, so a changed layout turns
the native core off instead of drawing garbage. Styles are looked up once per style id per row.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .cells import (
    BG_SHIFT,
    BLINK,
    BOLD,
    DIM,
    HIDDEN,
    ITALIC,
    LINK_IDS,
    LINK_SHIFT,
    REVERSE,
    STRIKE,
    TRUECOLOR,
    UNDERLINE,
    Line,
    shown_as,
)

# One raw cell (Ghostty's packed ``Cell``): content tag, content, style id, width, flags.
_TAG = 0x3
_CODEPOINT_SHIFT, _CODEPOINT = 2, 0x1FFFFF
_PALETTE = 0xFF
_RGB = 0xFFFFFF
_STYLE_SHIFT, _STYLE = 26, 0xFFFF
_WIDE_SHIFT, _WIDE = 42, 0x3
_LINK_BIT = 1 << 45

TAG_CODEPOINT, TAG_GRAPHEME, TAG_BG_PALETTE, TAG_BG_RGB = 0, 1, 2, 3
WIDE_NARROW, WIDE_WIDE, WIDE_TAIL, WIDE_HEAD = 0, 1, 2, 3

_BG_BITS = 0x3FFFFFF << BG_SHIFT

_SPECIAL = _TAG | (_WIDE << _WIDE_SHIFT) | _LINK_BIT
"""Bits that need a cell-by-cell look: another content kind, a wide character, a link."""

GRAPHEME_LIMIT = 32
"""Code points of one cluster that are drawn (a hostile stream may stack thousands)."""

_PLAIN_MASK = (_TAG | (_STYLE << _STYLE_SHIFT) | (_WIDE << _WIDE_SHIFT) | _LINK_BIT)
"""Bits that must be zero for a cell to be a plain narrow character in the default style."""


def decode(cell: int) -> tuple[int, int, int, int, bool]:
    """(content tag, content, style id, width kind, has hyperlink) of one raw cell."""
    return (
        cell & _TAG,
        (cell >> _CODEPOINT_SHIFT) & (_CODEPOINT if cell & _TAG < 2 else _RGB),
        (cell >> _STYLE_SHIFT) & _STYLE,
        (cell >> _WIDE_SHIFT) & _WIDE,
        bool(cell & _LINK_BIT),
    )


def cell_rgb(content: int) -> int:
    """A cell's own background colour (red in the low byte) as our packed colour."""
    return TRUECOLOR | ((content & 0xFF) << 16) | (content & 0xFF00) | ((content >> 16) & 0xFF)


def check_cell_layout(ffi: Any, lib: Any, raw_cells: list[int]) -> bool:
    """True when :func:`decode` agrees with ``ghostty_cell_get`` on every cell given."""
    out = ffi.new("uint64_t*")

    def get(cell: int, key: int) -> int:
        out[0] = 0
        if lib.ghostty_cell_get(cell, key, out) != 0:
            raise ValueError(key)
        return out[0]

    try:
        for cell in raw_cells:
            tag, content, style_id, wide, link = decode(cell)
            theirs = (
                get(cell, lib.GHOSTTY_CELL_DATA_CONTENT_TAG) & 0xFFFFFFFF,
                get(cell, lib.GHOSTTY_CELL_DATA_STYLE_ID) & 0xFFFF,
                get(cell, lib.GHOSTTY_CELL_DATA_WIDE) & 0xFFFFFFFF,
                bool(get(cell, lib.GHOSTTY_CELL_DATA_HAS_HYPERLINK) & 0xFF),
            )
            if theirs != (tag, style_id, wide, link):
                return False
            if tag < 2 and get(cell, lib.GHOSTTY_CELL_DATA_CODEPOINT) & 0xFFFFFFFF != content:
                return False
    except ValueError:
        return False
    return True


def _color(color: Any, lib: Any) -> int:
    """A Ghostty style colour as our packed colour (0 default, palette + 1, TRUECOLOR | rgb)."""
    if color.tag == lib.GHOSTTY_STYLE_COLOR_PALETTE:
        return color.value.palette + 1
    if color.tag == lib.GHOSTTY_STYLE_COLOR_RGB:
        rgb = color.value.rgb
        return TRUECOLOR | (rgb.r << 16) | (rgb.g << 8) | rgb.b
    return 0


def packed_style(style: Any, lib: Any) -> int:
    """A ``GhosttyStyle`` as our packed attribute."""
    attr = _color(style.fg_color, lib) | (_color(style.bg_color, lib) << BG_SHIFT)
    if style.bold:
        attr |= BOLD
    if style.faint:
        attr |= DIM
    if style.italic:
        attr |= ITALIC
    if style.underline:
        attr |= UNDERLINE
    if style.blink:
        attr |= BLINK
    if style.inverse:
        attr |= REVERSE
    if style.invisible:
        attr |= HIDDEN
    if style.strikethrough:
        attr |= STRIKE
    return attr


def _safe(char: str, blank: str = " ") -> str:
    """What a cell shows for ``char``: format and control characters never reach the screen."""
    return shown_as(char)[0] or blank


def grapheme_text(codes: list[int]) -> str:
    """What a cell shows for a cluster's code points (base first), format characters dropped."""
    return "".join(_safe(chr(code), "") for code in codes if 0 < code < 0x110000) or " "


def cell_char_attr(cell: int, attr: int, grapheme: Callable[[], str]) -> tuple[str, int]:
    """What one raw cell shows and its attribute, given its style's attribute ``attr``.

    ``grapheme()`` reads a multi-code-point cluster (only asked for such a cell). Shared by the
    screen's rows (render state) and the scrollback's (grid references).
    """
    tag = cell & _TAG
    if tag == TAG_BG_PALETTE:  # a cell holding only a background colour (erased with it)
        return " ", (attr & ~_BG_BITS) | ((((cell >> 2) & _PALETTE) + 1) << BG_SHIFT)
    if tag == TAG_BG_RGB:
        return " ", (attr & ~_BG_BITS) | (cell_rgb(cell >> 2) << BG_SHIFT)
    wide = (cell >> _WIDE_SHIFT) & _WIDE
    if wide == WIDE_TAIL:
        return "", attr
    if wide == WIDE_HEAD:
        return " ", attr  # the spare last column before a wide character wrapped
    if tag == TAG_GRAPHEME:
        return grapheme(), attr
    code = (cell >> 2) & _CODEPOINT
    char = chr(code) if code else " "
    return (char if " " <= char < "\x7f" else _safe(char)), attr


class RowReader:
    """Builds :class:`Line` rows from the render state's row iterator (one per terminal).

    Args:
        ffi, lib: pyghostty's cffi objects.
        link_id: Called with a hyperlink's address, returns the id our attributes carry.
    """

    def __init__(self, ffi: Any, lib: Any, link_id: Any) -> None:
        self._ffi = ffi
        self._lib = lib
        self._link_id = link_id
        self._view = ffi.new("GhosttyCellsView*")
        self._cells = ffi.new("GhosttyRenderStateRowCells*")
        if lib.ghostty_render_state_row_cells_new(ffi.NULL, self._cells) != 0:
            raise MemoryError("libghostty-vt: row cells")
        self._style = ffi.new("GhosttyStyle*")
        self._style.size = ffi.sizeof("GhosttyStyle")
        self._glen = ffi.new("uint32_t*")
        self._gbuf = ffi.new("uint32_t[]", 64)
        self._raw_row = ffi.new("GhosttyRow*")
        self._wrap = ffi.new("bool*")

    def close(self) -> None:
        """Free the native cell iterator."""
        if self._cells is not None:
            self._lib.ghostty_render_state_row_cells_free(self._cells[0])
            self._cells = None

    def raw(self, iterator: Any) -> list[int]:
        """The current row's raw cells."""
        lib = self._lib
        lib.ghostty_render_state_row_get(iterator, lib.GHOSTTY_RENDER_STATE_ROW_DATA_CELLS_RAW, self._view)
        return self._ffi.unpack(self._view.ptr, self._view.len)

    def line(self, iterator: Any, hyperlink_uri: Any) -> Line:
        """The current row of ``iterator`` as a :class:`Line`.

        ``hyperlink_uri(x)`` gives the address of the link at column ``x`` of this row.
        """
        lib = self._lib
        raw = self.raw(iterator)
        lib.ghostty_render_state_row_get(iterator, lib.GHOSTTY_RENDER_STATE_ROW_DATA_RAW, self._raw_row)
        lib.ghostty_row_get(self._raw_row[0], lib.GHOSTTY_ROW_DATA_WRAP, self._wrap)
        wrapped = bool(self._wrap[0])
        if not any(cell & _PLAIN_MASK for cell in raw):
            # The common row: narrow characters in the default style, one comprehension.
            chars = [chr(c >> 2) if c >> 2 else " " for c in raw]
            if not all(" " <= ch < "\x7f" for ch in chars):
                chars = [_safe(ch) if ch >= "\x7f" else ch for ch in chars]
            return Line(chars, [0] * len(raw), wrapped)
        return self._styled_line(iterator, raw, wrapped, hyperlink_uri)

    def _styled_line(self, iterator: Any, raw: list[int], wrapped: bool, hyperlink_uri: Any) -> Line:
        lib = self._lib
        cells = self._cells[0]
        lib.ghostty_render_state_row_get(iterator, lib.GHOSTTY_RENDER_STATE_ROW_DATA_CELLS, self._cells)
        if not any(cell & _SPECIAL for cell in raw):
            # Narrow characters in a few styles (coloured listings, editors): whole-row steps.
            ids = [(cell >> _STYLE_SHIFT) & _STYLE for cell in raw]
            styles = {}
            for style_id in set(ids):
                if style_id:
                    styles[style_id] = self._style_at(cells, ids.index(style_id))
            styles[0] = 0
            chars = [chr(c >> 2 & _CODEPOINT) if c >> 2 & _CODEPOINT else " " for c in raw]
            if not all(" " <= ch < "\x7f" for ch in chars):
                chars = [_safe(ch) if ch >= "\x7f" else ch for ch in chars]
            return Line(chars, [styles[style_id] for style_id in ids], wrapped)
        styles: dict[int, int] = {0: 0}
        chars: list[str] = []
        attrs: list[int] = []
        for x, cell in enumerate(raw):
            style_id = (cell >> _STYLE_SHIFT) & _STYLE
            attr = styles.get(style_id)
            if attr is None:
                attr = styles[style_id] = self._style_at(cells, x)
            char, attr = cell_char_attr(cell, attr, lambda x=x: self._grapheme(cells, x))
            if cell & _LINK_BIT:
                uri = hyperlink_uri(x)
                attr |= ((self._link_id(uri) if uri else 0) & LINK_IDS) << LINK_SHIFT
            chars.append(char)
            attrs.append(attr)
        return Line(chars, attrs, wrapped)

    def _style_at(self, cells: Any, x: int) -> int:
        """The packed attribute of the style of the cell at column ``x``."""
        lib = self._lib
        lib.ghostty_render_state_row_cells_select(cells, x)
        lib.ghostty_render_state_row_cells_get(cells, lib.GHOSTTY_RENDER_STATE_ROW_CELLS_DATA_STYLE, self._style)
        return packed_style(self._style, lib)

    def _grapheme(self, cells: Any, x: int) -> str:
        """The whole cluster at column ``x`` (base character and what combines with it)."""
        lib = self._lib
        lib.ghostty_render_state_row_cells_select(cells, x)
        lib.ghostty_render_state_row_cells_get(cells, lib.GHOSTTY_RENDER_STATE_ROW_CELLS_DATA_GRAPHEMES_LEN, self._glen)
        length = self._glen[0]
        if not length:
            return " "
        if length > len(self._gbuf):  # the library writes them all: room for every one
            self._gbuf = self._ffi.new("uint32_t[]", length)
        lib.ghostty_render_state_row_cells_get(cells, lib.GHOSTTY_RENDER_STATE_ROW_CELLS_DATA_GRAPHEMES_BUF, self._gbuf)
        return grapheme_text(self._ffi.unpack(self._gbuf, min(length, GRAPHEME_LIMIT)))
