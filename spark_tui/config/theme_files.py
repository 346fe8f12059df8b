"""Theme files: one TOML file per colour theme, holding Textual ``Theme`` fields.

The built-in themes ship as files in the package's ``themes/`` folder; a user adds one by
dropping a file into ``<config folder>/themes/`` (:func:`spark_tui.config.locations.themes_dir`).
This module reads and checks the files (plain data, no textual); ``spark_tui.theming`` turns
them into Textual themes. A file is hand-edited and so untrusted: every problem is a
:class:`ConfigError` naming the file and, where known, the line.

Format (see the README, "Themes")::

    name = "my-theme"          # required; letters, digits, - and _
    primary = "#76B900"        # required; any colour Textual parses
    background = "#0D0F0C"     # optional colours: secondary accent foreground background
                               # surface panel boost success warning error
    dark = true                # optional: true (default) or false
    [variables]                # optional: Textual theme variables, name = "value"
    footer-key-foreground = "#76B900"
"""

from __future__ import annotations

import os
import re
import stat
import tomllib
from pathlib import Path
from typing import Any

from spark_tui.config.fields import THEME_RE
from spark_tui.core.errors import ConfigError
from spark_tui.core.untrusted import display_safe

COLOUR_FIELDS = ("primary", "secondary", "accent", "foreground", "background", "surface", "panel", "boost",
                 "success", "warning", "error")
NUMBER_FIELDS = ("luminosity_spread", "text_alpha")
ALLOWED = ("name", *COLOUR_FIELDS, "dark", *NUMBER_FIELDS, "variables")
_AT = re.compile(r"\s*\(at line (\d+), column (\d+)\)")
_HINT = "fix or remove the file; until then spark-tui uses its default theme"


def theme_files(folder: Path) -> list[Path]:
    """The ``*.toml`` files in ``folder``, by name; none when the folder does not exist."""
    try:
        return sorted(p for p in folder.iterdir() if p.suffix == ".toml" and not p.name.startswith("."))
    except (FileNotFoundError, NotADirectoryError):
        return []


def unsafe_reason(path: Path) -> str | None:
    """Why a user theme file or folder must not be read, or ``None`` when it is safe.

    Someone else could change what a file says if it belongs to another user or if group or
    others may write it (the rule OpenSSH applies to ``~/.ssh/config``).

    Args:
        path: A file or folder (symbolic links are followed).

    Returns:
        One line naming the path and the problem, with the command that fixes it; or ``None``.
    """
    try:
        info = path.stat()
    except OSError as error:
        return f"{path}: cannot be read ({error.strerror or error})"
    if hasattr(os, "getuid") and info.st_uid != os.getuid():
        return f"{path}: skipped, it belongs to another user (uid {info.st_uid}); it must be yours"
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return f"{path}: skipped, group or others may write it (fix: chmod go-w {path})"
    return None


def read_theme_file(path: Path) -> dict[str, Any]:
    """Read and check one theme file.

    Args:
        path: The ``.toml`` file.

    Returns:
        Its fields, ready for ``textual.theme.Theme(**fields)`` (colours are checked by the
        caller, which knows Textual's colour syntax).

    Raises:
        ConfigError: The file cannot be read, is not valid TOML (the error names its line and
            column), or holds a missing, unknown or mistyped field (named, with its line).
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(str(path), f"cannot read this theme file: {getattr(error, 'strerror', None) or error}", hint=_HINT) from error
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        message = str(error)
        where = _AT.search(message)
        line = int(where.group(1)) if where else None
        detail = _AT.sub("", message) + (f" (column {where.group(2)})" if where else "")
        raise ConfigError(str(path), f"not valid TOML: {detail}", line=line, hint=_HINT) from error

    def problem(key: str, message: str) -> ConfigError:
        return ConfigError(str(path), message, line=line_of(text, key), field=key, hint=_HINT)

    for key in data:
        if key not in ALLOWED:
            raise problem(key, f"unknown field {display_safe(key, 40)!r}; a theme file holds: {', '.join(ALLOWED)}")
    for key in ("name", "primary"):
        if key not in data:
            raise ConfigError(str(path), f"the theme needs a {key!r} field", field=key, hint=_HINT)
    if not isinstance(data["name"], str) or not THEME_RE.fullmatch(data["name"]):
        raise problem("name", "name must be letters, digits, - and _ (at most 48), starting with a letter or digit")
    for key in COLOUR_FIELDS:
        if key in data and not isinstance(data[key], str):
            raise problem(key, f"{key} must be a colour in quotes, such as \"#76B900\"")
    if "dark" in data and not isinstance(data["dark"], bool):
        raise problem("dark", "dark must be true or false")
    for key in NUMBER_FIELDS:
        if key in data and (isinstance(data[key], bool) or not isinstance(data[key], (int, float))):
            raise problem(key, f"{key} must be a number")
        if key in data:
            data[key] = float(data[key])
    variables = data.get("variables", {})
    if not isinstance(variables, dict) or not all(isinstance(v, str) for v in variables.values()):
        raise problem("variables", "[variables] must hold name = \"value\" pairs")
    return data


def line_of(text: str, key: str) -> int | None:
    """The 1-based line where ``key`` is first assigned or opened as a table in ``text``."""
    pattern = re.compile(rf"^\s*(\[\s*{re.escape(key)}\s*\]|[\"']?{re.escape(key)}[\"']?\s*=)")
    for number, line in enumerate(text.splitlines(), start=1):
        if pattern.match(line):
            return number
    return None
