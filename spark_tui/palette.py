"""The command palette's dynamic commands: connect, open a shell, start or stop a tunnel, add a
device, switch theme.

The provider does no I/O and knows no services. It asks the app for the commands that make sense
right now, through a method the app implements::

    class SparkApp(App):
        COMMANDS = App.COMMANDS | {SparkCommands}

        def palette_commands(self) -> list[PaletteCommand]:
            return build_commands(devices=..., connected=..., tunnels=..., themes=theme_names(),
                                  actions=PaletteActions(connect=self.request_connect, ...))

and fuzzy-matches the user's words against their titles with Textual's matcher.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, Protocol, runtime_checkable

from textual.command import DiscoveryHit, Hit, Hits, Provider


@dataclass(frozen=True)
class PaletteCommand:
    """One thing the user can do from the palette.

    Attributes:
        title: What the palette lists and matches against ("Connect to spark-1a2b").
        help: A dim second line saying more.
        callback: Called with no arguments when the command is chosen; may be a coroutine
            function.
    """

    title: str
    help: str
    callback: Callable[[], Any]


@runtime_checkable
class PaletteHost(Protocol):
    """What the app implements so the provider can list commands."""

    def palette_commands(self) -> Sequence[PaletteCommand]:
        """The commands that make sense right now."""
        ...


@dataclass(frozen=True)
class PaletteActions:
    """The app's handlers that :func:`build_commands` binds to each command.

    Attributes:
        connect: Called with a device name.
        open_shell: Called with a device name.
        start_tunnel: Called with device name and tunnel name.
        stop_tunnel: Called with device name and tunnel name.
        add_device: Called with no arguments (opens the add-device form).
        switch_theme: Called with a theme name.
        open_files: Called with a device name (opens its Files screen); ``None``: no such commands.
    """

    connect: Callable[[str], Any]
    open_shell: Callable[[str], Any]
    start_tunnel: Callable[[str, str], Any]
    stop_tunnel: Callable[[str, str], Any]
    add_device: Callable[[], Any]
    switch_theme: Callable[[str], Any]
    open_files: Callable[[str], Any] | None = None


def build_commands(
    *,
    devices: Iterable[str],
    connected: Collection[str],
    tunnels: Iterable[tuple[str, str, bool]],
    themes: Iterable[str],
    actions: PaletteActions,
    current_theme: str | None = None,
) -> list[PaletteCommand]:
    """The standard commands with consistent wording, for ``palette_commands`` to return.

    Args:
        devices: Every device name (saved and discovered), in the order to list them.
        connected: Names of the devices connected now; they get no "Connect to" command.
        tunnels: ``(device, tunnel, running)`` for every saved or running tunnel; running ones
            get "Stop", the others "Start".
        themes: Theme names offered.
        actions: The handlers to call.
        current_theme: The theme in force; it is not offered.

    Returns:
        The commands, grouped: connect, shell, tunnels, add device, themes.
    """
    names = list(devices)
    commands = [
        PaletteCommand(f"Connect to {name}", f"Open an SSH connection to {name}", partial(actions.connect, name))
        for name in names
        if name not in connected
    ]
    commands += [
        PaletteCommand(f"Open shell on {name}", f"A terminal on {name} in the Shell pane", partial(actions.open_shell, name))
        for name in names
    ]
    if actions.open_files is not None:
        commands += [
            PaletteCommand(f"Files on {name}", f"Copy files between this computer and {name}", partial(actions.open_files, name))
            for name in names
        ]
    for device, tunnel, running in tunnels:
        if running:
            commands.append(
                PaletteCommand(
                    f"Stop tunnel {tunnel} on {device}",
                    "Close the forward and its local port",
                    partial(actions.stop_tunnel, device, tunnel),
                )
            )
        else:
            commands.append(
                PaletteCommand(
                    f"Start tunnel {tunnel} on {device}",
                    "Forward it to a local port (connects first if needed)",
                    partial(actions.start_tunnel, device, tunnel),
                )
            )
    commands.append(PaletteCommand("Add device", "Save a device by name, host and user", actions.add_device))
    commands += [
        PaletteCommand(f"Switch theme: {theme}", "Change the colours now", partial(actions.switch_theme, theme))
        for theme in themes
        if theme != current_theme
    ]
    return commands


class SparkCommands(Provider):
    """Command-palette provider for the app's dynamic commands.

    It lists what ``app.palette_commands()`` returns, fresh for every keystroke, so a device
    that connected while the palette was open shows up. An app without that method gets none.
    """

    def _commands(self) -> Sequence[PaletteCommand]:
        app = self.app
        if not isinstance(app, PaletteHost):
            return ()
        return app.palette_commands()

    async def discover(self) -> Hits:
        """Every command, in the app's order, before the user types."""
        for command in self._commands():
            yield DiscoveryHit(command.title, command.callback, text=command.title, help=command.help)

    async def search(self, query: str) -> Hits:
        """The commands whose titles fuzzy-match ``query``, best first.

        Args:
            query: What the user typed ("conn 1a2b").
        """
        matcher = self.matcher(query)
        for command in self._commands():
            score = matcher.match(command.title)
            if score > 0:
                yield Hit(score, matcher.highlight(command.title), command.callback, text=command.title, help=command.help)
