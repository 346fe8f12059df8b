"""The app's shell routing: shell tabs ask for sessions, the Fleet opens them, bytes flow."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import work

from spark_tui.core.errors import SparkError
from spark_tui.widgets.shell_tabs import ShellTabs

if TYPE_CHECKING:
    from spark_tui.widgets.terminal.view import TerminalView


class ShellRouting:
    """Mixed into SparkApp: shell tabs <-> ShellSession (needs ``services``, ``profile``)."""

    def action_open_shell(self, name: str | None = None) -> None:
        device = name or (self._selected.name if self._selected and self._selected.profile else None)
        if device is None:
            self.notify("Select a saved device first", severity="warning")
            return
        self.shell_tabs.open(device)

    def action_external_terminal(self) -> None:
        """Open the selected device in the system terminal with OpenSSH."""
        row = self._selected
        if row is None or row.profile is None:
            self.notify("Select a saved device first", severity="warning")
            return
        from spark_tui.services.shell import open_in_terminal

        try:
            command = open_in_terminal(row.profile, self.config.devices)
        except SparkError as error:
            self.notify(f"{error.message}\n{error.hint}", title="No external terminal", severity="error", timeout=8)
            return
        self.notify(f"Opened {row.name} with: {command[0]}")

    def action_run_command(self) -> None:
        """Open "run a command on devices" with the highlighted device ticked."""
        from spark_tui.screens.run_command import RunCommandScreen

        devices = [(p.name, f"{p.name}  {' '.join('#' + t for t in p.tags)}".rstrip()) for p in self.config.devices]
        if not devices:
            self.notify("No saved devices yet: press a to add one", severity="warning")
            return
        row = self._selected
        self.push_screen(RunCommandScreen(devices, [row.name] if row and row.profile else []))

    def on_run_command_screen_run_requested(self, message) -> None:
        for name in message.devices:
            self._run_on(message.screen, name, message.command)

    @work(group="exec", exit_on_error=False)
    async def _run_on(self, screen, name: str, command: str) -> None:
        profile = self.profile(name)
        if profile is None:
            screen.finished(name, None, f"no saved device called {name}")
            return
        try:
            status = await self.services.fleet.run_command(profile, command, lambda line: screen.add_line(name, line))
        except SparkError as error:
            screen.finished(name, None, f"{error.message} {error.hint}".strip())
            return
        screen.finished(name, status)

    # Named handlers, not @on: Textual collects @on handlers only from MessagePump subclasses.
    def on_shell_tabs_session_requested(self, message: ShellTabs.SessionRequested) -> None:
        self._run_shell(message)

    @work(group="shells", exit_on_error=False)
    async def _run_shell(self, message: ShellTabs.SessionRequested) -> None:
        profile = self.profile(message.device)
        tabs = self.shell_tabs
        if profile is None:
            tabs.failed(message.tab, f"No saved device called {message.device}")
            return
        tab = message.tab

        def ended(status: int | None) -> None:
            self._sessions.pop(tab, None)
            tabs.exited(tab, status)

        try:
            self._sessions[tab] = await self.services.fleet.open_shell(
                profile, cols=message.cols, rows=message.rows, on_output=lambda data: tabs.feed(tab, data), on_exit=ended,
                command=message.command,
            )
        except SparkError as error:
            tabs.failed(tab, f"{error.message} {error.hint}".strip())

    def on_terminal_view_input(self, message: TerminalView.Input) -> None:
        tab = message.control.id.removesuffix("-term")
        session = self._sessions.get(tab)
        if session is not None:
            session.write(message.data)
        elif message.data == b"\r":
            self.shell_tabs.reconnect(tab)

    def on_terminal_view_resized(self, message: TerminalView.Resized) -> None:
        session = self._sessions.get(message.control.id.removesuffix("-term"))
        if session is not None:
            session.resize(message.cols, message.rows)

    def on_terminal_view_link_clicked(self, message: TerminalView.LinkClicked) -> None:
        """A hyperlink from a device: opened in the browser only once the user said yes."""
        import webbrowser

        from spark_tui.core.untrusted import display_safe
        from spark_tui.screens.confirm import ConfirmScreen

        url = message.url

        def answered(yes: bool | None) -> None:
            if yes:
                webbrowser.open(url)

        question = f"The device's output links to:\n\n{display_safe(url, 300)}\n\nOpen it in your browser?"
        self.push_screen(ConfirmScreen("Open link", question), answered)

    def on_terminal_view_leave_requested(self) -> None:
        self.device_list.query_one("#device-table").focus()

    def on_shell_tabs_close_requested(self, message: ShellTabs.CloseRequested) -> None:
        session = self._sessions.pop(message.tab, None)
        if session is not None:
            self.run_worker(session.close(), group="shells", exit_on_error=False)

