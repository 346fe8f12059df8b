"""What xterm sends for a key, a mouse event or a paste: Textual key names in, bytes out."""

from __future__ import annotations

ESC = "\x1b"

# Keys with a final letter: plain "CSI x" / "SS3 x", modified "CSI 1 ; m x".
_LETTER_KEYS = {"up": "A", "down": "B", "right": "C", "left": "D", "home": "H", "end": "F"}
# F1-F4 send SS3 P..S unmodified, CSI 1 ; m P..S modified.
_PF_KEYS = {"f1": "P", "f2": "Q", "f3": "R", "f4": "S"}
# Keys sent as "CSI n ~" (modified: "CSI n ; m ~").
_TILDE_KEYS = {
    "insert": 2, "delete": 3, "pageup": 5, "pagedown": 6,
    "f5": 15, "f6": 17, "f7": 18, "f8": 19, "f9": 20, "f10": 21, "f11": 23, "f12": 24,
}
# Keys that are one control character (before modifiers).
_SIMPLE = {
    "enter": "\r", "tab": "\t", "backspace": "\x7f", "escape": ESC, "space": " ",
}
# Textual's names for punctuation that ctrl turns into C0 controls.
_CTRL_PUNCT = {
    "@": "\x00", "space": "\x00", "left_square_bracket": ESC, "backslash": "\x1c",
    "right_square_bracket": "\x1d", "circumflex_accent": "\x1e", "underscore": "\x1f",
    "question_mark": "\x7f", "2": "\x00", "3": ESC, "4": "\x1c", "5": "\x1d", "6": "\x1e",
    "7": "\x1f", "8": "\x7f", "minus": "\x1f", "slash": "\x1f",
}
_MODIFIER_NAMES = ("shift", "alt", "meta", "ctrl", "super", "hyper")


def _split(key: str) -> tuple[set[str], str]:
    parts = key.split("+")
    # "ctrl++" style names are not produced by Textual; a trailing empty part means "+".
    if parts[-1] == "" and len(parts) > 1:
        parts = parts[:-2] + ["+"]
    modifiers = {p for p in parts[:-1] if p in _MODIFIER_NAMES}
    return modifiers, parts[-1]


def _modifier_code(modifiers: set[str]) -> int:
    return 1 + ("shift" in modifiers) + 2 * ("alt" in modifiers or "meta" in modifiers) + 4 * ("ctrl" in modifiers)


def encode_key(key: str, character: str | None = None, *, app_cursor: bool = False) -> bytes | None:
    """The bytes xterm sends for a key press.

    Args:
        key: Textual's key name (``"up"``, ``"ctrl+c"``, ``"shift+tab"``, ``"alt+x"``, ``"f5"``).
        character: The printable character of the key, when Textual reports one.
        app_cursor: DECCKM is on (arrows/Home/End send ``ESC O x``).

    Returns:
        The bytes, or ``None`` when the key has no xterm encoding (nothing should be sent).
    """
    modifiers, base = _split(key)
    code = _modifier_code(modifiers)
    if base in _LETTER_KEYS:
        final = _LETTER_KEYS[base]
        if code > 1:
            return f"{ESC}[1;{code}{final}".encode()
        return f"{ESC}{'O' if app_cursor else '['}{final}".encode()
    if base in _PF_KEYS:
        final = _PF_KEYS[base]
        return (f"{ESC}[1;{code}{final}" if code > 1 else f"{ESC}O{final}").encode()
    if base in _TILDE_KEYS:
        number = _TILDE_KEYS[base]
        return (f"{ESC}[{number};{code}~" if code > 1 else f"{ESC}[{number}~").encode()
    if base == "tab" and "shift" in modifiers:
        return f"{ESC}[Z".encode()
    alt = "alt" in modifiers or "meta" in modifiers
    prefix = ESC if alt else ""
    if "ctrl" in modifiers:
        if len(base) == 1 and base.isalpha():
            return (prefix + chr(ord(base.lower()) & 0x1F)).encode()
        if base in _CTRL_PUNCT:
            return (prefix + _CTRL_PUNCT[base]).encode()
        if base == "backspace":
            return (prefix + "\x08").encode()
        if base in _SIMPLE:
            return (prefix + _SIMPLE[base]).encode()
        return None
    if base in _SIMPLE:
        return (prefix + _SIMPLE[base]).encode()
    if character and character.isprintable():
        return (prefix + character).encode()
    if alt and len(base) == 1:
        return (prefix + base).encode()
    return None


def encode_mouse(
    button: int,
    col: int,
    row: int,
    *,
    press: bool = True,
    motion: bool = False,
    sgr: bool = True,
    shift: bool = False,
    alt: bool = False,
    ctrl: bool = False,
) -> bytes | None:
    """A mouse report as xterm sends it.

    Args:
        button: 0 left, 1 middle, 2 right, 64 wheel up, 65 wheel down; 3 = no button (motion).
        col: 0-based column.
        row: 0-based row.
        press: Press (``M``) or release (``m`` in SGR; button 3 in the legacy encoding).
        motion: A drag/move report (adds 32).
        sgr: Mode 1006 encoding; otherwise the legacy ``ESC [ M`` one.
        shift: Shift held. alt: Alt/Meta held. ctrl: Ctrl held.

    Returns:
        The bytes, or ``None`` if the legacy encoding cannot carry the position (> 223).
    """
    code = button + 32 * motion + 4 * shift + 8 * alt + 16 * ctrl
    if sgr:
        return f"{ESC}[<{code};{col + 1};{row + 1}{'M' if press else 'm'}".encode()
    if not press:
        code = 3 + 4 * shift + 8 * alt + 16 * ctrl
    if col + 33 > 255 or row + 33 > 255:
        return None
    return bytes([0x1B, ord("["), ord("M"), 32 + code, 33 + col, 33 + row])


PASTE_START = f"{ESC}[200~"
PASTE_END = f"{ESC}[201~"


def encode_paste(text: str, *, bracketed: bool) -> bytes:
    """Pasted text as xterm sends it: newlines become CR, wrapped in 200~/201~ when asked.

    An end marker inside the pasted text is removed, so a paste can never break out of the
    brackets and type commands (and, when not bracketed, escape characters are removed).
    """
    text = text.replace("\r\n", "\r").replace("\n", "\r")
    if bracketed:
        text = text.replace(PASTE_END, "").replace(PASTE_START, "")
        return (PASTE_START + text + PASTE_END).encode()
    return text.replace(ESC, "").encode()
