"""Folders up as tar streams: written here, unpacked by the device's ``tar`` into a staging folder.

Measured (``benchmarks/bench_files.py``, 5,000 files of 1-64 KiB): a file per SFTP exchange,
even with dozens in flight, is slower than ``rsync -a``; tar streams are not, as the device
creating the files, not the round trips, sets the pace. A folder whose target does not exist
yet goes this way: it is unpacked into ``.NAME.spark-tui-part`` next to the target and renamed
to ``NAME`` once everything is in it, so a folder never appears half-written under its name.
Files of ``BIG_FILE`` and more stay out of the stream and are copied into the staging folder
afterwards, file by file, each resumable from its part. A staging folder left by an
interrupted copy is continued with ``resume``: a file in it that has its source's size and time
is complete (``tar`` sets the time after the last byte) and is not sent again; without
``resume`` it is removed first. A device without ``tar`` gets the folder file by file.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import posixpath
import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass, replace

from spark_tui.core.files import EntryKind, part_name
from spark_tui.services.files.errors import ERRNO_BY_TEXT, CopyError, LinkDropped, failure, said_error, shown
from spark_tui.services.files.gnu_tar import GnuTarWriter, local_gnu_tar
from spark_tui.services.files.tar_writer import CHUNK, Batches, grow_pipe, in_thread, write_tar
from spark_tui.services.files.tree import Item, walk
from spark_tui.services.files.wants_master import BIG_FILE

TAR = "exec env -u TAR_OPTIONS LC_ALL=C tar -x -p --no-same-owner -f -"
"""The device's side: GNU tar unpacking into the current folder, modes exact, owner the user
(and no ``TAR_OPTIONS`` from the device's environment changing that)."""
_TAR_ERROR = re.compile(r"^tar: (.+?): (?:[A-Z][a-z]+(?: [a-z]+)*): (.+)$")


class NoTar(Exception):
    """The device has no ``tar`` to unpack a stream: the folder goes file by file instead."""


@dataclass
class Bundle:
    """One top folder sent as a tar stream.

    Attributes:
        top: The folder itself (its ``dest`` the final name).
        items: Everything below it, in walk order (parents before children).
    """

    top: Item
    items: list[Item]

    @property
    def staging(self) -> str:
        """Where it is unpacked before the rename."""
        folder, name = posixpath.split(self.top.dest)
        return posixpath.join(folder, part_name(name))

    def staged(self, item: Item) -> Item:
        """``item`` with its destination inside the staging folder."""
        return replace(item, dest=self.staging + item.dest[len(self.top.dest):])

    def member(self, item: Item) -> str:
        """``item``'s name in the tar: its path below the top (``.`` the top itself)."""
        return item.src[len(self.top.src.rstrip("/")) + 1:] or "."

    def big(self) -> list[Item]:
        """The files that go by themselves, with their staged destinations."""
        return [self.staged(i) for i in self.items if _is_big(i)]


def _is_big(item: Item) -> bool:
    return item.entry.kind is EntryKind.FILE and item.entry.size >= BIG_FILE


def groups(plan: list[Item]) -> list[list[Item]]:
    """The plan cut into one list per source (each starts with its depth-0 item)."""
    out: list[list[Item]] = []
    for item in plan:
        if item.depth == 0 or not out:
            out.append([])
        out[-1].append(item)
    return out


async def _complete_in(dst, bundle: Bundle) -> set[str]:
    """Members already complete in a staging folder left by an interrupted copy."""
    try:
        there = await walk(dst, bundle.staging, bundle.staging, True)
    except CopyError:
        return set()
    have = {i.src[len(bundle.staging) + 1:]: i.entry for i in there[1:] if i.entry.kind is EntryKind.FILE}
    done = set()
    for item in bundle.items:
        name = bundle.member(item)
        found = have.get(name)
        if found is not None and item.entry.kind is EntryKind.FILE and found.size == item.entry.size \
                and int(found.mtime) == int(item.entry.mtime):
            done.add(name)
    return done


def device_error(said: str, bundle: Bundle, where: Callable[[str], str]) -> CopyError:
    """The first error the device's tar reported, naming the file at its final place."""
    for line in said.splitlines():
        match = _TAR_ERROR.match(line.strip())
        if not match:
            continue
        name, text = match.groups()
        code = ERRNO_BY_TEXT.get(text.strip().lower())
        path = posixpath.join(bundle.top.dest, name) if name and not name.startswith("/") else bundle.top.dest
        return failure("write", where(path), OSError(code or errno.EIO, text.strip()))
    for line in said.splitlines():  # the shell's own commands (mkdir): "WHO: ...: REASON"
        error = said_error(line)
        if error is not None:
            return failure("create" if line.strip().startswith("mkdir:") else "write", where(bundle.top.dest), error)
    tail = said.strip().splitlines()[-1:] or ["tar failed"]
    return CopyError(f"cannot write {shown(where(bundle.top.dest))}: the device's tar said: {shown(tail[0])}")


async def _over_asyncssh(conn, command: str, read_fd: int) -> tuple[int | None, bytes]:
    """Run ``command`` on the device over asyncssh, its input the pipe ``read_fd`` (closed here).

    Raises:
        LinkDropped: the connection went away.
        OSError: the device refused the session.
    """
    import asyncssh

    from spark_tui.services.files.remote_side import translated

    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=CHUNK)
    try:
        transport, _ = await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader),
                                                    os.fdopen(read_fd, "rb", buffering=0))
    except BaseException:
        os.close(read_fd)
        raise
    process = None
    try:
        process = await conn.create_process(command, encoding=None)
        errors = asyncio.ensure_future(process.stderr.read())
        try:
            while chunk := await reader.read(CHUNK):
                process.stdin.write(chunk)
                await process.stdin.drain()
            process.stdin.write_eof()
        except (asyncssh.Error, OSError):
            if conn.is_closed():
                raise
            # The device's tar stopped reading: its exit status and words say why.
        result = await process.wait()
        return result.exit_status, await errors
    except (asyncssh.Error, OSError) as error:
        problem = translated(error)
        if isinstance(problem, LinkDropped) or conn.is_closed():
            raise LinkDropped(str(error)) from None
        raise problem from None
    finally:
        transport.close()  # a producer still writing gets EPIPE and stops
        if process is not None:
            process.close()


