"""Which terminal core parses the remote's output: chosen once, at start.

Two cores answer to the same interface (``feed``, ``feed_text``, ``resize``, ``reset``, ``lines``
of styled cells rebuilt where they changed, the cursor, the modes, ``screen.history`` for the
scrollback and its search, and the ``on_reply`` / ``on_title`` / ``on_bell`` / ``on_notify`` /
``on_sync`` callbacks):

- ``native``: Ghostty's terminal (libghostty-vt through pyghostty, see ``native``), where its
  wheel installs (Linux x86_64 and aarch64, macOS arm64);
- ``python``: our own emulator (``emulator.Terminal``), everywhere.

``SPARK_TUI_TERMINAL_CORE=python`` or ``=native`` forces one; unset (or ``auto``) takes the
native core where it loads and the Python one elsewhere. Forcing ``native`` where it cannot load
is an error that says why, never a silent fallback.
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Any

from .emulator import Terminal

CORE_ENV = "SPARK_TUI_TERMINAL_CORE"
CORES = ("native", "python")


class CoreUnavailable(RuntimeError):
    """The terminal core asked for cannot run here."""


@lru_cache(maxsize=1)
def native_problem() -> str | None:
    """None when the native core runs here, else the reason it does not."""
    from .native import available

    return available()


def core_name(requested: str | None = None) -> str:
    """The core to use: ``requested``, else ``$SPARK_TUI_TERMINAL_CORE``, else the best available."""
    choice = (requested or os.environ.get(CORE_ENV, "") or "auto").strip().lower()
    if choice not in (*CORES, "auto"):
        raise CoreUnavailable(f"{CORE_ENV}={choice!r}: use one of native, python, auto")
    if choice == "python":
        return "python"
    problem = native_problem()
    if choice == "native" and problem is not None:
        raise CoreUnavailable(f"{CORE_ENV}=native but {problem}; use {CORE_ENV}=python")
    return "native" if problem is None else "python"


def make_terminal(cols: int = 80, rows: int = 24, *, core: str | None = None, **options: Any) -> Any:
    """A terminal of ``cols`` x ``rows`` on the chosen core (keyword options as ``Terminal``)."""
    if core_name(core) == "native":
        from .native import NativeTerminal

        return NativeTerminal(cols, rows, **options)
    return Terminal(cols, rows, **options)
