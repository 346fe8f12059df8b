"""Shells on a device: a PTY session over the shared connection, or OpenSSH in the user's terminal.

Other layers import from here only; the modules behind this face are private to it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from spark_tui.services.lazy_face import lazy_exports

__all__, __getattr__ = lazy_exports(__name__, {
    "ShellSession": "session",
    "open_in_terminal": "external_terminal",
})

if TYPE_CHECKING:
    from spark_tui.services.shell.external_terminal import open_in_terminal
    from spark_tui.services.shell.session import ShellSession
