"""Where spark-tui keeps its files, from platformdirs. The one place paths are decided.

Environment overrides (tests and demo use them): ``SPARK_TUI_CONFIG`` for the profile file;
platformdirs itself honours ``XDG_CONFIG_HOME``, ``XDG_DATA_HOME`` and ``XDG_STATE_HOME``.
"""

from __future__ import annotations

import os
from pathlib import Path

from spark_tui.config.trust import make_private_folder

APP_NAME = "spark-tui"


def _dirs():
    # platformdirs is cheap, but keep the import here so `--version` never pays for it.
    from platformdirs import PlatformDirs

    return PlatformDirs(APP_NAME, appauthor=False)


def config_path(cli_value: str | os.PathLike[str] | None = None) -> Path:
    """The profile file: ``--config`` wins, then ``$SPARK_TUI_CONFIG``, then the platform default."""
    if cli_value:
        return Path(cli_value).expanduser()
    env = os.environ.get("SPARK_TUI_CONFIG")
    if env:
        return Path(env).expanduser()
    return Path(_dirs().user_config_dir) / "profiles.toml"


def themes_dir() -> Path:
    """Folder of the user's own theme files (``*.toml``), beside the default profile file.

    Not created: a user who wants a theme makes it. Unlike the profile file it does not follow
    ``--config``: themes belong to the user, not to one profile file.
    """
    return Path(_dirs().user_config_dir) / "themes"


def data_dir() -> Path:
    """Folder for keys we generate and our own ``known_hosts`` (created 0700 on demand)."""
    return _private_dir(Path(_dirs().user_data_dir))


def state_dir() -> Path:
    """Folder for logs and other state (created 0700 on demand)."""
    return _private_dir(Path(_dirs().user_state_dir))


def keys_dir() -> Path:
    """Folder holding the keys spark-tui generated."""
    return _private_dir(data_dir() / "keys")


def known_hosts_path() -> Path:
    """Our own OpenSSH-format known_hosts file (we never edit ``~/.ssh/known_hosts``)."""
    return data_dir() / "known_hosts"


def log_path() -> Path:
    """The rotating log file."""
    return state_dir() / "spark-tui.log"


def _private_dir(path: Path) -> Path:
    return make_private_folder(path)  # every level we create is 0700, whatever the umask
