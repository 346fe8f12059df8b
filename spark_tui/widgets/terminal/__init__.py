"""A self-contained terminal: the xterm emulator, key encoding and the ``TerminalView`` widget.

``Terminal`` (emulator) and the key encoders import no Textual; ``TerminalView`` does.
"""

from .emulator import Terminal, sanitize_title
from .keys import encode_key, encode_mouse, encode_paste
from .view import TerminalView

__all__ = ["Terminal", "TerminalView", "encode_key", "encode_mouse", "encode_paste", "sanitize_title"]
