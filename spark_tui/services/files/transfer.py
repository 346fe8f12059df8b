"""One copy from start to end: sources walked, folders made, files moved, link drops survived.

A :class:`Transfer` copies between this computer and one device (or locally). Remote work rides
a :class:`DeviceLink` (the tunnels' link, with the same backoff): when the connection drops, every
file in flight stops, the link comes back, and each continues from its verified part.
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import logging
import posixpath
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from spark_tui.core.errors import SparkError
from spark_tui.core.files import EntryKind, Place, TransferProgress, TransferState
from spark_tui.core.untrusted import display_safe
from spark_tui.services.files import bundle, placing
from spark_tui.services.files.bundle import Bundle
from spark_tui.services.files.copier import CopyOptions, Meter, copy_file
from spark_tui.services.files.errors import CopyError, LinkDropped, first_of, shown
from spark_tui.services.files.gnu_tar import local_gnu_tar
from spark_tui.services.files.local_side import LocalSide
from spark_tui.services.files.openssh_path import OpenSSHBytes
from spark_tui.services.files.tree import SOMEWHERE, Item, walk, walk_here
from spark_tui.services.files.wants_master import BIG_FILE, may_move_much

if TYPE_CHECKING:
    from spark_tui.services.files.remote_side import RemoteSide

FILES_AT_ONCE = 48
"""Files copied concurrently (small files are latency-bound: keep many in flight)."""
REQUESTS_AT_ONCE = 64
"""SFTP requests in flight over the whole transfer."""
RECONNECT_TIMEOUT = 300.0
"""How long a transfer waits for a dropped link to come back before it fails."""

_ids = itertools.count(1)
log = logging.getLogger(__name__)


class Transfer:
    """Copy ``sources`` to ``dest``; at most one of the places may be on a device.

    Args:
        sources: What to copy.
        dest: Where to; a folder that exists receives the sources by name.
        connect: Returns the SSH connection to the device (``ConnectionService.connect``).
        recursive: Copy folders.
        options: Resume and checksum behaviour.
        on_progress: Called with a :class:`TransferProgress` at most ~10 times a second, and at
            every change of state.
        reconnect_timeout: Seconds to wait for a dropped link.
        make_master: The tunnels' OpenSSH master factory for this device (``master_factory``):
            with it big files' bytes go through OpenSSH's ssh through the master (see ``openssh_path``).
        early_master: An unstarted OpenSSH master that needs no connection (``direct_master``),
            started before the first login when the copy may use one.
        transfer_id: Keep this id (a retry of an earlier transfer).
        background: Run OpenSSH's processes at a lower priority (the dashboard's transfers:
            keystrokes come first).
    """

    def __init__(
        self,
        sources: list[Place],
        dest: Place,
        *,
        connect: Callable[[], Awaitable] | None = None,
        recursive: bool = False,
        options: CopyOptions | None = None,
        on_progress: Callable[[TransferProgress], None] | None = None,
        reconnect_timeout: float = RECONNECT_TIMEOUT,
        make_master=None,
        early_master=None,
        transfer_id: int | None = None,
        background: bool = False,
    ) -> None:
        devices = {p.device for p in [*sources, dest] if p.device}
        if len({s.device for s in sources}) > 1:
            raise CopyError("the sources must all be on this computer or all on the device", "copy them in two runs")
        if len(devices) > 1 or (dest.device and any(s.device for s in sources)):
            raise CopyError("copying between two devices, or within one, is not supported", "copy through this computer")
        self.device = next(iter(devices), None)
        if self.device and connect is None:
            raise ValueError("a device copy needs connect")
        self.sources, self.dest, self.recursive = sources, dest, recursive
        self.options = options or CopyOptions()
        self._connect, self._on_progress, self._timeout = connect, on_progress, reconnect_timeout
        label = f"{', '.join(map(str, sources))} -> {dest}"
        self._fields = dict(vars(TransferProgress(transfer_id or next(_ids), display_safe(label, 200))))
        self._window_bytes = 0
        self._link = None
        self._remote: RemoteSide | None = None
        self._remote_lock = asyncio.Lock()
        self._nice = 10 if background else 0
        self._openssh = (OpenSSHBytes(make_master, nice=self._nice, early=early_master)
                         if make_master is not None and self.device else None)
        self._gate = asyncio.Semaphore(REQUESTS_AT_ONCE)
        self._reported = 0.0
        self._window: collections.deque[tuple[float, int]] = collections.deque()
        self._file_bytes: dict[str, int] = {}
        self._retrying = False
        self._warming: asyncio.Future | None = None
        self._streamed: set[str] = set()
        self._walked: asyncio.Future | None = None

    @property
    def files_by_openssh(self) -> int:
        """Files whose bytes OpenSSH moved (a folder's stream counts once) (the rest went over asyncssh)."""
        return self._openssh.completed if self._openssh is not None else 0

    # ------------------------------------------------------------------ progress

    @property
    def progress(self) -> TransferProgress:
        """Where the transfer stands now."""
        return TransferProgress(**self._fields)

    def _report(self, force: bool = False, **changes) -> None:
        self._fields.update(changes)
        now = time.monotonic()
        if self._on_progress and (force or now - self._reported >= 0.1):
            self._reported = now
            self._on_progress(self.progress)

    def _bytes(self, path: str, file_done: int, file_size: int, sent: int) -> None:
        """Count bytes of ``path``: ``file_done`` of it are at the destination, ``sent`` just crossed."""
        now = time.monotonic()
        window = self._window
        window.append((now, sent))
        self._window_bytes += sent
        while now - window[0][0] > 3.0:
            self._window_bytes -= window.popleft()[1]
        fields = self._fields
        span = now - window[0][0]
        if span > 0:
            fields["rate"] = (self._window_bytes - window[0][1]) / span
        previous = self._file_bytes.get(path, 0)  # a file restarted after a drop counts once
        self._file_bytes[path] = file_done
        fields["done"] += file_done - previous
        fields["sent"] += sent
        self._report(current=path, file_done=file_done, file_size=file_size)

    # ------------------------------------------------------------------ sides

    async def _remote_side(self, stale: RemoteSide | None = None) -> RemoteSide:
        async with self._remote_lock:
            if self._remote is not None and self._remote is not stale:
                return self._remote
            if self._link is None:
                from spark_tui.services.tunnels import DeviceLink

                self._link = DeviceLink(
                    self._connect, self.device, wanted=lambda: True,
                    on_lost=lambda why: self._report(True, state=TransferState.RECONNECTING, notes=(why,)),
                    on_retry_failed=lambda why: self._report(True, notes=(display_safe(why, 200),)),
                    on_restored=self._restored, on_crash=lambda error: None,
                )
                conn = await self._link.ensure()
                if self._may_move_much():
                    self._warm(conn)  # its login overlaps SFTP's start and the walk
            else:
                self._report(True, state=TransferState.RECONNECTING)
                conn = await self._link.wait_up(self._timeout)
                if conn is None:
                    raise CopyError(f"the connection to {self.device} dropped and did not come back in {self._timeout:.0f} s",
                                    "retry to resume the copy")
            from spark_tui.services.files.remote_side import RemoteSide  # asyncssh: loaded once the early master runs

            self._remote = await RemoteSide.open(conn, self.device)
            self._report(True, state=TransferState.RUNNING)
            return self._remote

    def _may_move_much(self) -> bool:
        """Whether the master may be needed (see :func:`may_move_much`)."""
        return self._openssh is not None and may_move_much(self.sources, self.dest, self.recursive)

    def _warm(self, conn) -> None:
        """Start the OpenSSH master in the background (once) for the bytes to come."""
        if self._openssh is None or self._warming is not None:
            return
        self._warming = asyncio.ensure_future(self._openssh.prepare(conn))
        self._warming.add_done_callback(lambda f: f.cancelled() or f.exception())

    async def _restored(self, conn) -> None:
        self._report(True, notes=("reconnected",))

    async def _on_remote(self, work: Callable[[LocalSide | RemoteSide, LocalSide | RemoteSide], Awaitable]):
        """Run ``work(src_side, dst_side)``; after a link drop, reconnect and run it again."""
        while True:
            remote = await self._remote_side() if self.device else None
            src = remote if self.sources[0].device else LocalSide()
            dst = remote if self.dest.device else LocalSide()
            try:
                return await work(src, dst)
            except LinkDropped:
                if not self.device:
                    raise
                await self._remote_side(stale=remote)

    # ------------------------------------------------------------------ the copy

    async def run(self) -> TransferProgress:
        """Do the whole copy.

        Returns:
            The final progress (state DONE).

        Raises:
            CopyError: a file could not be copied (its name and the reason in the message).
            ConnectError: the device could not be reached at the start.
            asyncio.CancelledError: cancelled; part files stay for a later resume.
        """
        self._report(True, state=TransferState.RUNNING)
        try:
            if self._may_move_much():
                self._openssh.begin()
                await asyncio.sleep(0)  # its ssh forked before asyncssh's import and login
            if not self.sources[0].device:  # walked here while the device logs in
                self._walked = asyncio.ensure_future(asyncio.to_thread(walk_here, [s.path for s in self.sources], self.recursive))
                self._walked.add_done_callback(lambda f: f.cancelled() or f.exception())
                if self.dest.device and self.recursive:  # which tar writes a folder's stream: asked meanwhile too
                    asyncio.ensure_future(local_gnu_tar()).add_done_callback(lambda f: f.cancelled() or f.exception())
            if not await self._by_master_only():
                await self._general()
        except SparkError as error:  # CopyError, or ConnectError when the device cannot be reached
            self._report(True, state=TransferState.FAILED, error=str(error))
            raise
        except asyncio.CancelledError:
            self._report(True, state=TransferState.CANCELLED)
            raise
        finally:
            if self._walked is not None:
                self._walked.cancel()  # the walk's thread ends by itself; its result is not wanted any more
            if self._openssh is not None:
                await self._openssh.close()
            if self._link is not None:
                await self._link.close(close_connection=False)
                self._link = None
        self._report(True, state=TransferState.DONE, current="", file_done=0, file_size=0)
        return self.progress

    async def _general(self) -> None:
        """The copy over asyncssh (an OpenSSH master, when there is one, moving bytes)."""
        plan = await self._on_remote(self._plan)
        self._report(True, total=sum(i.entry.size for i in plan), files_total=sum(i.entry.kind is EntryKind.FILE for i in plan))
        bundles = await self._on_remote(lambda src, dst: self._bundles(src, dst, plan))
        if bundles or any(i.entry.size >= BIG_FILE for i in plan):
            self._warm(self._remote.conn)
        streamed = {id(i) for b in bundles for i in (b.top, *b.items)}
        rest = [i for i in plan if id(i) not in streamed]
        await self._make_folders(rest)
        for each in list(bundles):
            try:
                await self._on_remote(lambda src, dst, each=each: self._send_bundle(dst, each))
            except bundle.NoTar as why:
                log.info("no tar on %s (%s): the folder goes file by file", self.device, why)
                bundles.remove(each)
                await self._make_folders([each.top, *each.items])
                rest += [each.top, *each.items]
        await self._copy_entries(rest + [i for b in bundles for i in b.big()])
        for each in bundles:
            await self._on_remote(lambda src, dst, each=each: placing.place_bundle(dst, each))
        await self._on_remote(lambda src, dst: placing.finish_folders(dst, plan, REQUESTS_AT_ONCE))

    async def _by_master_only(self) -> bool:
        """New folders, or one file, up through the early master alone (see ``master_only`` and
        ``file_by_master``); False when this copy cannot go that way, or a link drop left it to
        the general path to finish."""
        openssh = self._openssh
        if not (openssh is not None and openssh.has_early and self.dest.device and self._walked is not None
                and not self.options.checksum):
            return False
        from spark_tui.services.files import file_by_master, master_only

        walked = await self._walked
        one_file = len(walked) == 1 and len(walked[0]) == 1 and walked[0][0].entry.kind is EntryKind.FILE
        if not (one_file or self.recursive):
            return False
        self._report(True, total=sum(i.entry.size for g in walked for i in g),
                     files_total=sum(i.entry.kind is EntryKind.FILE for g in walked for i in g))

        def where(path: str) -> str:
            return f"{self.device}:{path}"

        try:
            if one_file:
                went = await file_by_master.send(openssh, self.dest.path, walked[0][0], self._bytes, where)
            else:
                went = await master_only.send(openssh, self.dest.path, walked, self._stream_sent, self._nice, where)
        except LinkDropped as why:
            log.info("the master dropped during the copy (%s): it goes on over a new login", why)
            self._retrying = True  # staging folders and parts are continued
            return False
        if not went:
            self._count_again()  # a declined stream may have been counted before the device said no
        elif one_file:
            self._report(files_done=1)
        return went

    def _count_again(self) -> None:
        """Start counting from nothing (what a declined try counted was never kept)."""
        self._file_bytes.clear()
        self._streamed.clear()
        self._window.clear()
        self._window_bytes = 0
        self._report(True, done=0, sent=0, files_done=0, rate=0.0)

    async def _plan(self, src, dst) -> list[Item]:
        dest = await dst.resolve(self.dest.path)
        try:
            into = await dst.is_folder(dest)
        except OSError:
            into = False
        if len(self.sources) > 1 and not into:
            exists = await dst.lstat(dest)
            why = "not a folder" if exists else "no such folder"
            raise CopyError(f"cannot copy several sources to {shown(dst.where(dest))}: {why}")
        walked = await self._walked if self._walked is not None else None
        plan: list[Item] = []
        for index, source in enumerate(self.sources):
            path = await src.resolve(source.path)
            target = posixpath.join(dest, posixpath.basename(path.rstrip("/")) or "root") if into else dest
            if walked is None:
                plan.extend(await walk(src, path, target, self.recursive))
            else:
                plan.extend(replace(item, dest=target + item.dest[len(SOMEWHERE):]) for item in walked[index])
        return plan

    async def _bundles(self, src, dst, plan: list[Item]) -> list[Bundle]:
        """The source folders that go up as one tar stream: those whose target does not exist yet
        (an existing one is merged into file by file). Checksummed copies go file by file."""
        if not (dst.remote and not src.remote and self.recursive and not self.options.checksum):
            return []
        found = []
        for group in bundle.groups(plan):
            top = group[0]
            if top.entry.kind is EntryKind.FOLDER and len(group) > 1 and await dst.lstat(top.dest) is None:
                found.append(Bundle(top, group[1:]))
        return found

    def _stream_sent(self, entry: Item, moved: bool) -> None:
        """A file is in a folder's stream (``moved`` False: a resumed staging folder had it)."""
        size = entry.entry.size
        self._bytes(entry.src, size, size, size if moved else 0)
        if entry.src not in self._streamed:  # sent again after a drop: counted once
            self._streamed.add(entry.src)
            self._report(files_done=self._fields["files_done"] + 1)

    async def _send_bundle(self, dst, item: Bundle) -> None:
        try:
            await bundle.send(dst, item, self.options.resume or self._retrying, self._stream_sent, self._openssh, self._nice)
        except LinkDropped:
            self._retrying = True  # the staging folder left by the drop is continued
            raise

    async def _make_folders(self, plan: list[Item]) -> None:
        folders = [i for i in plan if i.entry.kind is EntryKind.FOLDER]
        for depth, level in itertools.groupby(sorted(folders, key=lambda i: i.depth), key=lambda i: i.depth):
            level = list(level)
            await self._on_remote(lambda src, dst, level=level: asyncio.gather(*(placing.make_folder(dst, i) for i in level)))

    async def _copy_entries(self, plan: list[Item]) -> None:
        items = iter(i for i in plan if i.entry.kind in (EntryKind.FILE, EntryKind.LINK))
        meter = Meter(self._bytes)

        async def lane() -> None:
            for item in items:
                await self._on_remote(lambda src, dst, item=item: self._copy_one(src, dst, item, meter))
                counted = item.entry.kind is EntryKind.FILE and item.src not in self._streamed
                self._report(files_done=self._fields["files_done"] + counted)

        try:
            async with asyncio.TaskGroup() as group:
                for _ in range(FILES_AT_ONCE):
                    group.create_task(lane())
        except BaseExceptionGroup as group:
            raise first_of(group) from None

    async def _copy_one(self, src, dst, item: Item, meter: Meter) -> None:
        if item.entry.kind is EntryKind.LINK:
            await placing.copy_link(dst, item)
            return
        if self.options.resume:
            there = await dst.lstat(item.dest)
            if there is not None and there.kind is EntryKind.FILE and there.size == item.entry.size \
                    and int(there.mtime) == int(item.entry.mtime):
                self._bytes(item.src, item.entry.size, item.entry.size, 0)
                return
        options = replace(self.options, resume=True) if self._retrying else self.options
        try:
            await copy_file(src, dst, item.src, item.dest, item.entry, options, self._gate, meter, self._openssh)
        except LinkDropped:
            self._retrying = True  # from now on parts left by the drop are continued
            raise
