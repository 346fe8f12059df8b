"""Copy one file between two sides: under its part name, many blocks in flight, resumable.

The bytes go to ``.NAME.spark-tui-part`` next to the destination; only a complete file (checked
with SHA-256 on both ends when asked) gets its mode and time and is renamed to ``NAME``. With
``resume`` an existing part is continued after the prefix it holds was hashed on both ends and
found equal to the source's; otherwise it is started over.
"""

from __future__ import annotations

import asyncio
import errno
import posixpath
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from spark_tui.core.files import EntryKind, FileEntry, part_name
from spark_tui.services.files.errors import ChecksumMismatch, CopyError, LinkDropped, failure, first_of, shown
from spark_tui.services.files.wants_master import BIG_FILE

BLOCK = 255 * 1024
"""Bytes per SFTP request: under OpenSSH sftp-server's 256 KiB packet limit."""
WINDOW = 32
"""Requests one file keeps in flight (measured: 16 is slower, 64+ no faster on loopback)."""
FSYNC_FROM = 1 << 20
"""Files this big are flushed to disk before the rename (small ones rely on the rename alone)."""


@dataclass
class CopyOptions:
    """How files are copied.

    Attributes:
        resume: Continue a part file left by an interrupted copy (after the prefix check), and
            skip a destination file that already has the source's size and time.
        checksum: Compare SHA-256 of source and copy, computed on each end, before the rename.
        before_verify: Awaited with ``(side, part_path)`` just before the checksum comparison
            (tests use it to damage the copy and see the comparison catch it).
    """

    resume: bool = False
    checksum: bool = False
    before_verify: Callable[[object, str], Awaitable[None]] | None = None


class Meter:
    """Counts bytes for progress; one per transfer, shared by the files copied at once."""

    def __init__(self, on_bytes: Callable[[str, int, int, int], None]) -> None:
        self.on_bytes = on_bytes  # (path, file_done, file_size, sent_now)


