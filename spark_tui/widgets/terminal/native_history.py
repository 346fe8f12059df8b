"""Scrollback rows of the native core, read through grid references when the user scrolls back.

The render state covers the screen only; a history row is reached with one grid reference
(its page node and row) whose column is then stepped across the row, so a row costs one
lookup plus one cheap call a cell. Rows are read only when shown or searched, and cached by
``native._History`` until a resize reflows them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .cells import BG_SHIFT, LINK_IDS, LINK_SHIFT, Line
from .native_rows import (
    GRAPHEME_LIMIT,
    TAG_BG_PALETTE,
    TAG_BG_RGB,
    TAG_GRAPHEME,
    WIDE_HEAD,
    WIDE_TAIL,
    _safe,
    cell_rgb,
    decode,
    packed_style,
)

if TYPE_CHECKING:
    from .native import NativeTerminal

_BG_BITS = 0x3FFFFFF << BG_SHIFT


def history_line(term: NativeTerminal, index: int) -> Line:
    """Scrollback row ``index`` (0 = the oldest kept) of ``term`` as a :class:`Line`."""
    from .native import _read_uri
    from .native_lib import ffi, lib

    cols = term.cols
    ref = term._ref(0, index, lib.GHOSTTY_POINT_TAG_HISTORY)
    if ref is None:
        return Line.blank(cols)
    row = ffi.new("GhosttyRow*")
    wrap = ffi.new("bool*")
    lib.ghostty_grid_ref_row(ref, row)
    lib.ghostty_row_get(row[0], lib.GHOSTTY_ROW_DATA_WRAP, wrap)
    cell_out = ffi.new("GhosttyCell*")
    style = ffi.new("GhosttyStyle*")
    style.size = ffi.sizeof("GhosttyStyle")
    styles: dict[int, int] = {0: 0}
    chars: list[str] = []
    attrs: list[int] = []
    for x in range(cols):
        ref.x = x
        if lib.ghostty_grid_ref_cell(ref, cell_out) != 0:
            chars.append(" ")
            attrs.append(0)
            continue
        tag, content, style_id, wide, link = decode(cell_out[0])
        attr = styles.get(style_id)
        if attr is None:
            lib.ghostty_grid_ref_style(ref, style)
            attr = styles[style_id] = packed_style(style, lib)
        if tag == TAG_BG_PALETTE:
            attr = (attr & ~_BG_BITS) | (((content & 0xFF) + 1) << BG_SHIFT)
            chars.append(" ")
        elif tag == TAG_BG_RGB:
            attr = (attr & ~_BG_BITS) | (cell_rgb(content) << BG_SHIFT)
            chars.append(" ")
        elif wide == WIDE_TAIL:
            chars.append("")
        elif wide == WIDE_HEAD:
            chars.append(" ")
        elif tag == TAG_GRAPHEME:
            chars.append(_grapheme(ref, ffi, lib))
        else:
            char = chr(content) if content else " "
            chars.append(char if " " <= char < "\x7f" else _safe(char))
        if link:
            link_id = term._link_id(_read_uri(ref))
            attr |= (link_id & LINK_IDS) << LINK_SHIFT
        attrs.append(attr)
    return Line(chars, attrs, bool(wrap[0]))


def _grapheme(ref, ffi, lib) -> str:  # noqa: ANN001 - cffi objects
    length = ffi.new("size_t*")
    lib.ghostty_grid_ref_graphemes(ref, ffi.NULL, 0, length)
    if not length[0]:
        return " "
    buffer = ffi.new("uint32_t[]", length[0])
    if lib.ghostty_grid_ref_graphemes(ref, buffer, length[0], length) != 0:
        return " "
    shown = ffi.unpack(buffer, min(length[0], GRAPHEME_LIMIT))
    return "".join(_safe(chr(code), "") for code in shown if 0 < code < 0x110000) or " "
