"""Trust on first use: show a device's host key fingerprint and ask."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Static

from spark_tui.core.untrusted import display_safe


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
        # OfferedFingerprint carries the key's type; a plain string (old callers) says nothing.
        self.key_type = display_safe(getattr(fingerprint, "key_type", "") or "Host", 20)
        self.key_file = {"ED25519": "ed25519", "ECDSA": "ecdsa", "RSA": "rsa", "DSA": "dsa"}.get(self.key_type, "*")

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog"):
            yield Label("New host key", classes="dialog-title")
            yield Static(Text(f"The authenticity of {display_safe(self.host, 80)} can't be established yet."))
            yield Static(Text(f"{self.key_type} key fingerprint is {display_safe(self.fingerprint, 80)}", style="bold"))
            yield Static(
                Text(
                    f"Compare it with `ssh-keygen -lf /etc/ssh/ssh_host_{self.key_file}_key.pub` run on the device. "
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
