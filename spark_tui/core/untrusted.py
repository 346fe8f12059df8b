"""Text from outside this process, made safe for a terminal or a widget: the one choke point.

Everything a device, the LAN or a hand-edited file says (SSH messages and banners, command
output shown outside the terminal emulator, mDNS names and TXT, file names, nvidia-smi fields,
/proc contents, profile values) passes :func:`display_safe` before it is printed or drawn.
"""

from __future__ import annotations

_BIDI = {0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)}
ELLIPSIS = "\u2026"


def _escape(char: str, escape_backslash: bool = True) -> str:
    code = ord(char)
    if char == "\\":
        return "\\\\" if escape_backslash else char
    if code in _BIDI or not char.isprintable():  # Cc, Cf, Cs, Co, Cn, Zl, Zp and Zs but " "
        if code < 0x100:
            return f"\\x{code:02x}"
        return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"
    return char


def display_safe(text: str, limit: int = 64, *, escape_backslash: bool = True) -> str:
    """Text from the network made safe to put on a terminal.

    Control characters, bidi overrides and isolates (U+202A-202E, U+2066-2069, U+200E/F),
    spaces other than U+0020, and other invisible or unassigned code points are shown as escapes (``\\x1b``, ``\\u202e``);
    a backslash is doubled so an escape can't be faked. Longer results are cut at ``limit``
    characters, ending in an ellipsis, never in the middle of an escape.

    Args:
        text: Anything (an instance name, a TXT value, a banner).
        limit: Maximum length of the result, at least 1.
        escape_backslash: Double backslashes (turned off only for text that may hold escapes
            of our own making, such as a JSON document; terminal safety does not depend on it).

    Returns:
        The safe text.

    Raises:
        ValueError: When ``limit`` is less than 1.
    """
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    pieces: list[str] = []
    used = 0
    if len(text) > limit * 10:  # nothing past this can be shown; don't walk megabytes
        text = text[: limit * 10]
    for index, char in enumerate(text):
        piece = _escape(char, escape_backslash)
        is_last = index == len(text) - 1
        room = limit - used - (0 if is_last else 1)
        if len(piece) > room:
            return "".join(pieces) + ELLIPSIS
        pieces.append(piece)
        used += len(piece)
    return "".join(pieces)


def display_safe_lines(text: str, limit: int = 2000, line_limit: int = 500, *, escape_backslash: bool = True) -> str:
    """Several lines of outside text made safe, keeping the line breaks.

    Each line goes through :func:`display_safe` (``\\r``, tabs and every other control
    character become visible escapes); only ``\\n`` survives, as a line break.

    Args:
        text: Anything, possibly several lines (an error message with its hint).
        limit: Maximum length of the whole result.
        line_limit: Maximum length of each line.
        escape_backslash: As for :func:`display_safe`.

    Returns:
        The safe text.
    """
    out = "\n".join(display_safe(line, line_limit, escape_backslash=escape_backslash) for line in text[: limit * 10].split("\n"))
    if len(out) > limit:
        out = out[: limit - 1] + ELLIPSIS
    return out


class SafeWriter:
    """A text stream that lets no control character through: the CLI's choke point.

    Every ``write`` is split at ``\\n``; each piece goes through :func:`display_safe` (without
    doubling backslashes, so JSON we print stays valid), so an ESC, BEL, C1 or bidi character
    from a device's message is shown as an escape whatever path the message took. Anything
    else (``flush``, ``getvalue``, ``fileno``) is the wrapped stream's.

    Args:
        stream: Where the safe text goes.
        line_limit: Longest line written; longer ones end in an ellipsis.
    """

    def __init__(self, stream, line_limit: int = 16_000) -> None:
        self.raw = stream
        self.line_limit = line_limit

    def write(self, text: str) -> int:
        pieces = text.split("\n")
        safe = "\n".join(display_safe(p, self.line_limit, escape_backslash=False) if p else p for p in pieces)
        self.raw.write(safe)
        return len(text)

    def __getattr__(self, name: str):
        return getattr(self.raw, name)