async def _pump(reader, writer, start: int, size: int, gate: asyncio.Semaphore, moved: Callable[[int], None]) -> None:
    """Copy bytes ``[start, size)`` with up to ``WINDOW`` blocks in flight, in offset order."""
    offsets = iter(range(start, size, BLOCK))

    async def lane() -> None:
        for offset in offsets:
            length = min(BLOCK, size - offset)
            async with gate:
                try:
                    data = await reader.read(length, offset)
                except OSError as error:
                    raise _ReadFailed(error) from None
                if len(data) != length:
                    raise _Shrunk()
                await writer.write(data, offset)
            moved(length)

    lanes = min(WINDOW, max(1, -(-(size - start) // BLOCK)))
    async with asyncio.TaskGroup() as group:
        for _ in range(lanes):
            group.create_task(lane())


class _Shrunk(Exception):
    """The source got shorter while it was being read."""


class _ReadFailed(Exception):
    """Reading the source failed (as opposed to writing the copy)."""

    def __init__(self, error: OSError) -> None:
        super().__init__(str(error))
        self.error = error


async def _resume_point(src, dst, src_path: str, part: str, size: int) -> int:
    """Where an existing part can be continued from, 0 to start over.

    The whole part is tried first. Blocks are written in order but up to ``WINDOW`` at once, so
    a killed copy may have left holes in its last window: if the whole part does not match,
    the part minus that window is tried before starting over.
    """
    existing = await dst.lstat(part)
    if existing is None or existing.kind is not EntryKind.FILE or existing.size > size:
        return 0
    for point in (existing.size, (max(0, existing.size - (WINDOW + 1) * BLOCK) // BLOCK) * BLOCK):
        if point == 0:
            return 0
        ours, theirs = await asyncio.gather(src.sha256(src_path, point), dst.sha256(part, point))
        if ours == theirs:
            return point
    return 0


async def copy_file(
    src, dst, src_path: str, dest_path: str, entry: FileEntry, options: CopyOptions,
    gate: asyncio.Semaphore, meter: Meter, openssh=None,
) -> None:
    """Copy the regular file ``src_path`` (described by ``entry``) to ``dest_path``.

    A big file between this computer and a device goes through ``openssh`` (an
    :class:`~spark_tui.services.files.openssh_path.OpenSSHBytes`) when given and able.

    Raises:
        LinkDropped: the connection went away; calling again with ``resume`` continues.
        CopyError: a file problem, naming the file and the reason.
    """
    folder, name = posixpath.split(dest_path)
    part = posixpath.join(folder, part_name(name))
    size = entry.size
    where_src, where_dst = src.where(src_path), dst.where(dest_path)
    try:
        start = await _resume_point(src, dst, src_path, part, size) if options.resume else 0
    except OSError:
        start = 0
    if size <= BLOCK and start == 0:
        await _copy_small(src, dst, src_path, part, dest_path, entry, options, meter)
        return
    if openssh is not None and src.remote != dst.remote and size - start >= BIG_FILE:
        if await _by_openssh(openssh, src, dst, src_path, part, start, size, meter):
            await _finish(src, dst, src_path, part, dest_path, entry, options, where_dst)
            return
        start = await _resume_point(src, dst, src_path, part, size)
    try:
        reader = await src.open_read(src_path)
    except OSError as error:
        raise failure("read", where_src, error) from None
    try:
        try:
            writer = await dst.open_write(part, truncate=start == 0)
        except OSError as error:
            raise failure("write", where_dst, error) from None
        done = start
        meter.on_bytes(src_path, done, size, 0)

        def moved(length: int) -> None:
            nonlocal done
            done += length
            meter.on_bytes(src_path, done, size, length)

        try:
            await _pump(reader, writer, start, size, gate, moved)
            await writer.finish(sync=size >= FSYNC_FROM)
        except BaseExceptionGroup as group:
            error = first_of(group)
            raise await _explain(error, src, dst, where_src, where_dst, folder, size - done) from None
        except OSError as error:
            raise await _explain(error, src, dst, where_src, where_dst, folder, size - done) from None
        finally:
            await writer.close()
    finally:
        await reader.close()
    await _finish(src, dst, src_path, part, dest_path, entry, options, where_dst)


async def _copy_small(src, dst, src_path, part, dest_path, entry, options, meter) -> None:
    """A file of one block: read whole, written whole with its attributes, then renamed."""
    where_src, where_dst = src.where(src_path), dst.where(dest_path)
    try:
        data = await src.read_small(src_path, entry.size)
    except OSError as error:
        raise failure("read", where_src, error) from None
    if len(data) != entry.size:
        raise CopyError(f"cannot read {shown(where_src)}: it changed size while being copied", "copy it again")
    try:
        await dst.write_small(part, data, entry.mode, entry.mtime)
    except OSError as error:
        raise await _explain(error, src, dst, where_src, where_dst, posixpath.dirname(part), len(data)) from None
    meter.on_bytes(src_path, len(data), len(data), len(data))
    if options.checksum:
        await verify(src, dst, src_path, part, where_dst, options)
    try:
        await dst.rename(part, dest_path)
    except OSError as error:
        raise failure("write", where_dst, error) from None


async def _finish(src, dst, src_path, part, dest_path, entry, options, where_dst) -> None:
    """Verify (when asked), set mode and time, and give the complete part its name."""
    if options.checksum:
        await verify(src, dst, src_path, part, where_dst, options)
    try:
        await dst.set_attrs(part, entry.mode, entry.mtime)
        await dst.rename(part, dest_path)
    except OSError as error:
        raise failure("write", where_dst, error) from None


async def _by_openssh(openssh, src, dst, src_path: str, part: str, start: int, size: int, meter: Meter) -> bool:
    """The part completed by OpenSSH (through the master) from ``start``; False if it could not (see openssh_path)."""
    remote = dst if dst.remote else src
    try:
        if start:
            await dst.truncate(part, start)  # reput/reget continue from the part's size
    except OSError:
        return False
    done = start
    meter.on_bytes(src_path, done, size, 0)

    def moved(length: int) -> None:
        nonlocal done
        done += length
        meter.on_bytes(src_path, done, size, length)

    async def part_size() -> int:
        there = await dst.lstat(part)
        return there.size if there is not None else 0

    local, remote_path = (src_path, part) if dst.remote else (part, src_path)
    async def flush() -> None:
        try:
            await dst.flush(part)
        except (OSError, LinkDropped):
            pass  # only an early start on the final fsync

    return await openssh.move(remote.conn, upload=dst.remote, local=local, remote=remote_path, start=start, size=size,
                              part_size=part_size, moved=moved, flush=flush)


async def verify(src, dst, src_path: str, part: str, where_dst: str, options: CopyOptions) -> None:
    """SHA-256 of the source and of the copy, each computed on its own end; equal or raise.

    Raises:
        ChecksumMismatch: they differ (the damaged part is removed, so a retry starts over).
    """
    if options.before_verify is not None:
        await options.before_verify(dst, part)
    try:
        ours, theirs = await asyncio.gather(src.sha256(src_path), dst.sha256(part))
    except OSError as error:
        raise failure("verify", where_dst, error) from None
    if ours != theirs:
        try:
            await dst.remove(part)
        except OSError:
            pass
        raise ChecksumMismatch(f"checksum mismatch for {shown(where_dst)}: source {ours[:16]}..., copy {theirs[:16]}...",
                               "the copy was discarded; run the copy again")


async def _explain(error, src, dst, where_src, where_dst, folder, left) -> BaseException:
    """The error to raise for a failure while bytes were moving."""
    if isinstance(error, LinkDropped | CopyError):
        return error
    if isinstance(error, _Shrunk):
        return CopyError(f"cannot read {shown(where_src)}: it got shorter while being copied", "copy it again")
    if isinstance(error, _ReadFailed):
        return failure("read", where_src, error.error)
    if not isinstance(error, OSError):
        return error
    if dst.remote and error.errno == errno.EIO:  # OpenSSH reports a full disk as a bare "Failure"
        try:
            free = await dst.free_space(folder)
        except (OSError, LinkDropped):
            free = None
        if free is not None and free < left:
            error = OSError(errno.ENOSPC, "no space")
    return failure("write", where_dst, error)
