"""Private folders in /tmp that spark-tui makes for one run (an OpenSSH master's control
socket, the demo's throwaway home), each naming the process that made it, swept once that
process is gone.

A spark-tui killed with SIGKILL, or by the hang-up of a closed terminal, cannot remove its own
folder: the next one made on this computer removes such folders. Only folders that are ours to
remove: our user's, private, not symlinks, named ``spark-tui-...``, with an owner file naming a
process that no longer runs.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import tempfile
from pathlib import Path

PREFIX = "spark-tui-"
OWNER = "owner"
"""The file in each folder holding the pid of the process that made it."""


def _root() -> str | None:
    return "/tmp" if os.path.isdir("/tmp") else None


def make_owned_folder(prefix: str = PREFIX) -> Path:
    """A new private folder named ``prefix...`` (``prefix`` starts with ``PREFIX``) in /tmp,
    stale ones swept first."""
    sweep_orphans()
    folder = Path(tempfile.mkdtemp(prefix=prefix, dir=_root()))
    fd = os.open(folder / OWNER, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    with os.fdopen(fd, "w") as owner:
        owner.write(f"{os.getpid()}\n")
    return folder


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process has that pid now
    return True


def _owner(folder: str) -> int | None:
    try:
        fd = os.open(os.path.join(folder, OWNER), os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return None
    with os.fdopen(fd) as owner:
        try:
            return int(owner.read(32))
        except ValueError:
            return None


def sweep_orphans(root: str | None = None) -> int:
    """Remove the control folders whose maker is gone; returns how many."""
    removed = 0
    try:
        entries = list(os.scandir(root or _root() or tempfile.gettempdir()))
    except OSError:
        return 0
    for entry in entries:
        if not entry.name.startswith(PREFIX):
            continue
        try:
            found = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if not stat.S_ISDIR(found.st_mode) or found.st_uid != os.getuid() or found.st_mode & 0o077:
            continue
        pid = _owner(entry.path)
        if pid is None or pid == os.getpid() or _running(pid):
            continue
        with contextlib.suppress(OSError):
            shutil.rmtree(entry.path)
            removed += 1
    return removed
