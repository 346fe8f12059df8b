"""The Containers dialog of one device: docker containers, their ports, and what to do with them.

Renders and posts intents only; ``app_apps.py`` talks to docker over SSH and calls
:meth:`ContainersScreen.show` / :meth:`ContainersScreen.problem` with the answer. One row per
published port (a container without one gets one row), so one key tunnels to that port.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import DataTable, Static

from spark_tui.core.apps import ContainerInfo, PublishedPort


class ContainersScreen(ModalScreen[None]):
    """Docker containers on a device.

    | Key | Binding id | Does |
    | :- | :- | :- |
    | enter | containers.tunnel | Tunnel to the highlighted published port (and open the browser for HTTP). |
    | s / x / R | containers.start / .stop / .restart | docker start / stop / restart. |
    | l | containers.logs | Follow its logs in a shell tab (``docker logs -f``). |
    | r | containers.refresh | Read the list again. |
    | escape | containers.close | Close. |
    """

    BINDINGS = [
        Binding("enter", "tunnel", "Tunnel", id="containers.tunnel", tooltip="Tunnel to this published port, open the browser for HTTP"),
        Binding("s", "act('start')", "Start", id="containers.start", tooltip="docker start"),
        Binding("x", "act('stop')", "Stop", id="containers.stop", tooltip="docker stop"),
        Binding("R", "act('restart')", "Restart", id="containers.restart", tooltip="docker restart"),
        Binding("l", "logs", "Logs", id="containers.logs", tooltip="Follow its logs in a shell tab"),
        Binding("r", "refresh", "Refresh", id="containers.refresh", tooltip="Read the containers again"),
        Binding("escape", "dismiss", "Close", id="containers.close", tooltip="Close"),
    ]

    class Requested(Message):
        """``what`` (refresh, start, stop, restart, logs, tunnel) for ``container`` of ``device``."""

        def __init__(self, what: str, device: str, container: str = "", port: PublishedPort | None = None) -> None:
            super().__init__()
            self.what = what
            self.device = device
            self.container = container
            self.port = port

    def __init__(self, device: str) -> None:
        super().__init__()
        self.device = device
        self.rows: list[tuple[ContainerInfo, PublishedPort | None]] = []

    def compose(self) -> ComposeResult:
        with Vertical(id="containers-dialog", classes="dialog wide"):
            yield Static(Text(f"Containers on {self.device}"), classes="dialog-title")
            yield Static(Text("reading docker ps ..."), id="containers-note")
            table: DataTable = DataTable(id="containers-table", cursor_type="row")
            table.add_columns("Name", "Image", "State", "Status", "Port", "GPUs")
            yield table
            yield Static("enter tunnel+browser · s start · x stop · R restart · l logs · r refresh · esc close", classes="dialog-help")

    def on_mount(self) -> None:
        self.query_one(DataTable).focus()
        self.action_refresh()

    def show(self, containers: tuple[ContainerInfo, ...]) -> None:
        """The containers docker listed (text already made safe)."""
        self.rows = [(c, p) for c in containers for p in (c.ports or (None,))]
        table = self.query_one(DataTable)
        table.clear()
        for c, port in self.rows:
            table.add_row(Text(c.name), Text(c.image), Text(c.state), Text(c.status), Text(str(port) if port else "-"), Text(c.gpus or "-"))
        note = f"{len(containers)} container(s)" if containers else "no containers on this device"
        self.query_one("#containers-note", Static).update(Text(note))

    def problem(self, message: str, hint: str) -> None:
        """Docker cannot be used (missing, no permission, daemon down): say which and how to fix."""
        self.rows = []
        self.query_one(DataTable).clear()
        self.query_one("#containers-note", Static).update(Text(f"{message}\n{hint}", style="bold"))

    def _current(self) -> tuple[ContainerInfo, PublishedPort | None] | None:
        row = self.query_one(DataTable).cursor_row
        return self.rows[row] if 0 <= row < len(self.rows) else None

    def action_refresh(self) -> None:
        self.post_message(self.Requested("refresh", self.device))

    def action_act(self, what: str) -> None:
        current = self._current()
        if current is not None:
            self.post_message(self.Requested(what, self.device, current[0].name))

    def action_logs(self) -> None:
        self.action_act("logs")

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()  # the table takes enter for itself: selecting a row is the tunnel key
        self.action_tunnel()

    def action_tunnel(self) -> None:
        current = self._current()
        if current is None:
            return
        if current[1] is None:
            self.notify("This container publishes no port on the device", severity="warning")
            return
        self.post_message(self.Requested("tunnel", self.device, current[0].name, current[1]))
