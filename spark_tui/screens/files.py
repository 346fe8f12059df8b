"""The Files screen: this computer and a device side by side, a transfer queue below.

It composes two :class:`FilePane` and a :class:`TransferQueue` and turns keys into requests
the app carries out (listing, copying, new folder, rename, delete, cancel, retry).
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Static

from spark_tui.core.files import Place
from spark_tui.core.untrusted import display_safe
from spark_tui.widgets.file_pane import FilePane, human_size
from spark_tui.widgets.transfer_queue import TransferQueue


class FilesScreen(Screen):
    """Copy between this computer and ``device``.

    | Key | Action |
    | :- | :- |
    | tab | Switch between the panes and the queue |
    | enter / backspace | Open a folder / go up |
    | c or F5 | Copy the highlighted entry to the other pane's folder |
    | n or F7 | New folder |
    | r or F6 | Rename |
    | d, delete or F8 | Delete (asks first) |
    | g | Read the folders again |
    | x | Cancel the highlighted transfer |
    | R | Retry it (resumes its part files) |
    | escape | Back to the dashboard (transfers keep running) |
    """

    BINDINGS = [
        Binding("c,f5", "copy", "Copy", id="files.copy", tooltip="Copy the highlighted entry to the other side"),
        Binding("n,f7", "new_folder", "New folder", id="files.new_folder", tooltip="Make a folder here"),
        Binding("r,f6", "rename", "Rename", id="files.rename", tooltip="Rename the highlighted entry"),
        Binding("d,delete,f8", "delete", "Delete", id="files.delete", tooltip="Delete the highlighted entry (asks first)"),
        Binding("g", "reload", "Reload", id="files.reload", tooltip="List both folders again", show=False),
        Binding("x", "cancel_transfer", "Cancel", id="files.cancel", tooltip="Stop the highlighted transfer (its part stays)"),
        Binding("R", "retry_transfer", "Retry", id="files.retry", tooltip="Run the highlighted transfer again, resuming"),
        Binding("escape", "app.pop_screen", "Back", id="files.back", tooltip="Back to the dashboard; transfers go on"),
    ]

    class CopyRequested(Message):
        def __init__(self, screen: FilesScreen, sources: list[Place], dest: Place) -> None:
            super().__init__()
            self.screen, self.sources, self.dest = screen, sources, dest

    class MakeFolderRequested(Message):
        def __init__(self, pane: FilePane, folder: Place, name: str) -> None:
            super().__init__()
            self.pane, self.folder, self.name = pane, folder, name

    class RenameRequested(Message):
        def __init__(self, pane: FilePane, target: Place, new_name: str) -> None:
            super().__init__()
            self.pane, self.target, self.new_name = pane, target, new_name

    class DeleteRequested(Message):
        def __init__(self, pane: FilePane, target: Place) -> None:
            super().__init__()
            self.pane, self.target = pane, target

    class CancelRequested(Message):
        def __init__(self, transfer_id: int) -> None:
            super().__init__()
            self.transfer_id = transfer_id

    class RetryRequested(Message):
        def __init__(self, screen: FilesScreen, transfer_id: int) -> None:
            super().__init__()
            self.screen, self.transfer_id = screen, transfer_id

    def __init__(self, device: str) -> None:
        super().__init__()
        self.device = device
        self.local = FilePane(None, "This computer", id="files-local")
        self.remote = FilePane(device, display_safe(device, 40), id="files-remote")
        self.queue = TransferQueue(id="files-queue")

    def compose(self) -> ComposeResult:
        with Horizontal(id="files-panes"):
            yield self.local
            yield self.remote
        yield Static("", id="files-summary")
        yield self.queue
        yield Footer()

    def on_mount(self) -> None:
        # Posted from each pane's own pump: a message stops bubbling at the node that sent it.
        self.local.call_later(self.local.request, ".")
        self.remote.call_later(self.remote.request, "~")
        self.local.table.focus()

    def action_reload(self) -> None:
        self.local.call_later(self.local.request, self.local.path)
        self.remote.call_later(self.remote.request, self.remote.path)

    # -- which pane -------------------------------------------------------------------------

    def _active(self) -> FilePane | None:
        focused = self.focused
        for pane in (self.local, self.remote):
            if focused is not None and pane in focused.ancestors_with_self:
                return pane
        return None

    def _place(self, pane: FilePane, path: str) -> Place:
        return Place(pane.device, path)

    # -- actions ------------------------------------------------------------------------

    def action_copy(self) -> None:
        pane = self._active()
        entry = pane.selected if pane else None
        if pane is None or entry is None:
            self.notify("Highlight a file or folder in one of the panes first", severity="warning")
            return
        other = self.remote if pane is self.local else self.local
        self.post_message(self.CopyRequested(self, [self._place(pane, pane.child(entry))], self._place(other, other.path)))

    def action_new_folder(self) -> None:
        pane = self._active()
        if pane is None:
            return
        from spark_tui.screens.name_prompt import NamePrompt

        def made(name: str | None) -> None:
            if name:
                self.post_message(self.MakeFolderRequested(pane, self._place(pane, pane.path), name))

        self.app.push_screen(NamePrompt("New folder", f"A new folder in {display_safe(pane.path, 120)}"), made)

    def action_rename(self) -> None:
        pane = self._active()
        entry = pane.selected if pane else None
        if pane is None or entry is None:
            return
        from spark_tui.screens.name_prompt import NamePrompt

        def renamed(name: str | None) -> None:
            if name and name != entry.name:
                self.post_message(self.RenameRequested(pane, self._place(pane, pane.child(entry)), name))

        self.app.push_screen(NamePrompt("Rename", f"New name for {display_safe(entry.name, 120)}", entry.name), renamed)

    def action_delete(self) -> None:
        pane = self._active()
        entry = pane.selected if pane else None
        if pane is None or entry is None:
            return
        from spark_tui.screens.confirm import ConfirmScreen

        what = f"{'the folder ' if entry.kind.value == 'folder' else ''}{display_safe(entry.name, 120)}"
        where = "this computer" if pane.device is None else display_safe(pane.device, 40)

        def answered(yes: bool | None) -> None:
            if yes:
                self.post_message(self.DeleteRequested(pane, self._place(pane, pane.child(entry))))

        self.app.push_screen(ConfirmScreen("Delete", f"Delete {what} on {where}? This cannot be undone."), answered)

    def action_cancel_transfer(self) -> None:
        selected = self.queue.selected
        if selected is not None:
            self.post_message(self.CancelRequested(selected.transfer_id))

    def action_retry_transfer(self) -> None:
        selected = self.queue.selected
        if selected is not None:
            self.post_message(self.RetryRequested(self, selected.transfer_id))

    # -- the app's answers ----------------------------------------------------------------

    def show_progress(self, progress) -> None:
        """Update the queue's row and the total line."""
        self.queue.show(progress)
        done, total = self.queue.totals()
        text = f"Transfers: {human_size(done)} of {human_size(total)}" if total else "Transfers: none running"
        self.query_one("#files-summary", Static).update(text)
