"""The dashboard's colour themes and how ``NO_COLOR`` picks between them.

Three themes a user can choose (``spark-dark``, ``spark-light``, ``spark-contrast``) and one the
environment chooses: when ``NO_COLOR`` holds a non-empty value (https://no-color.org), the
dashboard starts in ``spark-mono``, a theme made only of greys.

How this sits next to Textual's own handling: when an ``App`` is created and ``NO_COLOR`` exists
at all (even empty), Textual sets ``app.no_color`` and adds a filter that turns every colour into
its grey level (it leaves ``os.environ`` alone). Our grey theme is built from greys, so that filter
changes nothing in it, and meaning never rests on hue alone (high levels are also bold, states are
also words), so a monochrome screen stays readable. An empty ``NO_COLOR`` keeps our colour theme
(no-color.org says empty means unset); Textual's filter may still grey it, which we do not undo.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from textual.app import App
from textual.theme import BUILTIN_THEMES, Theme

from spark_tui.core.errors import UnknownTheme

DEFAULT_THEME = "spark-dark"
MONO_THEME = "spark-mono"
WIDGETS_CSS = Path(__file__).parent / "themes" / "widgets.tcss"
"""Styles of the telemetry cards, fleet grid, help screen; add it to the app's ``CSS_PATH``."""

NVIDIA_GREEN = "#76B900"

SPARK_DARK = Theme(
    name="spark-dark",
    primary=NVIDIA_GREEN,
    secondary="#4F7A1F",
    accent="#9AD94C",
    success=NVIDIA_GREEN,
    warning="#E3B341",
    error="#E5534B",
    foreground="#D8DCD3",
    background="#0D0F0C",
    surface="#141712",
    panel="#1E221B",
    dark=True,
    variables={
        "footer-key-foreground": NVIDIA_GREEN,
        "block-cursor-foreground": "#0D0F0C",
        "block-cursor-text-style": "bold",
        "input-selection-background": "#76B900 30%",
        "border-blurred": "#2C3228",
        "button-color-foreground": "#0D0F0C",
    },
)

SPARK_LIGHT = Theme(
    name="spark-light",
    primary="#4C7A00",  # NVIDIA green darkened until it reads on white (contrast ~5:1)
    secondary="#6B8F3A",
    accent="#2F6B9A",
    success="#3D7A00",
    warning="#8A5C00",
    error="#C0392B",
    foreground="#1C2119",
    background="#F5F6F2",
    surface="#FFFFFF",
    panel="#E4E8DD",
    dark=False,
    variables={
        "footer-key-foreground": "#4C7A00",
        "block-cursor-foreground": "#FFFFFF",
        "input-selection-background": "#4C7A00 25%",
        "border-blurred": "#C9CEC1",
    },
)

SPARK_CONTRAST = Theme(
    name="spark-contrast",
    primary="#A6FF00",
    secondary="#FFFFFF",
    accent="#00E5FF",
    success="#5CFF5C",
    warning="#FFD500",
    error="#FF6E6E",
    foreground="#FFFFFF",
    background="#000000",
    surface="#000000",
    panel="#1A1A1A",
    boost="#FFFFFF",
    dark=True,
    luminosity_spread=0.25,
    text_alpha=1.0,
    variables={
        "footer-key-foreground": "#FFD500",
        "footer-description-foreground": "#FFFFFF",
        "block-cursor-background": "#FFFFFF",
        "block-cursor-foreground": "#000000",
        "block-cursor-text-style": "bold",
        "input-selection-background": "#FFFFFF 40%",
        "border-blurred": "#A0A0A0",
        "text-muted": "#D0D0D0",
        "button-color-foreground": "#000000",
    },
)

SPARK_MONO = Theme(
    name=MONO_THEME,
    primary="#D0D0D0",
    secondary="#A0A0A0",
    accent="#E8E8E8",
    success="#C8C8C8",
    warning="#E8E8E8",
    error="#FFFFFF",
    foreground="#E0E0E0",
    background="#000000",
    surface="#0A0A0A",
    panel="#1C1C1C",
    dark=True,
    text_alpha=1.0,
    variables={
        "footer-key-foreground": "#FFFFFF",
        "block-cursor-background": "#E0E0E0",
        "block-cursor-foreground": "#000000",
        "block-cursor-text-style": "bold",
        "border-blurred": "#606060",
        "button-color-foreground": "#000000",
    },
)

SPARK_THEMES: tuple[Theme, ...] = (SPARK_DARK, SPARK_LIGHT, SPARK_CONTRAST, SPARK_MONO)


def theme_names(*, include_mono: bool = False) -> tuple[str, ...]:
    """Names of the themes a user picks from, in menu order.

    Args:
        include_mono: Also list ``spark-mono``, the grey theme ``NO_COLOR`` selects.

    Returns:
        ``("spark-dark", "spark-light", "spark-contrast")``, plus ``"spark-mono"`` when asked.
    """
    themes = SPARK_THEMES if include_mono else SPARK_THEMES[:-1]
    return tuple(theme.name for theme in themes)


def no_color_requested(environ: Mapping[str, str] | None = None) -> bool:
    """Whether the user asked for no colour: ``NO_COLOR`` set to a non-empty value.

    Args:
        environ: Environment to read; ``os.environ`` when ``None``.

    Returns:
        True when ``NO_COLOR`` is present and not empty.
    """
    env = os.environ if environ is None else environ
    return bool(env.get("NO_COLOR", ""))


def resolve_theme(requested: str | None, environ: Mapping[str, str] | None = None) -> str:
    """The theme to start in, from the profile's ``[settings] theme`` and the environment.

    ``NO_COLOR`` wins over the profile. An empty or missing request means ``spark-dark``.
    Textual's built-in themes (``nord``, ``textual-light`` ...) are accepted too.

    Args:
        requested: Theme name from the settings, or ``None``.
        environ: Environment to read; ``os.environ`` when ``None``.

    Returns:
        A theme name that :func:`register_themes` (or Textual) makes available.

    Raises:
        UnknownTheme: ``requested`` names no theme; the hint lists the valid names.
    """
    if no_color_requested(environ):
        return MONO_THEME
    if not requested:
        return DEFAULT_THEME
    name = requested.strip()
    if name in theme_names(include_mono=True) or name in BUILTIN_THEMES:
        return name
    raise UnknownTheme(
        f"unknown theme {requested!r}",
        f"set [settings] theme to one of: {', '.join(theme_names())}",
    )


def register_themes(app: App) -> None:
    """Make every spark theme available to ``app`` (``app.theme = "spark-dark"`` then works).

    Args:
        app: The app; may be called before or after it runs.
    """
    for theme in SPARK_THEMES:
        app.register_theme(theme)


def apply_theme(app: App, requested: str | None, environ: Mapping[str, str] | None = None) -> str:
    """Register the themes, pick one with :func:`resolve_theme` and switch ``app`` to it.

    Args:
        app: The app.
        requested: Theme name from the settings, or ``None``.
        environ: Environment to read; ``os.environ`` when ``None``.

    Returns:
        The name of the theme now in force.

    Raises:
        UnknownTheme: ``requested`` names no theme; the app's theme is left unchanged.
    """
    register_themes(app)
    name = resolve_theme(requested, environ)
    app.theme = name
    return name
