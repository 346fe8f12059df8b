"""The dashboard's colour themes and how ``NO_COLOR`` picks between them.

Three themes a user can choose (``spark-dark``, ``spark-light``, ``spark-contrast``) and one the
environment chooses: when ``NO_COLOR`` holds a non-empty value (https://no-color.org), the
dashboard starts in ``spark-mono``, a theme made only of greys. Each is a TOML file in
``themes/`` (read by ``config.theme_files``); a user adds more as files in
``<config folder>/themes/``, offered after the built-in three.

How this sits next to Textual's own handling: when an ``App`` is created and ``NO_COLOR`` exists
at all (even empty), Textual sets ``app.no_color`` and adds a filter that turns every colour into
its grey level (it leaves ``os.environ`` alone). Our grey theme is built from greys, so that filter
changes nothing in it, and meaning never rests on hue alone (high levels are also bold, states are
also words), so a monochrome screen stays readable. An empty ``NO_COLOR`` keeps our colour theme
(no-color.org says empty means unset); Textual's filter may still grey it, which we do not undo.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from textual.app import App
from textual.color import Color, ColorParseError
from textual.theme import BUILTIN_THEMES, Theme

from spark_tui.config.locations import themes_dir
from spark_tui.config.theme_files import COLOUR_FIELDS, line_of, read_theme_file, theme_files, unsafe_reason
from spark_tui.core.errors import ConfigError, UnknownTheme
from spark_tui.core.untrusted import display_safe

DEFAULT_THEME = "spark-dark"
MONO_THEME = "spark-mono"
WIDGETS_CSS = Path(__file__).parent / "themes" / "widgets.tcss"
"""Styles of the telemetry cards, fleet grid, help screen; add it to the app's ``CSS_PATH``."""

BUILTIN_THEMES_DIR = Path(__file__).parent / "themes"
"""The built-in theme files (``themes/*.toml`` in the repository, ``spark_tui/themes`` installed)."""

BUILTIN_NAMES = ("spark-dark", "spark-light", "spark-contrast")
"""The built-in themes a user picks from, in menu order (``spark-mono`` is ``NO_COLOR``'s)."""


def theme_from_fields(fields: Mapping[str, Any], path: Path) -> Theme:
    """A Textual theme from a theme file's checked fields (:func:`read_theme_file`).

    Raises:
        ConfigError: A colour field holds something Textual cannot parse (named, with its line).
    """
    text = ""
    for key in COLOUR_FIELDS:
        if key in fields:
            try:
                Color.parse(fields[key])
            except ColorParseError:
                text = text or path.read_text(encoding="utf-8", errors="replace")
                raise ConfigError(
                    str(path), f"{key}: not a colour: {display_safe(fields[key], 40)!r} (use \"#RRGGBB\" or a colour name)",
                    line=line_of(text, key), field=key,
                ) from None
    return Theme(**{**fields, "variables": dict(fields.get("variables", {}))})


def _builtin(name: str) -> Theme:
    path = BUILTIN_THEMES_DIR / f"{name}.toml"
    return theme_from_fields(read_theme_file(path), path)


SPARK_DARK = _builtin("spark-dark")
SPARK_LIGHT = _builtin("spark-light")
SPARK_CONTRAST = _builtin("spark-contrast")
SPARK_MONO = _builtin(MONO_THEME)

SPARK_THEMES: tuple[Theme, ...] = (SPARK_DARK, SPARK_LIGHT, SPARK_CONTRAST, SPARK_MONO)


@dataclass(frozen=True)
class UserThemes:
    """The themes found in the user's theme folder, and one line per file that was skipped.

    Attributes:
        themes: Loaded themes, by file name.
        problems: ``path:line: what is wrong (hint)`` for each broken or unsafe file.
    """

    themes: tuple[Theme, ...] = ()
    problems: tuple[str, ...] = ()


def _fingerprint(folder: Path) -> tuple | None:
    """What changes when a theme file is added, removed, edited, chmod-ed or chown-ed."""
    try:
        entries = [(folder.stat(),)] + [(p.name, p.stat()) for p in theme_files(folder)]
    except OSError:
        return None
    return tuple((*e[:-1], e[-1].st_mtime_ns, e[-1].st_size, e[-1].st_mode, e[-1].st_uid) for e in entries)


@functools.lru_cache(maxsize=8)
def _load_user_themes(folder: Path, fingerprint: tuple | None) -> UserThemes:  # noqa: ARG001 (cache key)
    if not folder.exists():
        return UserThemes()
    reason = unsafe_reason(folder)
    if reason:
        return UserThemes(problems=(f"theme folder {reason}",))
    themes: list[Theme] = []
    problems: list[str] = []
    taken = {*BUILTIN_NAMES, MONO_THEME, *BUILTIN_THEMES}
    for path in theme_files(folder):
        reason = unsafe_reason(path)
        if reason:
            problems.append(f"theme file {reason}")
            continue
        try:
            theme = theme_from_fields(read_theme_file(path), path)
        except ConfigError as error:
            problems.append(str(error))
            continue
        if theme.name in taken:
            problems.append(f"{path}:{line_of(path.read_text(encoding='utf-8'), 'name')}: the name {theme.name!r} is "
                            "taken by another theme; give this one its own name")
            continue
        taken.add(theme.name)
        themes.append(theme)
    return UserThemes(tuple(themes), tuple(problems))


def user_themes() -> UserThemes:
    """The user's own themes from ``<config folder>/themes/*.toml``, read again when they change.

    Broken files, files whose name clashes with another theme's, and files or a folder that
    another user could change are skipped; each says why in ``problems``.
    """
    folder = themes_dir()
    return _load_user_themes(folder, _fingerprint(folder))


def theme_names(*, include_mono: bool = False) -> tuple[str, ...]:
    """Names of the themes a user picks from, in menu order.

    Args:
        include_mono: Also list ``spark-mono``, the grey theme ``NO_COLOR`` selects.

    Returns:
        ``("spark-dark", "spark-light", "spark-contrast")``, then the user's own themes, then
        ``"spark-mono"`` when asked.
    """
    names = BUILTIN_NAMES + tuple(theme.name for theme in user_themes().themes)
    return names + (MONO_THEME,) if include_mono else names


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
    for theme in (*SPARK_THEMES, *user_themes().themes):
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