async def send(dst, bundle: Bundle, resume: bool, sent: Callable[[Item, bool], None], openssh=None, nice: int = 0) -> None:
    """Unpack the bundle's folders, symlinks and small files into its staging folder.

    ``sent(item, moved)`` is called for every small file once it is in the stream (``moved``
    False when a resumed staging folder already held it). The stream rides ``openssh`` (an
    :class:`~spark_tui.services.files.openssh_path.OpenSSHBytes`) when given and able, else
    asyncssh. ``nice``: the priority of the thread that reads the files.

    Raises:
        LinkDropped: the connection went away (calling again with ``resume`` continues).
        CopyError: a file could not be read here or written there (named, with the reason).
        NoTar: the device has no ``tar`` (its staging folder is removed again).
    """
    where, staging = dst.where, bundle.staging
    done: set[str] = set()
    try:
        existing = await dst.lstat(staging)
        if existing is not None and resume and existing.kind is EntryKind.FOLDER:
            done = await _complete_in(dst, bundle)
        else:
            if existing is not None:
                await dst.remove(staging)
            await dst.mkdir(staging, 0o700)
    except OSError as error:
        raise failure("create", where(bundle.top.dest), error) from None
    members = []
    for item in bundle.items:
        if _is_big(item):
            continue
        if bundle.member(item) in done:
            sent(item, False)
        else:
            members.append(item)
    if not members:
        return
    try:
        await _stream(dst, bundle, members, sent, openssh, nice)
    except NoTar:
        if not done:
            with contextlib.suppress(OSError, LinkDropped):
                await dst.remove(staging)  # nothing was unpacked into it
        raise


async def send_new(where: Callable[[str], str], bundle: Bundle, sent: Callable[[Item, bool], None], openssh, nice: int) -> None:
    """:func:`send` for a bundle whose staging folder does not exist yet, through ``openssh``'s
    running master alone (no asyncssh connection): the stream's command makes the folder.

    Raises:
        LinkDropped: the master went away (the staging folder may hold part of the bundle).
        CopyError: a file could not be read here or written there.
    """
    members = [item for item in bundle.items if not _is_big(item)]
    await _stream(OnlyMaster(where), bundle, members, sent, openssh, nice, make=True)


@dataclass
class OnlyMaster:
    """The device as :func:`_stream` needs it when the master alone reaches it."""

    where: Callable[[str], str]
    conn: None = None


