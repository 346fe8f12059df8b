"""The app's Files routing: the Files screen asks, the files service lists, copies and changes.

Transfers run as the app's workers, so they go on while the user is back in the Devices,
Tunnels or Shell panes; the Files screen of each device is installed once and keeps its queue.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from typing import Any

from textual import work
from textual.message import Message

from spark_tui.core.errors import SparkError
from spark_tui.core.files import Place, TransferProgress, TransferState
from spark_tui.screens.files import FilesScreen
from spark_tui.widgets.file_pane import FilePane


log = logging.getLogger(__name__)


class TransferProgressed(Message):
    """A transfer moved on (posted by its progress callback)."""

    def __init__(self, screen: FilesScreen, progress: TransferProgress) -> None:
        super().__init__()
        self.screen, self.progress = screen, progress

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, TransferProgressed) and message.progress.transfer_id == self.progress.transfer_id \
            and message.progress.state is self.progress.state


@dataclass
class _Job:
    screen: FilesScreen
    sources: list[Place]
    dest: Place
    worker: Any = None
    runs: int = field(default=0)
    retry_waiting: bool = False  # a retry asked for while the cancelled run was still winding down


class FileRouting:
    """Mixed into SparkApp: Files screen <-> FileBrowser and Transfer (needs ``services``, ``profile``)."""

    _file_browser: Any = None
    _jobs: dict[int, _Job]

    def action_open_files(self, name: str | None = None) -> None:
        """Open the Files screen for ``name`` or the highlighted saved device."""
        device = name or (self._selected.name if self._selected and self._selected.profile else None)
        if device is None or self.profile(device) is None:
            self.notify("Select a saved device first", severity="warning")
            return
        key = f"files:{device}"
        if not self.is_screen_installed(key):
            self.install_screen(FilesScreen(device), key)
        self.push_screen(key)

    def _files(self):
        if self._file_browser is None:
            from spark_tui.services.files import FileBrowser

            self._file_browser = FileBrowser(self._connect_for_files)
            self._jobs = {}
        return self._file_browser

    async def _connect_for_files(self, device: str):
        profile = self.profile(device)
        if profile is None:
            raise SparkError(f"no saved device called {device}")
        return await self.services.fleet.connections.connect(profile)

    # -- listing and folder changes --------------------------------------------------------

    def on_file_pane_folder_requested(self, message: FilePane.FolderRequested) -> None:
        self._list(message.pane, Place(message.device, message.path))

    @work(group="files-list", exit_on_error=False)
    async def _list(self, pane: FilePane, place: Place) -> None:
        try:
            path, entries = await self._files().listing(place)
        except SparkError as error:
            pane.show_error(str(error))
            return
        pane.show(path, entries)

    def on_files_screen_make_folder_requested(self, message: FilesScreen.MakeFolderRequested) -> None:
        self._change(message.pane, self._files().make_folder(message.folder, message.name))

    def on_files_screen_rename_requested(self, message: FilesScreen.RenameRequested) -> None:
        self._change(message.pane, self._files().rename(message.target, message.new_name))

    def on_files_screen_delete_requested(self, message: FilesScreen.DeleteRequested) -> None:
        self._change(message.pane, self._files().delete(message.target))

    @work(group="files-change", exit_on_error=False)
    async def _change(self, pane: FilePane, step) -> None:
        try:
            await step
        except SparkError as error:
            self.notify(str(error), title="Files", severity="error", timeout=8)
        self._list(pane, Place(pane.device, pane.path))

    # -- transfers --------------------------------------------------------------------------

    def on_files_screen_copy_requested(self, message: FilesScreen.CopyRequested) -> None:
        self._files()
        from spark_tui.services.files import CopyOptions, Transfer

        job = _Job(message.screen, message.sources, message.dest)
        transfer = self._transfer(job, CopyOptions())
        self._jobs[transfer.progress.transfer_id] = job
        self._start(job, transfer)

    def on_files_screen_retry_requested(self, message: FilesScreen.RetryRequested) -> None:
        from spark_tui.services.files import CopyOptions

        job = self._jobs.get(message.transfer_id)
        if job is None:
            return
        if job.worker is not None and job.worker.is_running:
            # A cancelled run still closing its connections (its OpenSSH master runs at a low
            # priority): retry as soon as it has ended rather than drop the request.
            job.retry_waiting = job.worker.is_cancelled
            return
        self._start(job, self._transfer(job, CopyOptions(resume=True), message.transfer_id))

    def on_files_screen_cancel_requested(self, message: FilesScreen.CancelRequested) -> None:
        job = self._jobs.get(message.transfer_id)
        if job is not None and job.worker is not None and job.worker.is_running:
            job.worker.cancel()

    def _transfer(self, job: _Job, options, transfer_id: int | None = None):
        from spark_tui.services.files import Transfer
        from spark_tui.services.tunnels import master_factory

        device = job.screen.device
        make_master = master_factory(lambda: self.profile(device), self.services.fleet.connections.known_hosts.path)
        return Transfer(
            job.sources, job.dest, connect=lambda: self._connect_for_files(device), recursive=True, options=options,
            make_master=make_master, background=True,
            on_progress=lambda progress: self.post_message(TransferProgressed(job.screen, progress)), transfer_id=transfer_id,
        )

    def _start(self, job: _Job, transfer) -> None:
        job.runs += 1
        job.screen.show_progress(transfer.progress)
        job.worker = self.run_worker(self._run_transfer(job, transfer), group="files-transfer", exit_on_error=False)

    async def _run_transfer(self, job: _Job, transfer) -> None:
        final = None
        try:
            await transfer.run()
        except SparkError as error:
            self.notify(str(error), title="Copy failed", severity="error", timeout=10)
        except Exception as error:  # a bug: say so rather than leave the row "running" forever
            log.exception("transfer %s crashed", transfer.progress.transfer_id)
            self.notify(f"{type(error).__name__}: {error}", title="Copy failed", severity="error", timeout=10)
            final = replace(transfer.progress, state=TransferState.FAILED, error=f"internal error: {type(error).__name__}")
        finally:
            job.screen.show_progress(final or transfer.progress)
            if job.retry_waiting:
                job.retry_waiting = False
                job.worker = None
                self.call_later(self.on_files_screen_retry_requested,
                                FilesScreen.RetryRequested(job.screen, transfer.progress.transfer_id))
        pane = job.screen.remote if job.dest.device else job.screen.local
        self._list(pane, Place(pane.device, pane.path))

    def on_transfer_progressed(self, message: TransferProgressed) -> None:
        message.screen.show_progress(message.progress)
