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
from textual.widgets import DataTable, Log, OptionList, Static
from textual.widgets.option_list import Option

from spark_tui.core.apps import AppSpec, AppState, AppStatus


class AppsScreen(ModalScreen[None]):
    """A device's apps: start, stop, open in the browser, keep running after quit.

    | Key | Binding id | Does |
    | :- | :- | :- |
    | s | apps.start | Start the highlighted app (script, port, tunnel, browser). |
    | x | apps.stop | Stop it (SIGTERM to its process group, SIGKILL after a grace period). |
    | b | apps.browse | Open its local URL in the browser. |
    | l | apps.leave | Keep it running on the device when spark-tui quits (toggle). |
    | n | apps.new | Add an app from NVIDIA's playbooks (Open WebUI, ComfyUI, Ollama, vLLM, JupyterLab). |
    | escape | apps.close | Close this dialog (apps keep running). |
    """

    BINDINGS = [
        Binding("s", "start", "Start", id="apps.start", tooltip="Start the highlighted app"),
        Binding("x", "stop", "Stop", id="apps.stop", tooltip="Stop the app and its whole process group"),
        Binding("b", "browse", "Browser", id="apps.browse", tooltip="Open the app's local URL"),
        Binding("l", "leave", "Leave running", id="apps.leave", tooltip="Keep it running after spark-tui quits (toggle)"),
        Binding("n", "new", "Add preset", id="apps.new", tooltip="Add an app from NVIDIA's playbooks"),
        Binding("escape", "dismiss", "Close", id="apps.close", tooltip="Close (apps keep running)"),
    ]

    class Requested(Message):
        """The user asked to ``start``, ``stop``, ``browse`` or ``leave`` app ``app`` of ``device``,
        or to ``add`` the preset named ``app``."""

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
            yield Static("s start · x stop · b browser · l leave running after quit · n add a preset · esc close", classes="dialog-help")

    def on_mount(self) -> None:
        self.reload(self.apps)
        self.query_one(DataTable).focus()

    def reload(self, apps: tuple[AppSpec, ...]) -> None:
        """Show ``apps`` (the device's apps as saved now)."""
        self.apps = apps
        table = self.query_one(DataTable)
        table.clear()
        for app in apps:
            table.add_row(*self._cells(app), key=app.name)
        for empty in self.query("#apps-empty"):
            empty.display = not apps
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
            table.update_cell(status.app, column, cell, update_width=True)

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

    def action_new(self) -> None:
        def chosen(name: str | None) -> None:
            if name:
                self.post_message(self.Requested("add", self.device, name))

        self.app.push_screen(PresetScreen(), chosen)


class PresetScreen(ModalScreen[str | None]):
    """Pick one of the app presets; dismisses with its name (``None`` on escape)."""

    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel", id="presets.cancel", tooltip="Add nothing")]

    def compose(self) -> ComposeResult:
        from spark_tui.core.app_presets import APP_PRESETS

        with Vertical(id="presets-dialog", classes="dialog"):
            yield Static("Add an app from NVIDIA's playbooks (its script is saved in the profile file: edit it there)", classes="dialog-title")
            options = [Option(Text(f"{p.name:<12} port {p.port:<6} {'script' if p.has_script else 'tunnel only'}"), id=p.name) for p in APP_PRESETS]
            yield OptionList(*options, id="presets-list")

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)
