"""The Devices pane's list: saved profiles and discovered hosts, one row per device."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import DataTable, Input, Static

from spark_tui.core.device_listing import filter_rows, sort_rows
from spark_tui.core.untrusted import display_safe
from spark_tui.core.devices import DeviceRow
from spark_tui.core.models import ConnectionState, ConnectionStatus
from spark_tui.widgets.status_style import COMPACT_BELOW, state_text, theme_color

SORTS = ("name", "state", "last seen")
_STATE_ORDER = {"connected": 0, "connecting": 1, "reconnecting": 1, "online": 2, "failed": 3, "lost": 3, "offline": 4}


def _safe(text: str, limit: int = 40) -> str:
    """Names come off the network: never let them carry markup or control characters."""
    return display_safe(text, limit)


class DeviceList(Vertical, can_focus=False):
    """Devices, live: saved profiles merged with what mDNS finds.

    | Key | Binding id | Does |
    | :- | :- | :- |
    | enter | device.connect | Connect to the highlighted device. |
    | x | device.disconnect | Disconnect it. |
    | a | device.add | Add a device by host name or IP. |
    | s | device.save | Save a discovered device as a profile. |
    | delete | device.remove | Forget a saved device. |
    | / | device.filter | Filter by name, host or tag. |
    | o | device.sort | Cycle sorting: name, state, last seen. |
    | r | device.refresh | Probe again and re-browse. |
    """

    BINDINGS = [
        Binding("enter", "connect", "Connect", id="device.connect", tooltip="Connect to the highlighted device"),
        Binding("x", "disconnect", "Disconnect", id="device.disconnect", tooltip="Close this device's connection", show=False),
        Binding("a", "add", "Add", id="device.add", tooltip="Add a device by host name or IP"),
        Binding("s", "save", "Save", id="device.save", tooltip="Save a discovered device as a profile"),
        Binding("delete", "remove", "Forget", id="device.remove", tooltip="Forget a saved device", show=False),
        Binding("slash", "filter", "Filter", id="device.filter", tooltip="Filter by name, host or tag"),
        Binding("o", "sort", "Sort", id="device.sort", tooltip="Sort by name, state or last seen", show=False),
        Binding("r", "refresh", "Refresh", id="device.refresh", tooltip="Probe devices and browse again", show=False),
    ]

    sort_by: reactive[str] = reactive("name")
    """Current sort: one of ``SORTS``."""
    filter_text: reactive[str] = reactive("")
    """Case-insensitive filter over name, host and tags."""

    class _DeviceMessage(Message):
        def __init__(self, device: DeviceRow) -> None:
            super().__init__()
            self.device = device

    class ConnectRequested(_DeviceMessage):
        """The user asked to connect to ``device``."""

    class DisconnectRequested(_DeviceMessage):
        """The user asked to disconnect ``device``."""

    class SaveRequested(_DeviceMessage):
        """The user asked to save the discovered ``device`` as a profile."""

    class RemoveRequested(_DeviceMessage):
        """The user asked to forget the saved ``device``."""

    class Highlighted(_DeviceMessage):
        """The cursor moved to ``device``."""

    class AddRequested(Message):
        """The user asked to add a device by hand."""

    class RefreshRequested(Message):
        """The user asked to probe and browse again."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._rows: tuple[DeviceRow, ...] = ()
        self._states: Mapping[str, ConnectionStatus] = {}
        self._shown: list[DeviceRow] = []
        self._compact = False
        self._drawn: dict[str, tuple] = {}  # row key -> cells as last drawn, in table order
        self.empty_text = "No devices yet."

    def compose(self) -> ComposeResult:
        # The filter field is mounted the first time / is pressed: not at the first paint.
        table: DataTable = DataTable(id="device-table", cursor_type="row", zebra_stripes=False)
        yield table
        yield Static("", id="device-empty", classes="empty-state")
        yield Static("", id="device-detail")

    def on_mount(self) -> None:
        self._redraw()
        # Cells are drawn in the theme's colours; a new theme must redraw them all (the
        # cell-diff redraw compares data, which a theme change leaves alone).
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self._redraw())

    def on_resize(self) -> None:
        compact = self.size.width < COMPACT_BELOW
        if compact != self._compact:
            self._compact = compact
            self._redraw()

    # -- state in -----------------------------------------------------------------------

    def show(self, rows: Sequence[DeviceRow], states: Mapping[str, ConnectionStatus], empty_text: str = "") -> None:
        """Show ``rows`` with connection ``states`` (keyed by profile name)."""
        self._rows = tuple(rows)
        self._states = dict(states)
        if empty_text:
            self.empty_text = empty_text
        if self.is_mounted:
            self._redraw(layout=False)

    @property
    def highlighted(self) -> DeviceRow | None:
        """The device under the cursor, if any."""
        table = self.query_one(DataTable)
        if not self._shown or table.cursor_row < 0 or table.cursor_row >= len(self._shown):
            return None
        return self._shown[table.cursor_row]

    def state_of(self, row: DeviceRow) -> str:
        """The state word the row shows: a connection state, else online/offline/unreachable."""
        status = self._states.get(row.name) if row.profile else None
        if status is not None and status.state is not ConnectionState.DISCONNECTED:
            return status.state.value
        if row.reachable is False:
            return "unreachable"
        return "online" if row.advertised or row.reachable else "offline"

    # -- drawing ------------------------------------------------------------------------

    def _visible(self) -> list[DeviceRow]:
        rows = filter_rows(self._rows, self.filter_text)
        if self.sort_by == "state":
            # Connected devices first: the connection state is the app's, on top of discovery's.
            return sorted(sort_rows(rows, "state"), key=lambda r: _STATE_ORDER.get(self.state_of(r), 5))
        return sort_rows(rows, "last_seen" if self.sort_by == "last seen" else "name")

    def _detail(self, row: DeviceRow | None) -> Text:
        """Details of the highlighted device, with the last error and its hint in place."""
        if row is None:
            return Text("")
        variables = self.app.theme_variables
        muted = theme_color(variables, "foreground-muted")
        text = Text(end="")
        parts = []
        if row.profile and row.profile.demo:
            parts.append("demo: this computer")
        elif row.model:
            parts.append(row.model)
        parts.append("saved" if row.profile else "discovered, not saved (s saves it)")
        if row.profile and row.advertised:
            parts.append("seen on the network")
        if row.name_only:
            parts.append("found by name only (advertises no SSH service)")
        if row.profile and row.profile.user:
            parts.append(f"user {_safe(row.profile.user, 32)}")
        if row.reachable and row.latency_ms is not None:
            parts.append(f"SSH answers in {row.latency_ms:.0f} ms")
        elif row.reachable is False:
            parts.append("SSH port not answering")
        if row.profile and row.profile.tags:
            parts.append("#" + " #".join(_safe(t, 20) for t in row.profile.tags))
        if self._compact:
            parts.insert(0, self.state_of(row))
        text.append(" · ".join(parts), style=muted)
        if row.addresses:
            text.append("\n" + _safe(", ".join(row.addresses), 120), style=muted)
        status = self._states.get(row.name) if row.profile else None
        if status is not None and status.state in (ConnectionState.FAILED, ConnectionState.LOST) and status.message:
            text.append("\n" + _safe(status.message, 200), style=theme_color(variables, "error"))
            if status.hint:
                text.append("\n→ " + _safe(status.hint, 200), style=theme_color(variables, "warning"))
        return text

    def _cells(self, row: DeviceRow) -> tuple[str, str, str, bool]:
        """What a row shows, as plain values: equal tuples need no redraw."""
        host = row.host if row.port == 22 else f"{row.host}:{row.port}"
        name = _safe(row.name, 32) + (" (name only)" if row.name_only else "")
        return (self.state_of(row), name, _safe(host, 40), row.profile is not None)

    def _render_cells(self, cells: tuple[str, str, str, bool]) -> tuple[Text, Text, Text]:
        state, name, host, saved = cells
        return (
            state_text(state, self.app.theme_variables, compact=self._compact),
            Text(name, style="bold" if saved else "italic", end=""),
            Text(host, end=""),
        )

    def _redraw(self, *, layout: bool = True) -> None:
        """Show the current rows. Cheap when little changed: a refresh that keeps the same rows
        in the same order only rewrites the cells that differ (200 idle devices, probed every
        few seconds, must not rebuild the table each time)."""
        tables = self.query(DataTable)
        if not tables:
            return  # being torn down (the app is closing): nothing to draw on
        table = tables.first()
        previous = self.highlighted
        self._shown = self._visible()
        cells = {row.key: self._cells(row) for row in self._shown}
        if not layout and [r.key for r in self._shown] == list(self._drawn):
            for key, value in cells.items():
                if self._drawn[key] != value:
                    for column, rendered in zip(("state", "name", "host"), self._render_cells(value)):
                        table.update_cell(key, column, rendered)
        else:
            table.clear(columns=True)
            table.add_column("", key="state", width=1 if self._compact else 14)
            table.add_column("DEVICE", key="name")
            table.add_column("HOST", key="host")
            for row in self._shown:
                table.add_row(*self._render_cells(cells[row.key]), key=row.key)
            if previous is not None:
                index = next((i for i, r in enumerate(self._shown) if r.key == previous.key), None)
                if index is not None:
                    table.move_cursor(row=index, animate=False)
        self._drawn = cells
        self.query_one("#device-detail", Static).update(self._detail(self.highlighted))
        empty = self.query_one("#device-empty", Static)
        empty.update(Text(self.empty_text if not self._shown else "", end=""))
        empty.display = not self._shown
        table.display = bool(self._shown)

    def watch_sort_by(self) -> None:
        if self.is_mounted:
            self._redraw()
            self.notify(f"Sorted by {self.sort_by}", timeout=1.5)

    def watch_filter_text(self) -> None:
        if self.is_mounted:
            self._redraw()

    # -- keys -----------------------------------------------------------------------------

    def _post_for_highlighted(self, message_type: type[_DeviceMessage]) -> None:
        if (row := self.highlighted) is not None:
            self.post_message(message_type(row))

    def action_connect(self) -> None:
        self._post_for_highlighted(self.ConnectRequested)

    def action_disconnect(self) -> None:
        self._post_for_highlighted(self.DisconnectRequested)

    def action_save(self) -> None:
        row = self.highlighted
        if row is not None and row.profile is not None:
            self.notify(f"{row.name} is already saved", timeout=2)
            return
        self._post_for_highlighted(self.SaveRequested)

    def action_remove(self) -> None:
        row = self.highlighted
        if row is not None and row.profile is not None:
            self.post_message(self.RemoveRequested(row))

    def action_add(self) -> None:
        self.post_message(self.AddRequested())

    def action_refresh(self) -> None:
        self.post_message(self.RefreshRequested())

    def action_sort(self) -> None:
        self.sort_by = SORTS[(SORTS.index(self.sort_by) + 1) % len(SORTS)]

    async def action_filter(self) -> None:
        field = self._filter_field()
        if field is None:
            field = Input(placeholder="filter: name, host or tag  (esc clears)", id="device-filter")
            await self.mount(field, before=self.query_one(DataTable))
        field.remove_class("hidden")
        field.focus()

    def _filter_field(self) -> Input | None:
        found = self.query("#device-filter")
        return found.first(Input) if found else None

    @on(Input.Changed, "#device-filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.filter_text = event.value

    @on(Input.Submitted, "#device-filter")
    def _filter_done(self) -> None:
        self.query_one(DataTable).focus()

    def key_escape(self) -> None:
        field = self._filter_field()
        if field is not None and (field.has_focus or self.filter_text):
            field.value = ""
            field.add_class("hidden")
            self.query_one(DataTable).focus()

    @on(DataTable.RowSelected, "#device-table")
    def _selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_connect()

    @on(DataTable.RowHighlighted, "#device-table")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        self.query_one("#device-detail", Static).update(self._detail(self.highlighted))
        self._post_for_highlighted(self.Highlighted)
