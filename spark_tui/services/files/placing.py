"""What a copy makes at the destination besides files' bytes: folders, symlinks, a streamed
folder's final name, and folders' own modes and times (set last)."""

from __future__ import annotations

import asyncio
import errno
import posixpath

from spark_tui.core.files import EntryKind
from spark_tui.services.files.bundle import Bundle
from spark_tui.services.files.errors import CopyError, failure, shown
from spark_tui.services.files.tree import Item

async def make_folder(dst, item: Item) -> None:
    try:
        await dst.mkdir(item.dest, 0o700 | item.entry.mode)
    except OSError as error:
        existing = await dst.lstat(item.dest)
        if existing is not None and existing.kind is EntryKind.FOLDER:
            return
        if existing is not None:
            raise CopyError(f"cannot copy the folder to {shown(dst.where(item.dest))}: not a folder") from None
        raise failure("create", dst.where(item.dest), error) from None


async def copy_link(dst, item: Item) -> None:
    folder, name = posixpath.split(item.dest)
    temp = posixpath.join(folder, f".{name}.spark-tui-link")
    try:
        if await dst.lstat(temp) is not None:
            await dst.remove(temp)
        await dst.symlink(item.entry.target, temp)
        await dst.set_attrs(temp, None, item.entry.mtime, link=True)
        await dst.rename(temp, item.dest)
    except OSError as error:
        raise failure("create the symlink", dst.where(item.dest), error) from None


async def place_bundle(dst, item: Bundle) -> None:
    """Give a complete staging folder its name."""
    try:
        await dst.rename(item.staging, item.top.dest)
    except OSError as error:
        there = await dst.lstat(item.top.dest)
        if error.errno == errno.ENOENT and await dst.lstat(item.staging) is None \
                and there is not None and there.kind is EntryKind.FOLDER:
            return  # renamed by the try whose answer a link drop took
        raise failure("create", dst.where(item.top.dest), error) from None


async def finish_folders(dst, plan: list[Item], at_once: int) -> None:
    """Folders' modes and times, last: nothing inside them changes any more (all at once:
    setting a folder's attributes does not touch its parent's time)."""
    gate = asyncio.Semaphore(at_once)

    async def finish(item: Item) -> None:
        async with gate:
            try:
                await dst.set_attrs(item.dest, item.entry.mode, item.entry.mtime)
            except OSError as error:
                raise failure("set the time of", dst.where(item.dest), error) from None

    folders = [i for i in plan if i.entry.kind is EntryKind.FOLDER]
    results = await asyncio.gather(*(finish(i) for i in folders), return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result
