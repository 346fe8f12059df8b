"""SGR (``CSI ... m``): turn a parameter string into a new packed attribute.

Handles the semicolon and the colon forms of 256-colour and truecolor selections
(``38;5;n``, ``38;2;r;g;b``, ``38:2::r:g:b``, ``38:5:n``) and underline styles (``4:3``).
Results are memoised per (attribute, parameters), because real programs repeat a handful
of SGR strings millions of times.
"""

from __future__ import annotations

from .cells import (
    BG_MASK,
    BG_SHIFT,
    BLINK,
    BOLD,
    DIM,
    FG_MASK,
    HIDDEN,
    ITALIC,
    LINK_MASK,
    REVERSE,
    STRIKE,
    UNDERLINE,
    palette,
    rgb,
)

_SET = {1: BOLD, 2: DIM, 3: ITALIC, 4: UNDERLINE, 5: BLINK, 6: BLINK, 7: REVERSE, 8: HIDDEN, 9: STRIKE, 21: UNDERLINE}
_CLEAR = {
    22: BOLD | DIM,
    23: ITALIC,
    24: UNDERLINE,
    25: BLINK,
    27: REVERSE,
    28: HIDDEN,
    29: STRIKE,
}

_memo: dict[tuple[int, str], int] = {}
MEMO_SIZE = 8192
MEMO_PARAMS = 64
"""Parameter strings longer than this are not memoised (real programs repeat short ones)."""


def _int(text: str) -> int:
    try:
        # A colour parameter is never longer (no 4300-digit ints), but leading zeros do not count.
        return int(text.lstrip("0")[:6] or 0) if text else 0
    except ValueError:
        return 0


def _extended_color(parts: list[str]) -> tuple[int | None, int]:
    """Parse what follows 38/48 in semicolon form; return (packed colour or None, items used)."""
    if not parts:
        return None, 0
    mode = _int(parts[0])
    if mode == 5 and len(parts) >= 2:
        index = _int(parts[1])
        return (palette(index) if 0 <= index <= 255 else None), 2
    if mode == 2 and len(parts) >= 4:
        return rgb(_int(parts[1]), _int(parts[2]), _int(parts[3])), 4
    return None, 1


def _colon_color(sub: list[str]) -> int | None:
    """Parse a colon-form colour ``38:5:n`` / ``38:2:[cs]:r:g:b`` (``sub`` excludes 38/48)."""
    if not sub:
        return None
    mode = _int(sub[0])
    if mode == 5 and len(sub) >= 2:
        index = _int(sub[1])
        return palette(index) if 0 <= index <= 255 else None
    if mode == 2:
        values = sub[1:]
        if len(values) >= 4:  # with a colour-space id first
            values = values[1:]
        if len(values) >= 3:
            return rgb(_int(values[0]), _int(values[1]), _int(values[2]))
    return None


def apply_sgr(attr: int, params: str) -> int:
    """Return ``attr`` changed by the SGR parameter string ``params`` (``"1;38;5;208"``).

    Unknown parameters are ignored, as terminals do.
    """
    key = (attr, params)
    found = _memo.get(key)
    if found is not None:
        return found
    result = _apply(attr, params)
    if len(params) <= MEMO_PARAMS:  # only short strings: the cache stays a few MB whatever comes
        if len(_memo) >= MEMO_SIZE:
            _memo.clear()
        _memo[key] = result
    return result


def _apply(attr: int, params: str) -> int:
    if not params:
        return attr & LINK_MASK  # a hyperlink outlives SGR 0 (it ends with its own OSC 8)
    parts = params.split(";")
    i = 0
    n = len(parts)
    while i < n:
        part = parts[i]
        i += 1
        if ":" in part:
            sub = part.split(":")
            code = _int(sub[0])
            if code in (38, 48, 58):
                color = _colon_color(sub[1:])
                if color is not None and code == 38:
                    attr = (attr & ~FG_MASK) | color
                elif color is not None and code == 48:
                    attr = (attr & ~BG_MASK) | color << BG_SHIFT
            elif code == 4:
                attr = attr & ~UNDERLINE if _int(sub[1]) == 0 else attr | UNDERLINE
            continue
        code = _int(part)
        if code == 0:
            attr &= LINK_MASK
        elif 30 <= code <= 37:
            attr = (attr & ~FG_MASK) | palette(code - 30)
        elif 40 <= code <= 47:
            attr = (attr & ~BG_MASK) | palette(code - 40) << BG_SHIFT
        elif 90 <= code <= 97:
            attr = (attr & ~FG_MASK) | palette(code - 90 + 8)
        elif 100 <= code <= 107:
            attr = (attr & ~BG_MASK) | palette(code - 100 + 8) << BG_SHIFT
        elif code == 39:
            attr &= ~FG_MASK
        elif code == 49:
            attr &= ~BG_MASK
        elif code in (38, 48, 58):
            color, used = _extended_color(parts[i:])
            i += used
            if color is not None and code == 38:
                attr = (attr & ~FG_MASK) | color
            elif color is not None and code == 48:
                attr = (attr & ~BG_MASK) | color << BG_SHIFT
        elif code in _SET:
            attr |= _SET[code]
        elif code in _CLEAR:
            attr &= ~_CLEAR[code]
    return attr
