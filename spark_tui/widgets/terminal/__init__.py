"""A self-contained terminal: the xterm emulator, key encoding and the ``TerminalView`` widget.

``Terminal`` (the emulator) and the key encoders import no Textual, so benchmarks and
services can use them alone; ``TerminalView`` is imported on first use.
"""

from .emulator import Terminal, sanitize_title
from .keys import encode_key, encode_mouse, encode_paste

__all__ = ["Terminal", "TerminalView", "encode_key", "encode_mouse", "encode_paste", "sanitize_title"]


def __getattr__(name: str):
    if name == "TerminalView":
        from .view import TerminalView

        return TerminalView
    raise AttributeError(name)
