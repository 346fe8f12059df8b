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


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold the exclusive writers' lock of ``path`` (blocking until it is free).

    Raises:
        OSError: The lock file cannot be created or locked.
    """
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path.with_name(path.name + ".lock"), os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), PRIVATE)
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing drops the flock


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
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
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
