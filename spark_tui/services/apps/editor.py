"""Open a device in VS Code or Cursor through their Remote-SSH extension (``v`` / ``spark-tui open``).

Remote-SSH resolves ``ssh-remote+ALIAS`` through the user's ``~/.ssh/config`` and takes no
``-F``, so the alias must come from there: spark-tui writes its exported config (the text of
``spark-tui ssh-config``) to its data folder and, when ``~/.ssh/config`` does not ``Include`` it
yet, says once how to add that line. It never edits ``~/.ssh/config`` itself (NVIDIA Sync does,
and users complain it clashes with their own ``Host`` blocks).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

from spark_tui.config import locations
from spark_tui.core.errors import SparkError
from spark_tui.core.models import DeviceProfile

EDITORS = {"code": "VS Code", "cursor": "Cursor"}
HINT_MARK = "editor-include-hint-shown"


def exported_config_path() -> Path:
    """Where spark-tui keeps the ssh config editors and the external terminal use."""
    return locations.data_dir() / "ssh_config"


def write_exported_config(profiles: Sequence[DeviceProfile]) -> Path:
    """Write the exported config (0600, atomically) and return its path."""
    from spark_tui.services.ssh import ExportSettings, render_config, write_private_file

    path = exported_config_path()
    text = render_config(list(profiles), ExportSettings(known_hosts=locations.known_hosts_path()))
    write_private_file(path, text.encode())
    return path


def is_included(config: Path, user_config: Path | None = None) -> bool:
    """True when ``~/.ssh/config`` has an ``Include`` line naming ``config``."""
    user_config = user_config or Path.home() / ".ssh" / "config"
    try:
        text = user_config.read_text(errors="replace")
    except OSError:
        return False
    wanted = {str(config), str(config).replace(str(Path.home()), "~", 1)}
    for line in text.splitlines():
        match = re.match(r"\s*include\s+(.+)$", line, re.IGNORECASE)
        if match and any(part.strip('"') in wanted for part in match.group(1).split()):
            return True
    return False


def include_hint(config: Path) -> str | None:
    """The one-time advice to ``Include`` the exported config, or ``None`` (included, or told already)."""
    if is_included(config):
        return None
    mark = locations.state_dir() / HINT_MARK
    if mark.exists():
        return None
    mark.parent.mkdir(parents=True, exist_ok=True)
    mark.touch()
    return (f"Remote-SSH reads ~/.ssh/config: add this line at its top so the device's alias resolves: "
            f"Include {config}")


def editor_command(editor: str, alias: str, path: str) -> list[str]:
    """``code --remote ssh-remote+ALIAS PATH`` (or ``cursor``).

    Raises:
        SparkError: Unknown editor, or its command is not on PATH.
    """
    if editor not in EDITORS:
        raise SparkError(f"unknown editor {editor!r}", "use --editor code or --editor cursor")
    program = shutil.which(editor)
    if program is None:
        raise SparkError(f"{EDITORS[editor]}'s command {editor!r} is not on PATH",
                         f"in {EDITORS[editor]}: Command Palette > Shell Command: Install '{editor}' command in PATH")
    return [program, "--remote", f"ssh-remote+{alias}", *([path] if path else [])]


def open_in_editor(profile: DeviceProfile, profiles: Sequence[DeviceProfile], *, editor: str = "code", path: str = "") -> tuple[list[str], str | None]:
    """Start the editor on ``profile``'s folder ``path``.

    Returns:
        The command that was run and the one-time Include advice (or ``None``).

    Raises:
        SparkError: The editor is unknown or missing, or it could not be started.
    """
    if profile.demo:
        raise SparkError("the demo device is not in the exported ssh config", "open a saved device instead")
    config = write_exported_config(profiles)
    command = editor_command(editor, profile.name, path)
    try:
        subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    except OSError as error:
        raise SparkError(f"cannot start {editor}: {error.strerror}", f"check that {editor} runs from a terminal") from None
    return command, include_hint(config)
