"""Ask for one name (a new folder, a rename)."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static


class NamePrompt(ModalScreen[str | None]):
    """Dismisses with the name typed (enter) or ``None`` (escape)."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="name.cancel", tooltip="Close without a name")]

    def __init__(self, title: str, question: str, value: str = "") -> None:
        super().__init__()
        self.title_text, self.question, self.value = title, question, value

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog"):
            yield Label(self.title_text, classes="dialog-title")
            yield Static(Text(self.question))
            yield Input(value=self.value, id="name")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.dismiss(event.value.strip() or None)

    def action_cancel(self) -> None:
        self.dismiss(None)
