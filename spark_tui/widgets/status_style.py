"""How states look: one glyph and one theme colour per connection or tunnel state.

Shared by the device and tunnel lists so a state reads the same everywhere.
"""

from __future__ import annotations

from collections.abc import Mapping

from rich.text import Text
from textual.color import Color, ColorParseError

from spark_tui.core.models import ConnectionState, TunnelState

# state value -> (glyph, theme variable naming its colour, label)
STATE_LOOK: Mapping[str, tuple[str, str, str]] = {
    ConnectionState.CONNECTED.value: ("●", "success", "connected"),
    ConnectionState.CONNECTING.value: ("◌", "warning", "connecting"),
    ConnectionState.RECONNECTING.value: ("◌", "warning", "reconnecting"),
    ConnectionState.LOST.value: ("✕", "error", "lost"),
    ConnectionState.FAILED.value: ("✕", "error", "failed"),
    ConnectionState.DISCONNECTED.value: ("○", "foreground-muted", "idle"),
    TunnelState.UP.value: ("●", "success", "up"),
    TunnelState.STARTING.value: ("◌", "warning", "starting"),
    TunnelState.STOPPED.value: ("○", "foreground-muted", "stopped"),
    "online": ("○", "accent", "online"),
    "offline": ("○", "foreground-muted", "offline"),
    "unreachable": ("✕", "warning", "unreachable"),
}


def theme_color(variables: Mapping[str, str], name: str) -> str:
    """Theme variable ``name`` as a Rich colour: translucent values are blended onto the background.

    Rich cannot draw ``#RRGGBBAA``, which themes use for muted text; ``""`` when unknown.
    """
    try:
        color = Color.parse(variables[name])
        if color.a < 1:
            color = Color.parse(variables.get("background", "#000000")) + color
        return color.hex6
    except (KeyError, ColorParseError):
        return ""


def state_text(state: str, variables: Mapping[str, str], label: str | None = None, *, compact: bool = False) -> Text:
    """A coloured ``● label`` for ``state``, coloured from the app's theme ``variables``.

    ``compact`` gives the glyph alone, for narrow terminals.
    """
    glyph, var, default_label = STATE_LOOK.get(state, ("?", "foreground", state))
    text = glyph if compact else f"{glyph} {label or default_label}"
    return Text(text, style=theme_color(variables, var), no_wrap=True, end="")


COMPACT_BELOW = 60
"""Lists narrower than this many cells show state glyphs without words and fewer columns."""


def human_bytes(count: float) -> str:
    """``1536`` -> ``1.5 KiB``; compact, for table cells."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if count < 1024 or unit == "GiB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    return f"{count:.1f} TiB"  # unreachable, keeps type checkers calm
