"""The folder operations behind the Files screen: list, new folder, rename, delete, on either side."""

from __future__ import annotations

import posixpath
from collections.abc import Awaitable, Callable

from spark_tui.core.files import FileEntry, Place
from spark_tui.services.files.errors import CopyError, LinkDropped, failure, shown
from spark_tui.services.files.local_side import LocalSide
from spark_tui.services.files.remote_side import RemoteSide


class FileBrowser:
    """Lists and changes folders on this computer and on devices.

    Args:
        connect: ``connect(device_name)`` returns that device's SSH connection (the app's
            shared ``ConnectionService``).
    """

    def __init__(self, connect: Callable[[str], Awaitable]) -> None:
        self._connect = connect
        self._remotes: dict[str, RemoteSide] = {}
        self._local = LocalSide()

    async def _side(self, device: str | None, fresh: bool = False):
        if device is None:
            return self._local
        side = self._remotes.get(device)
        if side is None or fresh or side.conn.is_closed():
            side = await RemoteSide.open(await self._connect(device), device)
            self._remotes[device] = side
        return side

    async def _run(self, device: str | None, work):
        try:
            return await work(await self._side(device))
        except LinkDropped:
            return await work(await self._side(device, fresh=True))

    async def listing(self, place: Place) -> tuple[str, list[FileEntry]]:
        """The folder's absolute path and its entries, folders first, then by name.

        Raises:
            CopyError: it cannot be read (names it and says why).
            ConnectError: the device cannot be reached.
        """
        async def work(side):
            path = await side.resolve(place.path)
            try:
                entries = await side.listdir(path)
            except OSError as error:
                raise failure("list", side.where(path), error) from None
            entries.sort(key=lambda e: (e.kind.value != "folder", e.name.lower()))
            return path, entries

        return await self._run(place.device, work)

    async def make_folder(self, folder: Place, name: str) -> str:
        """Create ``name`` in ``folder``; returns its path.

        Raises:
            CopyError: bad name, it exists, or no permission.
        """
        _check_name(name)

        async def work(side):
            path = posixpath.join(await side.resolve(folder.path), name)
            try:
                await side.mkdir(path, 0o755)
            except OSError as error:
                raise failure("create", side.where(path), error) from None
            return path

        return await self._run(folder.device, work)

    async def rename(self, target: Place, new_name: str) -> str:
        """Give ``target`` the name ``new_name`` in the same folder; refuses to overwrite.

        Raises:
            CopyError: bad name, the new name is taken, or no permission.
        """
        _check_name(new_name)

        async def work(side):
            path = await side.resolve(target.path)
            new = posixpath.join(posixpath.dirname(path), new_name)
            if await side.lstat(new) is not None:
                raise CopyError(f"cannot rename to {shown(side.where(new))}: already exists")
            try:
                await side.rename(path, new)
            except OSError as error:
                raise failure("rename", side.where(path), error) from None
            return new

        return await self._run(target.device, work)

    async def delete(self, target: Place) -> None:
        """Remove a file, symlink or (with everything in it) a folder.

        Raises:
            CopyError: it cannot be removed.
        """
        async def work(side):
            path = await side.resolve(target.path)
            try:
                await side.remove(path)
            except OSError as error:
                raise failure("delete", side.where(path), error) from None

        await self._run(target.device, work)


def _check_name(name: str) -> None:
    if not name or name in (".", "..") or "/" in name or "\0" in name:
        raise CopyError(f"{shown(name)!r} is not a valid name", "a name has no / and is not . or ..")
