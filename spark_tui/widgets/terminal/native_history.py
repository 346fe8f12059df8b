"""Scrollback rows of the native core, read through grid references when the user scrolls back.

The render state covers the screen only; a history row is reached with one grid reference
(its page node and row) whose column is then stepped across the row, so a row costs one
lookup plus one cheap call a cell. Rows are read only when shown or searched, and cached by
``native._History`` until a resize reflows them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .cells import LINK_IDS, LINK_SHIFT, Line
from .native_rows import GRAPHEME_LIMIT, cell_char_attr, decode, grapheme_text, packed_style

if TYPE_CHECKING:
    from .native import NativeTerminal

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
        cell = cell_out[0]
        _tag, _content, style_id, _wide, link = decode(cell)
        attr = styles.get(style_id)
        if attr is None:
            lib.ghostty_grid_ref_style(ref, style)
            attr = styles[style_id] = packed_style(style, lib)
        char, attr = cell_char_attr(cell, attr, lambda: _grapheme(ref, ffi, lib))
        if link:
            attr |= (term._link_id(_read_uri(ref)) & LINK_IDS) << LINK_SHIFT
        chars.append(char)
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
    return grapheme_text(ffi.unpack(buffer, min(length[0], GRAPHEME_LIMIT)))
