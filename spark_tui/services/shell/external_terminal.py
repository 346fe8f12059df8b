"""Open a device in the user's own terminal with OpenSSH, like NVIDIA Sync's "Terminal" app.

The ssh command uses a config file written from the profiles (the same text as
``spark-tui ssh-config``), so OpenSSH gets our key, our known_hosts and strict host key checking.
Inside tmux the shell opens in a new tmux window; elsewhere in ``$TERMINAL`` or the desktop's
terminal emulator.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from spark_tui.config import locations
from spark_tui.core.errors import SparkError
from spark_tui.core.models import DeviceProfile

# Linux terminal emulators and how each is told to run a command, in order of preference.
_EMULATORS = (
    ("x-terminal-emulator", ["-e"]),
    ("gnome-terminal", ["--"]),
    ("konsole", ["-e"]),
    ("xfce4-terminal", ["-x"]),
    ("kitty", []),
    ("alacritty", ["-e"]),
    ("wezterm", ["start", "--"]),
    ("xterm", ["-e"]),
)


def terminal_command(title: str, argv: Sequence[str], environ: Mapping[str, str] | None = None) -> list[str]:
    """The command that runs ``argv`` in a new terminal window titled ``title``.

    Raises:
        SparkError: no terminal could be found; the hint says how to name one.
    """
    env = os.environ if environ is None else environ
    if env.get("TMUX") and shutil.which("tmux"):
        return ["tmux", "new-window", "-n", title, shlex.join(argv)]
    if env.get("TERMINAL"):
        return [*shlex.split(env["TERMINAL"]), "-e", *argv]
    if sys.platform == "darwin":
        script = shlex.join(argv).replace("\\", "\\\\").replace('"', '\\"')
        return ["osascript", "-e", f'tell application "Terminal" to do script "{script}"', "-e", 'tell application "Terminal" to activate']
    if env.get("DISPLAY") or env.get("WAYLAND_DISPLAY"):
        for program, flags in _EMULATORS:
            if shutil.which(program):
                return [program, *flags, *argv]
    raise SparkError(
        "no terminal to open the shell in",
        "set $TERMINAL to your terminal program (it is run with -e), or run spark-tui inside tmux",
    )


def write_terminal_config(profiles: Sequence[DeviceProfile]) -> Path:
    """Write the OpenSSH config the external terminal uses (0600, atomically) and return its path."""
    from spark_tui.services.ssh import write_private_file
    from spark_tui.services.ssh import ExportSettings, render_config

    path = locations.data_dir() / "ssh_config"
    text = render_config(list(profiles), ExportSettings(known_hosts=locations.known_hosts_path()), include_demo=True)
    write_private_file(path, text.encode())
    return path


def open_in_terminal(profile: DeviceProfile, profiles: Sequence[DeviceProfile]) -> list[str]:
    """Start ``ssh NAME`` for ``profile`` in a new terminal; returns the command that was run.

    Raises:
        SparkError: no terminal was found, or it could not be started.
    """
    config = write_terminal_config(profiles)
    command = terminal_command(profile.name, ["ssh", "-F", str(config), profile.name])
    try:
        subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    except OSError as error:
        raise SparkError(f"cannot start {command[0]}: {error.strerror}", "set $TERMINAL to your terminal program") from None
    return command
