"""Copy failures as one line naming the file and the reason, and the link-drop signal."""

from __future__ import annotations

import errno
import os

from spark_tui.core.errors import SparkError
from spark_tui.core.untrusted import display_safe

REASONS = {
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.ENOSPC: "no space left on the device",
    errno.EDQUOT: "disk quota exceeded",
    errno.ENOTDIR: "not a folder",
    errno.EISDIR: "is a folder",
    errno.ENOENT: "no such file or folder",
    errno.EEXIST: "already exists",
    errno.EROFS: "read-only file system",
    errno.ENOTEMPTY: "folder not empty",
    errno.EXDEV: "on another file system",
    errno.ELOOP: "too many levels of symbolic links",
    errno.ENAMETOOLONG: "name too long",
}
ERRNO_BY_TEXT = {os.strerror(code).lower(): code for code in (
    errno.EACCES, errno.EPERM, errno.ENOSPC, errno.EDQUOT, errno.ENOTDIR, errno.EISDIR,
    errno.ENOENT, errno.EEXIST, errno.EROFS, errno.ENAMETOOLONG, errno.ELOOP)}
"""The errno for a reason as a tool printed it in the C locale (``strerror``'s words)."""


def said_error(line: str) -> OSError | None:
    """A tool's ``WHO: ...: REASON`` line as an ``OSError``, when the reason is one we know."""
    head, _, text = line.strip().rpartition(": ")
    code = ERRNO_BY_TEXT.get(text.lower())
    return OSError(code, text) if head and code else None


class CopyError(SparkError):
    """A copy (or a Files-screen action) failed; ``message`` names the file and the reason."""


class LinkDropped(Exception):
    """The SSH connection under a remote operation went away; the transfer reconnects."""


class ChecksumMismatch(CopyError):
    """A file's SHA-256 differs between the two ends after the copy."""


def shown(place: str) -> str:
    """A path as it may be printed: escaped, not too long."""
    return display_safe(place, 160)


def reason(error: BaseException) -> str:
    """A short plain-language reason for an ``OSError`` (or a remote error turned into one)."""
    if isinstance(error, OSError) and error.errno in REASONS:
        return REASONS[error.errno]
    if isinstance(error, OSError) and error.strerror:
        return display_safe(error.strerror.lower(), 80)
    return display_safe(str(error) or type(error).__name__, 80)


def failure(verb: str, place: str, error: BaseException, hint: str = "") -> CopyError:
    """``cannot VERB PLACE: REASON`` as a :class:`CopyError`."""
    return CopyError(f"cannot {verb} {shown(place)}: {reason(error)}", hint)


def first_of(group: BaseExceptionGroup) -> BaseException:
    """The error to raise for a TaskGroup's group: a link drop first (it is retried), then a
    :class:`CopyError`, then whatever came first."""
    flat: list[BaseException] = []
    todo: list[BaseException] = [group]
    while todo:
        error = todo.pop(0)
        if isinstance(error, BaseExceptionGroup):
            todo.extend(error.exceptions)
        else:
            flat.append(error)
    for kind in (LinkDropped, CopyError):
        found = next((e for e in flat if isinstance(e, kind)), None)
        if found is not None:
            return found
    return flat[0]
