"""Crash-safe file writes and the writers' lock, for the profile file.

A save writes a temporary file in the same folder, flushes and fsyncs it, makes it 0600, then
renames it over the profile (``os.replace`` is atomic on POSIX) and fsyncs the folder so the
rename itself survives a power cut. A reader therefore sees the old file or the new one, never
a mix, whenever the writer dies. Writers serialise their read-modify-write on an exclusive
``fcntl.flock`` of a sibling ``<file>.lock``; the kernel drops the lock when a process dies.
(Without ``fcntl``, on Windows, saves stay atomic but concurrent writers are not serialised.)
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

from spark_tui.config.trust import make_private_folder

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

PRIVATE = 0o600
TEMP_SUFFIX = ".tmp"


class Signature(NamedTuple):
    """What a cheap ``stat`` says about a file: enough to notice that it changed."""

    inode: int
    size: int
    mtime_ns: int


def signature_of(result: os.stat_result) -> Signature:
    """The change signature of a ``stat`` result."""
    return Signature(result.st_ino, result.st_size, result.st_mtime_ns)


def real_path(path: Path) -> Path:
    """Where writes must go: a symlinked profile (dotfiles) is updated at its target."""
    return Path(os.path.realpath(path))


def temp_prefix(path: Path) -> str:
    """Prefix of the temporary files a save of ``path`` creates next to it."""
    return f".{path.name}."


LOCK_WAIT = 5.0
"""Seconds a writer waits for the lock before giving up with a clear error."""


class LockProblem(OSError):
    """The writers' lock cannot be taken: planted by someone else, or held too long.

    Attributes:
        hint: What the user can do about it.
    """

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.strerror = message
        self.hint = hint


@contextlib.contextmanager
def locked(path: Path, wait: float | None = None) -> Iterator[None]:
    """Hold the exclusive writers' lock of ``path``, waiting at most ``wait`` seconds for it.

    The lock file is opened without following a symlink and must be a regular file of ours:
    a lock planted by another user could otherwise block every save or point us elsewhere.

    Raises:
        LockProblem: The lock file is not ours, or another writer held it for ``wait`` seconds.
        OSError: The lock file cannot be created.
    """
    make_private_folder(path.parent)
    lock = path.with_name(path.name + ".lock")
    flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(lock, flags, PRIVATE)
    except OSError as error:
        if os.path.islink(lock):
            raise LockProblem(f"{lock} is a symbolic link, not our lock file", f"remove it: rm {lock}") from error
        raise
    try:
        status = os.fstat(fd)
        owner = os.geteuid() if hasattr(os, "geteuid") else status.st_uid
        if not stat.S_ISREG(status.st_mode) or status.st_uid != owner:
            raise LockProblem(f"{lock} is not a file of ours (someone else made it)", f"remove it: rm {lock}")
        if fcntl is not None:
            _flock(fd, lock, LOCK_WAIT if wait is None else wait)
        yield
    finally:
        os.close(fd)  # closing drops the flock


def _flock(fd: int, lock: Path, wait: float) -> None:
    import time

    deadline = time.monotonic() + wait
    delay = 0.005
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise LockProblem(
                    f"another program has held the writers' lock {lock} for {wait:g} s",
                    "try again when the other spark-tui finished saving; if none runs, find the holder with: fuser " + str(lock),
                ) from None
            time.sleep(delay)
            delay = min(delay * 2, 0.1)


def remove_stale_temp_files(path: Path) -> None:
    """Delete temporary files left by a writer that died mid-save. Call only under the lock."""
    prefix = temp_prefix(path)
    with contextlib.suppress(OSError):
        for entry in os.scandir(path.parent):
            if entry.name.startswith(prefix) and entry.name.endswith(TEMP_SUFFIX):
                with contextlib.suppress(OSError):
                    os.unlink(entry.path)


def write_atomically(path: Path, data: bytes) -> Signature:
    """Replace ``path`` with ``data`` so that a crash leaves the old or the new file, 0600.

    Returns:
        The signature of the file now at ``path``.

    Raises:
        OSError: Writing failed; ``path`` is unchanged and no temporary file is left.
    """
    make_private_folder(path.parent)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=temp_prefix(path), suffix=TEMP_SUFFIX)
    try:
        if hasattr(os, "fchmod"):  # mkstemp already creates 0600; say it anyway, before any byte
            os.fchmod(fd, PRIVATE)
        else:  # pragma: no cover - Windows
            os.chmod(temp, PRIVATE)
        with os.fdopen(fd, "wb", closefd=False) as handle:
            handle.write(data)
            handle.flush()
            os.fsync(fd)
        result = signature_of(os.fstat(fd))
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    finally:
        os.close(fd)
    _fsync_folder(path.parent)
    return result


def is_private(mode: int) -> bool:
    """True when only the owner can read or write (no group/other bits)."""
    return stat.S_IMODE(mode) & 0o077 == 0


def _fsync_folder(folder: Path) -> None:
    with contextlib.suppress(OSError):  # not every platform/file system can open a folder
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
