"""What a copy will create: its sources walked into folders, files and symlinks, never followed."""

from __future__ import annotations

import asyncio
import posixpath
from dataclasses import dataclass

from spark_tui.core.files import EntryKind, FileEntry
from spark_tui.services.files.errors import CopyError, failure, shown
from spark_tui.services.files.local_side import LocalSide


@dataclass(frozen=True)
class Item:
    """One thing to make at the destination.

    Attributes:
        src: Absolute source path.
        dest: Absolute destination path.
        entry: The source's ``lstat`` (a symlink is an item of its own, never its target).
        depth: Folders below the copy's top (the top is 0).
    """

    src: str
    dest: str
    entry: FileEntry
    depth: int = 0


async def walk(side, src: str, dest: str, recursive: bool) -> list[Item]:
    """Every item under ``src`` (itself first, then its contents, depth first, by name).

    Raises:
        CopyError: ``src`` does not exist, is a folder without ``recursive``, or cannot be read.
    """
    try:
        top = await side.lstat(src)
    except OSError as error:
        raise failure("read", side.where(src), error) from None
    if top is None:
        raise CopyError(f"cannot read {shown(side.where(src))}: no such file or folder")
    if top.kind is EntryKind.FOLDER and not recursive:
        raise CopyError(f"{shown(side.where(src))} is a folder", "use -r to copy folders")
    if top.kind is EntryKind.OTHER:
        raise CopyError(f"cannot copy {shown(side.where(src))}: not a regular file, folder or symlink")
    items = [Item(src, dest, top, 0)]
    # Depth first, each folder's whole subtree before its next sibling: GNU tar unpacking the
    # stream sets a folder's mode (maybe read-only) as soon as a member outside it arrives.
    stack = [(items[0], iter(await _listed(side, items[0])))] if top.kind is EntryKind.FOLDER else []
    while stack:
        folder, entries = stack[-1]
        entry = next(entries, None)
        if entry is None:
            stack.pop()
            continue
        item = Item(posixpath.join(folder.src, entry.name), posixpath.join(folder.dest, entry.name), entry, folder.depth + 1)
        items.append(item)
        if entry.kind is EntryKind.FOLDER:
            stack.append((item, iter(await _listed(side, item))))
    return items


async def _listed(side, folder: Item) -> list:
    """The folder's entries by name, without sockets, fifos and devices (``rsync -a`` without
    ``--specials`` skips them too).

    Raises:
        CopyError: it cannot be read, or lists a name that would escape it.
    """
    try:
        entries = await side.listdir(folder.src)
    except OSError as error:
        raise failure("read", side.where(folder.src), error) from None
    for entry in entries:
        if not entry.name or entry.name in (".", "..") or "/" in entry.name or "\0" in entry.name:
            # Only a broken or hostile server lists these; joined to a path they would escape it.
            raise CopyError(f"refusing the name {shown(entry.name)!r} listed in {shown(side.where(folder.src))}")
    return sorted((e for e in entries if e.kind is not EntryKind.OTHER), key=lambda e: e.name)


SOMEWHERE = "\0"
"""The destination :func:`walk_here` puts items under (no real path holds it): the caller
replaces it once it knows where they go."""


def walk_here(paths: list[str], recursive: bool) -> list[list[Item]]:
    """Each local path walked, its items' destinations under ``SOMEWHERE``. Blocking: run it
    in a thread while the device logs in.

    Raises:
        CopyError: as :func:`walk`.
    """
    side = LocalSide()

    async def all_of() -> list[list[Item]]:
        return [await walk(side, await side.resolve(path), SOMEWHERE, recursive) for path in paths]

    return asyncio.run(all_of())
