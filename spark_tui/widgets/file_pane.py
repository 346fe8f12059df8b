"""One side of the Files screen: a folder's entries, walked with the keyboard. No I/O: it asks."""

from __future__ import annotations

import posixpath
import time

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import DataTable, Static

from spark_tui.core.files import EntryKind, FileEntry
from spark_tui.core.untrusted import display_safe


def human_size(size: float) -> str:
    """``1.5 MiB`` style."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return ""


class FilePane(Vertical):
    """A folder listing of this computer (``device is None``) or of a device.

    | Key | Action |
    | :- | :- |
    | enter | Open the highlighted folder |
    | backspace | Go to the parent folder |
    """

    BINDINGS = [
        Binding("backspace", "up", "Up", id="files.up", tooltip="Go to the parent folder"),
    ]

    class FolderRequested(Message):
        """The user wants ``path`` listed in this pane."""

        def __init__(self, pane: FilePane, device: str | None, path: str) -> None:
            super().__init__()
            self.pane, self.device, self.path = pane, device, path

    def __init__(self, device: str | None, title: str, *, id: str | None = None) -> None:
        super().__init__(id=id, classes="file-pane")
        self.device = device
        self.title = title
        self.path = "~"
        self.entries: list[FileEntry] = []

    def compose(self) -> ComposeResult:
        yield Static(Text(self.title), classes="file-pane-path")
        table: DataTable = DataTable(cursor_type="row", zebra_stripes=False, classes="file-table")
        table.add_column("Name", key="name", width=40)
        table.add_column("Size", key="size", width=10)
        table.add_column("Modified", key="mtime", width=16)
        yield table

    @property
    def table(self) -> DataTable:
        return self.query_one(DataTable)

    def show(self, path: str, entries: list[FileEntry]) -> None:
        """Draw ``entries`` of folder ``path`` (names are escaped, never read as markup)."""
        keep = self.selected.name if self.selected and path == self.path else None
        self.path, self.entries = path, entries
        self.query_one(".file-pane-path", Static).update(Text(f"{self.title}: {display_safe(path, 200)}"))
        table = self.table
        table.clear()
        table.add_row(Text(".. (parent folder)", style="dim"), "", "", key="..")
        for index, entry in enumerate(entries):
            name = display_safe(entry.name, 120)
            if entry.kind is EntryKind.FOLDER:
                label, size = Text(name + "/", style="bold"), ""
            elif entry.kind is EntryKind.LINK:
                label, size = Text(f"{name} -> {display_safe(entry.target, 60)}", style="italic"), ""
            else:
                label, size = Text(name), human_size(entry.size)
            stamp = time.strftime("%Y-%m-%d %H:%M", time.localtime(entry.mtime)) if entry.mtime else ""
            table.add_row(label, size, stamp, key=str(index))
        if keep is not None:
            for index, entry in enumerate(entries):
                if entry.name == keep:
                    table.move_cursor(row=index + 1)

    def show_error(self, text: str) -> None:
        """Say why the folder could not be listed (text is escaped)."""
        self.query_one(".file-pane-path", Static).update(Text(f"{self.title}: {display_safe(text, 300)}", style="bold red"))

    @property
    def selected(self) -> FileEntry | None:
        """The highlighted entry (``None`` on the parent row or an empty folder)."""
        table = self.table
        if not self.entries or table.row_count == 0 or table.cursor_row <= 0:
            return None
        index = table.cursor_row - 1
        return self.entries[index] if index < len(self.entries) else None

    def child(self, entry: FileEntry) -> str:
        """The full path of ``entry`` in this pane's folder."""
        return posixpath.join(self.path, entry.name)

    def request(self, path: str) -> None:
        """Ask the app to list ``path`` here."""
        self.post_message(self.FolderRequested(self, self.device, path))

    def action_up(self) -> None:
        self.request(posixpath.dirname(self.path.rstrip("/")) or "/")

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if event.row_key.value == "..":
            self.action_up()
            return
        entry = self.entries[int(event.row_key.value)]
        if entry.kind is EntryKind.FOLDER or (entry.kind is EntryKind.LINK):
            self.request(self.child(entry))
