"""This computer's side of a copy: the same operations as the device side, on the local disk."""

from __future__ import annotations

import asyncio
import hashlib
import os
import posixpath
import shutil
import stat

from spark_tui.core.files import EntryKind, FileEntry

HASH_BLOCK = 1 << 20


def entry_from_stat(name: str, st: os.stat_result, target: str = "") -> FileEntry:
    """A :class:`FileEntry` from an ``lstat`` result."""
    mode = st.st_mode
    kind = (
        EntryKind.LINK if stat.S_ISLNK(mode)
        else EntryKind.FOLDER if stat.S_ISDIR(mode)
        else EntryKind.FILE if stat.S_ISREG(mode)
        else EntryKind.OTHER
    )
    size = st.st_size if kind is EntryKind.FILE else 0
    return FileEntry(name, kind, size, stat.S_IMODE(mode), st.st_mtime, target)


def sha256_of(path: str, length: int | None = None) -> str:
    """SHA-256 (hex) of the first ``length`` bytes of ``path`` (all of it when ``None``).

    Raises:
        OSError: it cannot be read.
    """
    digest = hashlib.sha256()
    left = length
    with open(path, "rb", buffering=0) as handle:
        while left is None or left > 0:
            block = handle.read(HASH_BLOCK if left is None else min(HASH_BLOCK, left))
            if not block:
                break
            digest.update(block)
            if left is not None:
                left -= len(block)
    return digest.hexdigest()


class LocalReader:
    """An open local file read at offsets."""

    def __init__(self, path: str) -> None:
        self.fd = os.open(path, os.O_RDONLY)

    async def read(self, size: int, offset: int) -> bytes:
        return os.pread(self.fd, size, offset)

    async def close(self) -> None:
        os.close(self.fd)


class LocalWriter:
    """An open local file written at offsets."""

    def __init__(self, path: str, truncate: bool) -> None:
        self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if truncate else 0), 0o600)

    async def write(self, data: bytes, offset: int) -> None:
        view = memoryview(data)
        while view:
            written = os.pwrite(self.fd, view, offset)
            view, offset = view[written:], offset + written

    async def finish(self, sync: bool) -> None:
        if sync:
            await asyncio.to_thread(os.fsync, self.fd)

    async def close(self) -> None:
        os.close(self.fd)


class LocalSide:
    """File operations on this computer. Every method raises ``OSError`` on failure."""

    remote = False
    name = "this computer"

    def where(self, path: str) -> str:
        return path

    async def resolve(self, path: str) -> str:
        return os.path.abspath(os.path.expanduser(path))

    async def lstat(self, path: str) -> FileEntry | None:
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            return None
        target = os.readlink(path) if stat.S_ISLNK(st.st_mode) else ""
        return entry_from_stat(posixpath.basename(path), st, target)

    async def is_folder(self, path: str) -> bool:
        return os.path.isdir(path)

    async def listdir(self, path: str) -> list[FileEntry]:
        found = []
        with os.scandir(path) as entries:
            for entry in entries:
                try:
                    st = entry.stat(follow_symlinks=False)
                    target = os.readlink(entry.path) if entry.is_symlink() else ""
                except OSError:
                    continue
                found.append(entry_from_stat(entry.name, st, target))
        return found

    async def mkdir(self, path: str, mode: int = 0o755) -> None:
        os.mkdir(path, mode)

    async def symlink(self, target: str, path: str) -> None:
        os.symlink(target, path)

    async def open_read(self, path: str) -> LocalReader:
        return LocalReader(path)

    async def open_write(self, path: str, truncate: bool) -> LocalWriter:
        return LocalWriter(path, truncate)

    async def set_attrs(self, path: str, mode: int | None, mtime: float | None, link: bool = False) -> None:
        if mode is not None and not link:
            os.chmod(path, mode)
        if mtime is not None:
            os.utime(path, (mtime, mtime), follow_symlinks=not link)

    async def read_small(self, path: str, size: int) -> bytes:
        with open(path, "rb", buffering=0) as handle:
            return handle.read(size + 1)

    async def write_small(self, path: str, data: bytes, mode: int, mtime: float) -> None:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fchmod(fd, mode)
            os.utime(fd, (mtime, mtime))
        finally:
            os.close(fd)

    async def flush(self, path: str) -> None:
        """Write what is cached of ``path`` to disk (another process may still be writing it)."""

        def sync() -> None:
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fdatasync(fd)
            finally:
                os.close(fd)

        await asyncio.to_thread(sync)

    async def truncate(self, path: str, size: int) -> None:
        os.truncate(path, size)

    async def rename(self, old: str, new: str) -> None:
        os.replace(old, new)

    async def remove(self, path: str) -> None:
        if os.path.isdir(path) and not os.path.islink(path):
            await asyncio.to_thread(shutil.rmtree, path)
        else:
            os.unlink(path)

    async def sha256(self, path: str, length: int | None = None) -> str:
        return await asyncio.to_thread(sha256_of, path, length)

    async def free_space(self, path: str) -> int | None:
        st = os.statvfs(path)
        return st.f_bavail * st.f_frsize
