"""Pick what to forward: a Spark preset, a port detected on the device, or a typed port."""

from __future__ import annotations

import re

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, OptionList
from textual.widgets.option_list import Option

from spark_tui.core.models import TunnelSpec
from spark_tui.core.presets import CATALOGUE, preset_named, specs_for
from spark_tui.core.untrusted import display_safe

_PORTS = re.compile(r"^\s*(\d{1,5})(?::(\d{1,5}))?\s*$")

Choice = tuple[tuple[TunnelSpec, ...], bool]


class NewTunnelScreen(ModalScreen[Choice | None]):
    """Dismisses with ``(specs, remember)`` or ``None``."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="dialog.cancel", tooltip="Close without starting")]

    def __init__(self, device: str, detected: tuple = ()) -> None:
        super().__init__()
        self.device = device
        self.detected = detected

    def compose(self) -> ComposeResult:
        options: list[Option] = []
        for port in self.detected:
            label = f"{port.port:>5}  listening on the device ({display_safe(str(port.address), 46)})"
            if port.preset:
                label += f"  · {display_safe(str(port.preset), 40)}"
            if port.process:
                label += f"  · {display_safe(str(port.process), 60)}"  # read from the device's /proc
            options.append(Option(Text(label), id=f"port:{port.port}"))
        for preset in CATALOGUE:
            ports = " + ".join(str(p.port) for p in preset.ports)
            options.append(Option(Text(f"{ports:>5}  {preset.title}"), id=f"preset:{preset.name}"))
        with Vertical(id="dialog", classes="dialog"):
            yield Label(Text(f"New tunnel on {display_safe(self.device, 64)}"), classes="dialog-title")
            yield OptionList(*options, id="choices")
            yield Label("…or type REMOTE_PORT[:LOCAL_PORT]")
            yield Input(placeholder="8888 or 8888:18888", id="custom")
            yield Checkbox("Remember it in the profile and start it on connect", value=True, id="remember")
            with Horizontal(classes="buttons"):
                yield Button("Start", variant="primary", id="start")
                yield Button("Cancel", id="cancel")

    def _remember(self) -> bool:
        return self.query_one("#remember", Checkbox).value

    @on(OptionList.OptionSelected)
    def _picked(self, event: OptionList.OptionSelected) -> None:
        kind, _, value = (event.option.id or "").partition(":")
        if kind == "preset" and (preset := preset_named(value)) is not None:
            specs = specs_for(preset, auto_start=self._remember())
        else:
            port = int(value)
            specs = (TunnelSpec(name=f"port-{port}", remote_port=port, auto_start=self._remember()),)
        self.dismiss((specs, self._remember()))

    @on(Input.Submitted, "#custom")
    @on(Button.Pressed, "#start")
    def _typed(self) -> None:
        text = self.query_one("#custom", Input).value
        if not text.strip():
            choices = self.query_one(OptionList)
            if choices.highlighted is not None:
                choices.action_select()
            return
        match = _PORTS.match(text)
        remote, local = (int(match.group(1)), int(match.group(2)) if match.group(2) else None) if match else (0, None)
        if not match or not 0 < remote < 65536 or (local is not None and not 0 < local < 65536):
            self.notify("Type a port from 1 to 65535, optionally :LOCAL_PORT", severity="error")
            return
        spec = TunnelSpec(name=f"port-{remote}", remote_port=remote, local_port=local, auto_start=self._remember())
        self.dismiss(((spec,), self._remember()))

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
