"""The Files screen's transfer queue: each copy's state, file and total progress. No I/O."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import DataTable

from spark_tui.core.files import TransferProgress, TransferState
from spark_tui.core.untrusted import display_safe
from spark_tui.widgets.file_pane import human_size

STATE_STYLE = {
    TransferState.DONE: "green",
    TransferState.FAILED: "bold red",
    TransferState.CANCELLED: "yellow",
    TransferState.RECONNECTING: "yellow",
}


def _percent(done: int, total: int) -> str:
    return f"{100 * done // total}%" if total else "-"


class TransferQueue(DataTable):
    """One row per transfer, newest last; the highlighted row is what cancel and retry act on."""

    def on_mount(self) -> None:
        self.cursor_type = "row"
        for label, key, width in (("State", "state", 12), ("Copy", "label", 36), ("File", "file", 28),
                                  ("File %", "file_pct", 7), ("Total", "total", 22), ("Rate", "rate", 11)):
            self.add_column(label, key=key, width=width)
        self.progress: dict[int, TransferProgress] = {}

    def show(self, progress: TransferProgress) -> None:
        """Add or update the row of ``progress.transfer_id``."""
        key = str(progress.transfer_id)
        self.progress[progress.transfer_id] = progress
        state = progress.error if progress.state is TransferState.FAILED else progress.state.value
        cells = (
            Text(display_safe(state, 200), style=STATE_STYLE.get(progress.state, "")),
            Text(progress.label),
            Text(display_safe(progress.current.rsplit("/", 1)[-1], 60)),
            _percent(progress.file_done, progress.file_size),
            f"{_percent(progress.done, progress.total)} of {human_size(progress.total)} ({progress.files_done}/{progress.files_total})",
            f"{human_size(progress.rate)}/s" if progress.state is TransferState.RUNNING else "",
        )
        if key in self.rows:
            for column, value in zip(("state", "label", "file", "file_pct", "total", "rate"), cells):
                self.update_cell(key, column, value)
        else:
            self.add_row(*cells, key=key)

    @property
    def selected(self) -> TransferProgress | None:
        """The highlighted transfer."""
        if self.row_count == 0:
            return None
        key = self.coordinate_to_cell_key((self.cursor_row, 0)).row_key.value
        return self.progress.get(int(key))

    def totals(self) -> tuple[int, int]:
        """Bytes done and to do over the transfers still running."""
        live = [p for p in self.progress.values() if p.state in (TransferState.RUNNING, TransferState.RECONNECTING, TransferState.QUEUED)]
        return sum(p.done for p in live), sum(p.total for p in live)
