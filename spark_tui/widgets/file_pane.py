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


SIZE_WIDTH, TIME_WIDTH, NAME_MIN = 10, 16, 12
"""Columns' widths: the name takes what the pane's width leaves (never under ``NAME_MIN``); a
pane too narrow for all three leaves the time out."""
_CHROME = 4
"""Cells of a pane's width that are not its table's columns: its border and the scrollbar."""


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
        self._name_width = 40
        self._with_time = True

    def compose(self) -> ComposeResult:
        yield Static(Text(self.title), classes="file-pane-path")
        table: DataTable = DataTable(cursor_type="row", zebra_stripes=False, classes="file-table")
        self._add_columns(table)
        yield table

    def _add_columns(self, table: DataTable) -> None:
        table.add_column("Name", key="name", width=self._name_width)
        table.add_column("Size", key="size", width=SIZE_WIDTH)
        if self._with_time:
            table.add_column("Modified", key="mtime", width=TIME_WIDTH)

    def on_resize(self, event) -> None:
        """Give the name what the pane's width leaves, so size and time are never cut off (a
        narrow pane shows no time), and the folder's path its end."""
        room = event.size.width - _CHROME
        with_time = room >= NAME_MIN + SIZE_WIDTH + TIME_WIDTH + 3 * 2  # each column has a cell of padding each side
        width = max(NAME_MIN, room - SIZE_WIDTH - (TIME_WIDTH + 2 if with_time else 0) - 4)
        self._show_path()
        if (width, with_time) == (self._name_width, self._with_time):
            return
        self._name_width, self._with_time = width, with_time
        table = self.table
        row = table.cursor_row
        table.clear(columns=True)
        self._add_columns(table)
        self.show(self.path, self.entries)
        if table.row_count:
            table.move_cursor(row=min(row, table.row_count - 1))

    @property
    def table(self) -> DataTable:
        return self.query_one(DataTable)

    def show(self, path: str, entries: list[FileEntry]) -> None:
        """Draw ``entries`` of folder ``path`` (names are escaped, never read as markup)."""
        keep = self.selected.name if self.selected and path == self.path else None
        self.path, self.entries = path, entries
        self._show_path()
        table = self.table
        table.clear()
        table.add_row(Text(".. (parent folder)", style="dim"), *[""] * (2 if self._with_time else 1), key="..")
        for index, entry in enumerate(entries):
            name = display_safe(entry.name, 120)
            if entry.kind is EntryKind.FOLDER:
                label, size = Text(name + "/", style="bold"), ""
            elif entry.kind is EntryKind.LINK:
                label, size = Text(f"{name} -> {display_safe(entry.target, 60)}", style="italic"), ""
            else:
                label, size = Text(name), human_size(entry.size)
            if self._with_time:
                stamp = time.strftime("%Y-%m-%d %H:%M", time.localtime(entry.mtime)) if entry.mtime else ""
                table.add_row(label, size, stamp, key=str(index))
            else:
                table.add_row(label, size, key=str(index))
        if keep is not None:
            for index, entry in enumerate(entries):
                if entry.name == keep:
                    table.move_cursor(row=index + 1)

    def _show_path(self) -> None:
        """The title and folder on one line; a path too long for it keeps its end (the folder
        you are in), cut at the start."""
        path = display_safe(self.path, 200)
        room = self.size.width - _CHROME - len(self.title) - 2
        if 0 < room < len(path):
            path = "\u2026" + path[-(room - 1):] if room > 1 else "\u2026"
        self.query_one(".file-pane-path", Static).update(Text(f"{self.title}: {path}"))

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
