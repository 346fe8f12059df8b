"""The rotating log file in the platform's state folder. Never given secrets."""

from __future__ import annotations

import logging
import logging.handlers
import os

from spark_tui.config import locations

MAX_BYTES = 1_000_000
BACKUPS = 3


def setup(level: str = "INFO") -> str:
    """Send spark-tui's (and asyncssh's, at WARNING) logs to the rotating file.

    Args:
        level: A logging level name; unknown names fall back to INFO.

    Returns:
        The log file's path, for error screens to point at.
    """
    path = locations.log_path()
    handler = logging.handlers.RotatingFileHandler(path, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8")
    os.chmod(path, 0o600)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger("spark_tui")
    root.handlers[:] = [handler]
    root.setLevel(getattr(logging, level.upper(), logging.INFO) if isinstance(level, str) else logging.INFO)
    root.propagate = False
    # asyncssh logs every channel at INFO; keep its warnings only, in the same file.
    ssh_log = logging.getLogger("asyncssh")
    ssh_log.handlers[:] = [handler]
    ssh_log.setLevel(logging.WARNING)
    ssh_log.propagate = False
    return str(path)
