"""The Apps dialog of one device: its saved apps, their state, and the log of the highlighted one.

Renders and posts intents only; the app's routing (``app_apps.py``) starts and stops apps and
pushes their status and output back here. Device text arrives made safe and is drawn as plain
text (never as markup).
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import DataTable, Log, Static

from spark_tui.core.apps import AppSpec, AppState, AppStatus


class AppsScreen(ModalScreen[None]):
    """A device's apps: start, stop, open in the browser, keep running after quit.

    | Key | Binding id | Does |
    | :- | :- | :- |
    | s | apps.start | Start the highlighted app (script, port, tunnel, browser). |
    | x | apps.stop | Stop it (SIGTERM to its process group, SIGKILL after a grace period). |
    | b | apps.browse | Open its local URL in the browser. |
    | l | apps.leave | Keep it running on the device when spark-tui quits (toggle). |
    | escape | apps.close | Close this dialog (apps keep running). |
    """

    BINDINGS = [
        Binding("s", "start", "Start", id="apps.start", tooltip="Start the highlighted app"),
        Binding("x", "stop", "Stop", id="apps.stop", tooltip="Stop the app and its whole process group"),
        Binding("b", "browse", "Browser", id="apps.browse", tooltip="Open the app's local URL"),
        Binding("l", "leave", "Leave running", id="apps.leave", tooltip="Keep it running after spark-tui quits (toggle)"),
        Binding("escape", "dismiss", "Close", id="apps.close", tooltip="Close (apps keep running)"),
    ]

    class Requested(Message):
        """The user asked to ``start``, ``stop``, ``browse`` or ``leave`` app ``app`` of ``device``."""

        def __init__(self, what: str, device: str, app: str) -> None:
            super().__init__()
            self.what = what
            self.device = device
            self.app = app

    def __init__(self, device: str, apps: tuple[AppSpec, ...], statuses: dict[str, AppStatus], logs: dict[str, tuple[str, ...]]) -> None:
        super().__init__()
        self.device = device
        self.apps = apps
        self.statuses = dict(statuses)
        self.logs = {name: list(lines) for name, lines in logs.items()}

    def compose(self) -> ComposeResult:
        with Vertical(id="apps-dialog", classes="dialog"):
            yield Static(Text(f"Apps on {self.device}"), classes="dialog-title")
            if not self.apps:
                yield Static(Text(f"No apps saved for {self.device}. Add one with: spark-tui app add {self.device} APP --port P "
                                  "(or --preset open-webui), or edit [[devices.NAME.apps]] in the profile file."), id="apps-empty")
            table: DataTable = DataTable(id="apps-table", cursor_type="row")
            table.add_columns("App", "Port", "State", "URL / last message")
            yield table
            yield Log(id="apps-log", max_lines=500)
            yield Static("s start · x stop · b browser · l leave running after quit · esc close", classes="dialog-help")

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for app in self.apps:
            table.add_row(*self._cells(app), key=app.name)
        table.focus()
        self._show_log()

    def _cells(self, app: AppSpec) -> tuple[Text, ...]:
        status = self.statuses.get(app.name)
        state = status.state.value if status else "stopped"
        if status and status.leave_running and status.state is AppState.RUNNING:
            state += " (kept)"
        detail = status.local_url or status.message if status else ("tunnel only" if not app.has_script else "")
        return Text(app.name), Text(str(app.port)), Text(state), Text(detail or "")

    @property
    def highlighted(self) -> str | None:
        table = self.query_one(DataTable)
        if not self.apps or table.cursor_row < 0 or table.cursor_row >= len(self.apps):
            return None
        return self.apps[table.cursor_row].name

    def update_status(self, status: AppStatus) -> None:
        """A status change from the app service."""
        self.statuses[status.app] = status
        app = next((a for a in self.apps if a.name == status.app), None)
        if app is None:
            return
        table = self.query_one(DataTable)
        for column, cell in zip(table.columns, self._cells(app)):
            table.update_cell(status.app, column, cell)

    def add_line(self, app: str, line: str) -> None:
        """A line the app's script printed."""
        self.logs.setdefault(app, []).append(line)
        if app == self.highlighted:
            self.query_one(Log).write_line(line)

    def on_data_table_row_highlighted(self, _event: DataTable.RowHighlighted) -> None:
        self._show_log()

    def _show_log(self) -> None:
        log = self.query_one(Log)
        log.clear()
        name = self.highlighted
        if name is not None:
            log.write_lines(self.logs.get(name, [])[-500:])

    def _request(self, what: str) -> None:
        name = self.highlighted
        if name is not None:
            self.post_message(self.Requested(what, self.device, name))

    def action_start(self) -> None:
        self._request("start")

    def action_stop(self) -> None:
        self._request("stop")

    def action_browse(self) -> None:
        self._request("browse")

    def action_leave(self) -> None:
        self._request("leave")
