"""Plain values for copying files: a place (this computer or a device path), a folder entry,
and how far a transfer has got. No I/O here; ``services/files`` does the moving."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

PART_SUFFIX = ".spark-tui-part"
"""A file being written is ``.NAME.spark-tui-part`` in its destination folder until complete."""


def part_name(name: str) -> str:
    """The temporary name a file is written under before it is renamed to ``name``."""
    return f".{name}{PART_SUFFIX}"


@dataclass(frozen=True)
class Place:
    """One side of a copy: a local path (``device is None``) or a path on a saved device.

    Attributes:
        device: Saved device name, or ``None`` for this computer.
        path: As written; on a device ``~`` and relative paths mean the remote home.
    """

    device: str | None
    path: str

    def __str__(self) -> str:
        return f"{self.device}:{self.path}" if self.device else self.path


def parse_place(text: str) -> Place:
    """Read an scp-style argument: ``NAME:PATH`` is a device path, anything else is local.

    As scp does, a colon after a slash (``./a:b``, ``/x/a:b``) is part of a local path, and so
    is a Windows-looking one-letter drive; ``NAME:`` alone means the device's home folder.

    Raises:
        ValueError: ``text`` is empty.
    """
    if not text:
        raise ValueError("an empty path")
    head, sep, tail = text.partition(":")
    if not sep or not head or "/" in head:
        return Place(None, text)
    return Place(head, tail or ".")


class EntryKind(enum.Enum):
    """What a folder entry is; a symlink is never followed to find out."""

    FILE = "file"
    FOLDER = "folder"
    LINK = "link"
    OTHER = "other"


@dataclass(frozen=True)
class FileEntry:
    """One name in a folder listing (from this computer or, untrusted, from a device).

    Attributes:
        name: The raw name (show it through ``display_safe``).
        kind: File, folder, symlink or other (device node, socket ...).
        size: Bytes (0 for folders).
        mode: Permission bits.
        mtime: Modification time, seconds since the epoch.
        target: Where a symlink points, else ``""``.
    """

    name: str
    kind: EntryKind
    size: int = 0
    mode: int = 0o644
    mtime: float = 0.0
    target: str = ""


class TransferState(enum.Enum):
    """Where a queued transfer stands."""

    QUEUED = "queued"
    RUNNING = "running"
    RECONNECTING = "reconnecting"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class TransferProgress:
    """A snapshot of one transfer, for a progress line or the Files screen's queue.

    Attributes:
        transfer_id: Stable id of the transfer within the process.
        label: ``SRC -> DEST`` as the user would say it.
        state: Where it stands.
        current: The file being copied now (raw; show through ``display_safe``).
        file_done: Bytes of ``current`` at the destination.
        file_size: Size of ``current``.
        done: Bytes at the destination over the whole transfer (resumed bytes count).
        total: Bytes the whole transfer moves (known after the sources were walked).
        sent: Bytes that really crossed the link in this run (resumed bytes do not count).
        files_done: Files complete.
        files_total: Files in the transfer.
        rate: Bytes per second, recent.
        error: The one-line failure, when ``state`` is FAILED.
    """

    transfer_id: int
    label: str
    state: TransferState = TransferState.QUEUED
    current: str = ""
    file_done: int = 0
    file_size: int = 0
    done: int = 0
    total: int = 0
    sent: int = 0
    files_done: int = 0
    files_total: int = 0
    rate: float = 0.0
    error: str = ""
    notes: tuple[str, ...] = field(default=())

    @property
    def eta(self) -> float | None:
        """Seconds left at the current rate, or ``None`` when it cannot be told."""
        if self.rate <= 0 or self.total <= self.done:
            return None
        return (self.total - self.done) / self.rate
