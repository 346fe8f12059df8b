"""The Tunnels pane: every tunnel of every device with live state, connections, bytes, rate."""

from __future__ import annotations

from collections.abc import Iterable

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import DataTable, Static

from spark_tui.core.models import TunnelKind, TunnelState, TunnelStats
from spark_tui.core.untrusted import display_safe
from spark_tui.widgets.status_style import COMPACT_BELOW, human_bytes, state_text, theme_color

_ARROWS = {TunnelKind.LOCAL: "→", TunnelKind.REMOTE: "←", TunnelKind.DYNAMIC: "⇄"}
_COLUMNS = (("", "state"), ("TUNNEL", "name"), ("LOCAL → DEVICE", "forward"), ("CONN", "conn"), ("TRAFFIC ↑/↓", "traffic"), ("NOW", "now"))


def tunnel_key(stats: TunnelStats) -> str:
    """Row key of a tunnel: device and tunnel name."""
    return f"{stats.device}\x00{stats.spec.name}"


class TunnelList(Vertical, can_focus=False):
    """Tunnels, live.

    | Key | Binding id | Does |
    | :- | :- | :- |
    | enter / space | tunnel.toggle | Start or stop the highlighted tunnel. |
    | n | tunnel.new | New tunnel on the selected device (presets and detected ports). |
    | b | tunnel.browse | Open a web tunnel in the browser. |
    | delete | tunnel.remove | Stop and forget a saved tunnel. |
    """

    BINDINGS = [
        Binding("space", "toggle", "Start/Stop", id="tunnel.toggle", tooltip="Start or stop the highlighted tunnel"),
        Binding("n", "new", "New tunnel", id="tunnel.new", tooltip="Forward a preset or a detected remote port"),
        Binding("b", "browse", "Open in browser", id="tunnel.browse", tooltip="Open the web app behind this tunnel"),
        Binding("delete", "remove", "Forget", id="tunnel.remove", tooltip="Stop and forget this tunnel", show=False),
    ]

    class _TunnelMessage(Message):
        def __init__(self, stats: TunnelStats) -> None:
            super().__init__()
            self.stats = stats

    class ToggleRequested(_TunnelMessage):
        """Start ``stats.spec`` if it is stopped or failed; stop it otherwise."""

    class BrowseRequested(_TunnelMessage):
        """Open the tunnel's web app."""

    class RemoveRequested(_TunnelMessage):
        """Stop and forget the tunnel."""

    class NewRequested(Message):
        """The user wants a new tunnel on the selected device."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._stats: dict[str, TunnelStats] = {}
        self._order: list[str] = []
        self._compact = False

    def compose(self) -> ComposeResult:
        yield DataTable(id="tunnel-table", cursor_type="row")
        yield Static(
            "No tunnels. Connect a device, then press n for DGX Dashboard, JupyterLab, Ollama, vLLM …",
            id="tunnel-empty",
            classes="empty-state",
        )

    def on_mount(self) -> None:
        self._rebuild()
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self._rebuild())  # cells carry theme colours

    def on_resize(self) -> None:
        compact = self.size.width < COMPACT_BELOW
        if compact != self._compact:
            self._compact = compact
            self._rebuild()

    def _columns(self) -> tuple[tuple[str, str], ...]:
        return _COLUMNS[:4] if self._compact else _COLUMNS

    def _rebuild(self) -> None:
        """Lay the table out again (columns depend on the width), keeping the rows."""
        table = self.query_one(DataTable)
        table.clear(columns=True)
        for label, key in self._columns():
            table.add_column(label, key=key)
        for key in self._order:
            table.add_row(*self._cells(self._stats[key]), key=key)
        self._refresh_empty()

    def show(self, stats: Iterable[TunnelStats]) -> None:
        """Replace or add rows for ``stats`` (other devices' rows are kept)."""
        table = self.query_one(DataTable)
        for item in stats:
            key = tunnel_key(item)
            cells = self._cells(item)
            if key in self._stats:
                for (_label, column), value in zip(self._columns(), cells):
                    table.update_cell(key, column, value)
            else:
                table.add_row(*cells, key=key)
                self._order.append(key)
            self._stats[key] = item
        self._refresh_empty()

    def forget(self, device: str, name: str | None = None) -> None:
        """Drop the rows of ``device`` (only tunnel ``name`` when given)."""
        table = self.query_one(DataTable)
        for key in [k for k, s in self._stats.items() if s.device == device and (name is None or s.spec.name == name)]:
            table.remove_row(key)
            self._order.remove(key)
            del self._stats[key]
        self._refresh_empty()

    def rows_of(self, device: str) -> list[TunnelStats]:
        """The tunnels shown for ``device``."""
        return [s for s in self._stats.values() if s.device == device]

    @property
    def highlighted(self) -> TunnelStats | None:
        """The tunnel under the cursor."""
        table = self.query_one(DataTable)
        if not self._order or not 0 <= table.cursor_row < table.row_count:
            return None
        key = table.coordinate_to_cell_key((table.cursor_row, 0)).row_key.value
        return self._stats.get(key)

    def _cells(self, s: TunnelStats) -> tuple:
        variables = self.app.theme_variables
        spec = s.spec
        local = str(s.local_port) if not spec.exposed else f"{spec.bind_address}:{s.local_port}"
        remote = str(spec.remote_port) if spec.remote_host in ("localhost", "127.0.0.1") else f"{spec.remote_host}:{spec.remote_port}"
        if spec.kind is TunnelKind.DYNAMIC:
            forward = f"{local} SOCKS"
        elif spec.kind is TunnelKind.REMOTE:
            forward = f"{local} ← device:{spec.remote_port}"
        else:
            forward = f"{local} → {remote}"
        note = display_safe(s.last_error, 80) if s.last_error else ""  # a refusal reason may quote the device
        if spec.exposed:
            note = f"EXPOSED on {spec.bind_address}. {note}".strip()
        up = s.state is TunnelState.UP
        muted = theme_color(variables, "foreground-muted")
        cells = (
            state_text(s.state.value, variables, compact=self._compact),
            Text(display_safe(spec.name if self._compact else f"{s.device}/{spec.name}", 80), end=""),
            Text(forward, end=""),
            Text(str(s.connections), justify="right", end=""),
            Text(f"{human_bytes(s.bytes_up)} / {human_bytes(s.bytes_down)}", justify="right", end=""),
            # Up: the download rate, then any warning; otherwise why it is not up.
            Text(
                " ".join(part for part in (f"↓ {human_bytes(s.rate_down)}/s" if up else "", note[:80]) if part),
                style=theme_color(variables, "error") if spec.exposed or s.state is TunnelState.FAILED else (None if up else muted),
                end="",
            ),
        )
        return cells[: len(self._columns())]

    def _refresh_empty(self) -> None:
        self.query_one("#tunnel-empty").display = not self._order
        self.query_one(DataTable).display = bool(self._order)

    def _post(self, message_type: type[_TunnelMessage]) -> None:
        if (stats := self.highlighted) is not None:
            self.post_message(message_type(stats))

    def action_toggle(self) -> None:
        self._post(self.ToggleRequested)

    def action_browse(self) -> None:
        self._post(self.BrowseRequested)

    def action_remove(self) -> None:
        self._post(self.RemoveRequested)

    def action_new(self) -> None:
        self.post_message(self.NewRequested())

    @on(DataTable.RowSelected, "#tunnel-table")
    def _selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_toggle()
