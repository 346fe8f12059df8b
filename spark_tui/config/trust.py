"""Whether a file and the folders above it are ours alone: OpenSSH's StrictModes, for our files.

One check for everything whose contents decide whom we trust or where we connect (the profile,
private keys, known_hosts): the file and every folder above it, up to the home folder, must be
owned by us or root and not writable by group or others; else another local user could edit or
swap it. A folder owned by root with the sticky bit (``/tmp``) is accepted: nobody else can
rename or delete what we own in it. And one way to create folders: every level that does not
exist yet is made ``0700`` explicitly, whatever the umask (``mkdir(parents=True)`` would make
the parents ``0777 & ~umask``, so ``0777`` under ``umask 000``).
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path
from typing import NamedTuple


class Distrust(NamedTuple):
    """Why a path is not trusted, and the command that fixes it."""

    path: Path
    reason: str
    fix: str

    def message(self, what: str) -> str:
        """``refusing <what>: <path> <reason>``, one line."""
        return f"refusing {what}: {self.path} {self.reason}"


def _problem(path: Path, status: os.stat_result, *, folder: bool, private: bool) -> Distrust | None:
    uid = os.geteuid() if hasattr(os, "geteuid") else None
    if uid is not None and status.st_uid not in (uid, 0):
        owner = _user_name(status.st_uid)
        return Distrust(path, f"is owned by another user ({owner}), who could change it", f"chown {_user_name(uid)} {path}")
    mode = stat.S_IMODE(status.st_mode)
    if folder and status.st_uid == 0 and mode & stat.S_ISVTX:
        return None  # /tmp and friends: others may write, but never touch what we own
    if mode & (stat.S_IWGRP | stat.S_IWOTH):
        return Distrust(path, f"is writable by other users (mode {mode:04o})", f"chmod go-w {path}" if folder else f"chmod 600 {path}")
    if private and mode & (stat.S_IRWXG | stat.S_IRWXO):
        return Distrust(path, f"is accessible by other users (mode {mode:04o})", f"chmod 600 {path}")
    return None


def _user_name(uid: int) -> str:
    try:
        import pwd

        return pwd.getpwuid(uid).pw_name
    except (ImportError, KeyError):
        return str(uid)


def _folders_above(path: Path) -> list[Path]:
    """The folders above ``path`` to check: up to and including home when inside it, else to /."""
    home = Path(os.path.realpath(os.path.expanduser("~")))
    folders: list[Path] = []
    for folder in path.parents:
        folders.append(folder)
        if folder == home:
            break
    return folders


def untrusted(path: Path, *, status: os.stat_result | None = None, private: bool = False) -> Distrust | None:
    """The first reason not to trust ``path`` (a file, or a folder), or ``None``.

    Both the path as named and where its symlinks lead are checked, each with its folders.

    Args:
        path: The file (it need not exist; then only its folders are checked).
        status: ``os.fstat`` of the file already opened (checked instead of a new ``stat``,
            so the file judged is the file read).
        private: The file must not even be readable by others (a private key).

    Returns:
        What is wrong, or ``None`` when the path and its folders are ours alone.
    """
    path = Path(os.path.abspath(os.path.expanduser(path)))
    real = Path(os.path.realpath(path))
    try:
        status = status or os.stat(path)
    except FileNotFoundError:
        status = None
    except OSError:
        return None  # unreadable: reading it will say so
    if status is not None:
        found = _problem(real, status, folder=stat.S_ISDIR(status.st_mode), private=private)
        if found:
            return found
    seen: set[Path] = set()
    for folder in [*_folders_above(path), *_folders_above(real)]:
        if folder in seen:
            continue
        seen.add(folder)
        try:
            folder_status = os.stat(folder)
        except OSError:
            continue  # missing: we create it private
        found = _problem(folder, folder_status, folder=True, private=False)
        if found:
            return found
    return None


def make_private_folder(folder: Path) -> Path:
    """Create ``folder`` and every missing folder above it, each ``0700`` whatever the umask.

    Folders that already exist are left as they are.

    Returns:
        ``folder``.

    Raises:
        OSError: A folder cannot be created.
    """
    folder = Path(os.path.abspath(os.path.expanduser(folder)))
    missing: list[Path] = []
    for candidate in [folder, *folder.parents]:
        if candidate.exists():
            break
        missing.append(candidate)
    for candidate in reversed(missing):
        with contextlib.suppress(FileExistsError):  # someone made it meanwhile: checked on use
            os.mkdir(candidate, 0o700)
            os.chmod(candidate, 0o700)  # mkdir's mode is masked by the umask
    return folder
