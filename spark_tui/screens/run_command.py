"""Run one command on several devices and read each one's output: ``spark-tui exec`` in the TUI."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Input, Label, RichLog, SelectionList, Static

from spark_tui.core.untrusted import display_safe


class RunCommandScreen(ModalScreen[None]):
    """Pick devices (preselected: the tag or the highlighted one), type a command, see outputs.

    The screen does no I/O: it posts ``RunRequested`` and the app feeds lines back with
    ``add_line`` and the end with ``finished``.
    """

    BINDINGS = [Binding("escape", "close", "Close", id="dialog.cancel", tooltip="Close; running commands go on")]

    class RunRequested(Message):
        """Run ``command`` on ``devices``."""

        def __init__(self, command: str, devices: tuple[str, ...], screen: RunCommandScreen) -> None:
            super().__init__()
            self.command = command
            self.devices = devices
            self.screen = screen

    def __init__(self, devices: Sequence[tuple[str, str]], selected: Sequence[str]) -> None:
        """Args: devices: (name, label) pairs; selected: names checked at first."""
        super().__init__()
        self._devices = list(devices)
        self._selected = set(selected)
        self._logs: dict[str, RichLog] = {}

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog wide"):
            yield Label("Run a command on devices", classes="dialog-title")
            yield SelectionList[str](*[(Text(label), name, name in self._selected) for name, label in self._devices], id="targets")
            yield Input(placeholder="command, e.g. nvidia-smi -L   (enter runs it)", id="command")
            yield VerticalScroll(id="outputs")

    def on_mount(self) -> None:
        self.query_one("#command", Input).focus()

    @on(Input.Submitted, "#command")
    def _run(self, event: Input.Submitted) -> None:
        command = event.value.strip()
        targets = tuple(self.query_one(SelectionList).selected)
        if not command or not targets:
            self.notify("Type a command and tick at least one device", severity="warning")
            return
        outputs = self.query_one("#outputs", VerticalScroll)
        outputs.remove_children()
        self._logs = {}
        for name in targets:
            outputs.mount(Static(Text(f"{display_safe(name, 40)} $ {command}", style="bold"), classes="run-title"))
            log = RichLog(max_lines=2000, wrap=False, classes="run-output")
            self._logs[name] = log
            outputs.mount(log)
        self.post_message(self.RunRequested(command, targets, self))

    def add_line(self, device: str, line: str) -> None:
        """One line of ``device``'s output (control characters are shown escaped)."""
        if (log := self._logs.get(device)) is not None:
            log.write(Text(display_safe(line, 2000)))

    def finished(self, device: str, status: int | None, error: str = "") -> None:
        """``device``'s command ended with ``status`` (or could not run: ``error``)."""
        if (log := self._logs.get(device)) is not None:
            note = error or f"exit status {status}"
            log.write(Text(f"── {note}", style="red" if error or status else "green"))

    def action_close(self) -> None:
        self.dismiss(None)
