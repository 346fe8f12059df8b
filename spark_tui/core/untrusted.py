"""Text from outside this process, made safe for a terminal or a widget: the one choke point.

Everything a device, the LAN or a hand-edited file says (SSH messages and banners, command
output shown outside the terminal emulator, mDNS names and TXT, file names, nvidia-smi fields,
/proc contents, profile values) passes :func:`display_safe` before it is printed or drawn.
"""

from __future__ import annotations

_BIDI = {0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)}
ELLIPSIS = "\u2026"


def _escape(char: str) -> str:
    code = ord(char)
    if char == "\\":
        return "\\\\"
    if code in _BIDI or not char.isprintable():  # Cc, Cf, Cs, Co, Cn, Zl, Zp and Zs but " "
        if code < 0x100:
            return f"\\x{code:02x}"
        return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"
    return char


def display_safe(text: str, limit: int = 64) -> str:
    """Text from the network made safe to put on a terminal.

    Control characters, bidi overrides and isolates (U+202A-202E, U+2066-2069, U+200E/F),
    spaces other than U+0020, and other invisible or unassigned code points are shown as escapes (``\\x1b``, ``\\u202e``);
    a backslash is doubled so an escape can't be faked. Longer results are cut at ``limit``
    characters, ending in an ellipsis, never in the middle of an escape.

    Args:
        text: Anything (an instance name, a TXT value, a banner).
        limit: Maximum length of the result, at least 1.

    Returns:
        The safe text.

    Raises:
        ValueError: When ``limit`` is less than 1.
    """
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    pieces: list[str] = []
    used = 0
    for index, char in enumerate(text):
        piece = _escape(char)
        is_last = index == len(text) - 1
        room = limit - used - (0 if is_last else 1)
        if len(piece) > room:
            return "".join(pieces) + ELLIPSIS
        pieces.append(piece)
        used += len(piece)
    return "".join(pieces)
