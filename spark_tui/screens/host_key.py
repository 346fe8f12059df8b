"""Trust on first use: show a device's host key fingerprint and ask."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Static


class HostKeyScreen(ModalScreen[bool]):
    """Asks whether to trust ``host``'s key; dismisses with True only on an explicit yes."""

    BINDINGS = [
        Binding("y", "answer(True)", "Trust", id="hostkey.trust", tooltip="Trust this key and remember it"),
        Binding("n,escape", "answer(False)", "Refuse", id="hostkey.refuse", tooltip="Do not connect"),
    ]

    def __init__(self, host: str, fingerprint: str) -> None:
        super().__init__()
        self.host = host
        self.fingerprint = fingerprint

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog"):
            yield Label("New host key", classes="dialog-title")
            yield Static(Text(f"The authenticity of {self.host} can't be established yet."))
            yield Static(Text(f"ED25519 key fingerprint is {self.fingerprint}", style="bold"))
            yield Static(
                Text(
                    "Compare it with `ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` run on the device. "
                    "Once trusted, a different key from this host is refused."
                ),
                classes="dialog-note",
            )
            with Horizontal(classes="buttons"):
                yield Button("Trust (y)", variant="primary", id="yes")
                yield Button("Refuse (n)", id="no")

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, trust: bool) -> None:
        self.dismiss(trust)
