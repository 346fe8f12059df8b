"""The add-device dialog: the NVIDIA Sync flow (name, host, user, password once) in a modal."""

from __future__ import annotations

import getpass
import re
from dataclasses import dataclass

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from spark_tui.core.secret import Secret
from spark_tui.core.untrusted import display_safe_lines

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")


@dataclass(frozen=True)
class AddDeviceForm:
    """What the user typed. ``password`` is only held until onboarding ends; never saved."""

    name: str
    host: str
    user: str
    port: int
    identity_file: str
    password: Secret

    def __repr__(self) -> str:  # keep the password out of tracebacks and logs
        return f"AddDeviceForm(name={self.name!r}, host={self.host!r}, user={self.user!r}, port={self.port})"


class AddDeviceScreen(ModalScreen[None]):
    """Add a device: typed by hand or prefilled from a discovered one.

    With a password, the app runs the onboarding (generate a key, install it, verify, forget
    the password) and reports each step into this dialog; without one it saves the profile
    as typed (for keys the user already has).
    """

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="dialog.cancel", tooltip="Close without saving")]

    class Submitted(Message):
        """The user confirmed the form."""

        def __init__(self, form: AddDeviceForm) -> None:
            super().__init__()
            self.form = form

    def __init__(self, *, name: str = "", host: str = "", user: str = "", port: int = 22, note: str = "") -> None:
        super().__init__()
        self._prefill = (name, host, user or getpass.getuser(), port)
        self._note = note
        self.busy = False

    def compose(self) -> ComposeResult:
        name, host, user, port = self._prefill
        with Vertical(id="dialog", classes="dialog"):
            yield Label("Add a device", classes="dialog-title")
            if self._note:
                yield Static(Text(display_safe_lines(self._note, 600, 300)), classes="dialog-note")
            yield Label("Name")
            yield Input(name, placeholder="spark-1a2b", id="name")
            yield Label("Host name or IP")
            yield Input(host, placeholder="spark-1a2b.local or 192.168.1.20", id="host")
            with Horizontal(classes="row"):
                with Vertical():
                    yield Label("User")
                    yield Input(user, id="user")
                with Vertical(classes="narrow"):
                    yield Label("Port")
                    yield Input(str(port), id="port", type="integer")
            yield Label("Password (used once to install a key, never stored)")
            yield Input(password=True, placeholder="leave empty to use an existing key", id="password")
            yield Label("Existing private key (optional)")
            yield Input(placeholder="~/.ssh/id_ed25519", id="identity")
            yield VerticalScroll(id="steps")
            with Horizontal(classes="buttons"):
                yield Button("Add", variant="primary", id="add")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#name" if not self._prefill[0] else "#password", Input).focus()

    def _value(self, field: str) -> str:
        return self.query_one(f"#{field}", Input).value.strip()

    def show_step(self, text: str, *, error: bool = False) -> None:
        """Append one progress line (``error`` lines are red and re-enable the form)."""
        steps = self.query_one("#steps", VerticalScroll)
        line = display_safe_lines(text, 1000, 300)  # steps quote the device (fingerprints, its errors)
        steps.mount(Static(Text(("✕ " if error else "• ") + line), classes="step-error" if error else "step"))
        steps.scroll_end(animate=False)
        if error:
            self.busy = False
            self.query_one("#add", Button).disabled = False

    @on(Input.Submitted)
    @on(Button.Pressed, "#add")
    def _submit(self) -> None:
        if self.busy:
            return
        name, host = self._value("name"), self._value("host")
        problem = ""
        if not _NAME.match(name):
            problem = "Name: letters, digits, dot, dash or underscore (up to 63)."
        elif not host:
            problem = "Host: type a host name (spark-1a2b.local) or an IP address."
        port_text = self._value("port") or "22"
        if not problem and not (port_text.isdigit() and 0 < int(port_text) < 65536):
            problem = "Port: a number from 1 to 65535."
        if problem:
            self.show_step(problem, error=True)
            return
        password_field = self.query_one("#password", Input)
        form = AddDeviceForm(name, host, self._value("user"), int(port_text), self._value("identity"), Secret(password_field.value))
        password_field.value = ""  # the form object is the only holder now
        self.busy = True
        self.query_one("#add", Button).disabled = True
        self.post_message(self.Submitted(form))

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