async def _writer(bundle: Bundle, members: list[Item], sent: Callable[[Item, bool], None], write_fd: int, nice: int):
    """Start writing ``members`` as a tar stream into the pipe ``write_fd`` (closed by the
    writer): this computer's GNU tar when it has one, else a thread of ours. GNU tar archives
    folders with their own modes (the device's tar sets them after the last member), so a
    bundle with big files, copied into its folders after the stream, gets the thread, whose
    folders keep room to write into until the copy sets their modes at the end.

    Returns:
        An awaitable that ends with the stream (raising ``OSError`` for a file that could not be
        read), and a coroutine function stopping the writer early.
    """
    loop = asyncio.get_running_loop()
    tar = await local_gnu_tar()
    if tar is not None and not any(_is_big(item) for item in bundle.items):
        writer = await GnuTarWriter.start(tar, bundle.top.src, members, bundle.member,
                                          lambda items: [sent(item, True) for item in items], write_fd, nice)
        return asyncio.ensure_future(writer.wait()), writer.stop
    batches = Batches(loop, lambda items: [sent(item, True) for item in items])

    def produce() -> None:
        try:
            write_tar(write_fd, members, bundle.member, batches)
        finally:
            batches.flush()

    async def nothing() -> None:
        """The thread stops by itself: its pipe's reader is closed."""

    return in_thread(loop, nice, produce), nothing


async def _stream(dst, bundle: Bundle, members: list[Item], sent: Callable[[Item, bool], None], openssh, nice: int,
                  make: bool = False) -> None:
    """The tar stream of ``members`` into the staging folder (see :func:`send`); with ``make``
    the device's shell makes that folder first (private, as :func:`send` makes it)."""
    folder = shlex.quote(bundle.staging)
    command = f"cd -- {folder} && {TAR}"
    if make:
        command = f"LC_ALL=C mkdir -m 700 -- {folder} && {command}"
    status, _, text = await stream(dst, bundle, members, sent, openssh, nice, command)
    if status is None:
        if dst.conn is None or dst.conn.is_closed():
            raise LinkDropped("the connection went away during the folder's stream")
        raise CopyError(f"cannot write {shown(dst.where(bundle.top.dest))}: the device's tar was stopped")
    if status in (126, 127) and not text.lstrip().startswith("tar:"):
        raise NoTar(text.strip())  # the shell found no tar to run
    if status != 0:
        raise device_error(text, bundle, dst.where)


async def stream(dst, bundle: Bundle, members: list[Item], sent: Callable[[Item, bool], None], openssh, nice: int,
                 command: str) -> tuple[int | None, bytes, str]:
    """Write ``members`` (named as in ``bundle``) as one tar stream into ``command`` on the device.

    One stream: two unpacked side by side were measured slower here (``bench_files.py``: 5,000
    small files onto the disk and onto a tmpfs, 2 CPUs shared by both ends), the ciphers and
    the two tars competing for the same CPUs.

    Returns:
        The command's exit status (``None``: it was stopped), its output (through the master
        only; ``b""`` over asyncssh) and its error output.

    Raises:
        LinkDropped: the connection went away.
        CopyError: a file could not be read here (named), or the device refused the session.
    """
    read_fd, write_fd = os.pipe()
    grow_pipe(write_fd)
    try:
        producer, stop = await _writer(bundle, members, sent, write_fd, nice)
    except OSError as error:
        os.close(read_fd)
        raise failure("read", bundle.top.src, error) from None
    except BaseException:
        os.close(read_fd)
        raise
    try:
        outcome = None
        if openssh is not None:
            try:
                outcome = await openssh.run(dst.conn, command, read_fd)
            except BaseException:
                os.close(read_fd)  # a producer still writing gets EPIPE and stops
                raise
            if outcome is not None:
                os.close(read_fd)
        if outcome is None and dst.conn is None:
            raise LinkDropped("the OpenSSH master ended before the folder's stream")
        if outcome is None:
            try:
                status, said = await _over_asyncssh(dst.conn, command, read_fd)
            except OSError as error:
                raise failure("write", dst.where(bundle.top.dest), error) from None
            outcome = status, b"", said
        try:
            await producer
        except OSError as error:
            if not isinstance(error, BrokenPipeError):
                raise failure("read", error.filename or bundle.top.src, error) from None
        status, out, said = outcome
        return status, out, said.decode("utf-8", "replace")
    finally:
        if not producer.done():
            with contextlib.suppress(Exception):
                await stop()
            with contextlib.suppress(Exception):  # its failure, if any, was not the first
                await asyncio.shield(producer)
