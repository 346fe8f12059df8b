"""The rotating log file in the platform's state folder. Never given secrets."""

from __future__ import annotations

import logging
import logging.handlers
import os

from spark_tui.config import locations
from spark_tui.core.untrusted import display_safe_lines

MAX_BYTES = 1_000_000
BACKUPS = 3


class PrivateRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """A rotating log whose every file, the first and each one after a rollover, is 0600."""

    def _open(self):
        descriptor = os.open(self.baseFilename, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.fchmod(descriptor, 0o600)  # an existing file made under a looser umask is fixed too
        return os.fdopen(descriptor, self.mode, encoding=self.encoding, errors=self.errors)


class SafeFormatter(logging.Formatter):
    """Log lines quote devices (reasons, names): no control character may reach whoever later
    reads the log in a terminal (``less``, ``tail -f``), so each record is sanitised."""

    def format(self, record: logging.LogRecord) -> str:  # noqa: D102
        return display_safe_lines(super().format(record), 20_000, 4_000, escape_backslash=False)


def setup(level: str = "INFO") -> str:
    """Send spark-tui's (and asyncssh's, at WARNING) logs to the rotating file.

    Args:
        level: A logging level name; unknown names fall back to INFO.

    Returns:
        The log file's path, for error screens to point at.
    """
    path = locations.log_path()
    handler = PrivateRotatingFileHandler(path, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8")
    handler.setFormatter(SafeFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
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
