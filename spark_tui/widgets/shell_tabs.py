"""The Shell pane: one tab per remote shell, each a TerminalView.

The tabs know nothing about SSH: opening a tab posts ``SessionRequested`` (with the view's size)
and the app attaches a session to it; output comes back through ``feed``. A tab whose shell
ended or whose connection dropped keeps its scrollback and offers to reconnect.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.message import Message
from textual.widgets import Static, TabbedContent, TabPane

from spark_tui.core.untrusted import display_safe

if TYPE_CHECKING:
    from spark_tui.widgets.terminal.view import TerminalView

_ids = itertools.count(1)


class ShellTabs(Vertical, can_focus=False):
    """Shell tabs across devices.

    | Key | Binding id | Does |
    | :- | :- | :- |
    | ctrl+] | (terminal) | Leave the terminal: focus goes back to the dashboard. |
    | enter | shell.reconnect | In an ended tab: open a new shell on the same device. |
    | w | shell.close | Close the current tab (when the terminal is not focused). |
    | [ / ] | shell.prev / shell.next | Previous / next tab. |
    """

    BINDINGS = [
        Binding("w", "close_tab", "Close tab", id="shell.close", tooltip="Close the current shell tab"),
        Binding("left_square_bracket", "cycle(-1)", "Prev tab", id="shell.prev", tooltip="Previous shell tab", show=False),
        Binding("right_square_bracket", "cycle(1)", "Next tab", id="shell.next", tooltip="Next shell tab", show=False),
    ]

    class SessionRequested(Message):
        """Open a shell on ``device`` for tab ``tab``, sized ``cols`` x ``rows`` (``command``: run that instead)."""

        def __init__(self, tab: str, device: str, cols: int, rows: int, command: str | None = None) -> None:
            super().__init__()
            self.tab = tab
            self.device = device
            self.cols = cols
            self.rows = rows
            self.command = command

    class CloseRequested(Message):
        """The tab ``tab`` was closed: end its session."""

        def __init__(self, tab: str) -> None:
            super().__init__()
            self.tab = tab

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._device: dict[str, str] = {}  # tab id -> device name
        self._views: dict[str, TerminalView] = {}  # tab id -> its terminal, once looked up
        self._command: dict[str, str] = {}  # tab id -> command run instead of the login shell
        self._label: dict[str, str] = {}  # tab id -> what its tab and its toasts are called
        self._ended: set[str] = set()

    def compose(self) -> ComposeResult:
        yield Static(
            "No shell open. Select a device and press t (or ctrl+p → Open shell on …).\n"
            "Inside a shell every key goes to the device; ctrl+] comes back here.",
            id="shell-empty",
            classes="empty-state",
        )
        yield TabbedContent(id="shell-tabs")

    def on_mount(self) -> None:
        self._refresh_empty()

    def focus(self, scroll_visible: bool = True) -> ShellTabs:
        """Going to the Shell pane (key 3) means typing in its current terminal, if one is open."""
        tab = self.current_tab
        view = self.view(tab) if tab else None
        if view is not None:
            view.focus(scroll_visible)
        return self

    def _refresh_empty(self) -> None:
        self.query_one("#shell-empty").display = not self._device
        self.query_one(TabbedContent).display = bool(self._device)

    def view(self, tab: str) -> TerminalView | None:
        """The terminal of tab ``tab``.

        Kept once found: output arrives in thousands of slices a second, and a DOM query for
        each (CSS selector matching) cost more than parsing the slice (a 10 MB log drained at
        a third of ssh's speed).
        """
        cached = self._views.get(tab)
        if cached is not None and cached.is_attached:
            return cached
        found = self.query(f"#{tab}-term")
        view = found.first() if found else None
        if view is None:
            self._views.pop(tab, None)
        else:
            self._views[tab] = view  # type: ignore[assignment]
        return view  # type: ignore[return-value]

    @property
    def current_tab(self) -> str | None:
        """Id of the active tab."""
        return self.query_one(TabbedContent).active or None

    def device_of(self, tab: str) -> str | None:
        """The device tab ``tab`` belongs to."""
        return self._device.get(tab)

    def open(self, device: str, command: str | None = None, title: str | None = None) -> str:
        """Add a tab for ``device`` and request its session. Returns the tab id.

        Args:
            device: Device name.
            command: Run this in the tab's terminal instead of the login shell (``docker logs -f``).
            title: Tab label (default: the device name).
        """
        # The emulator loads with the first tab, so the dashboard's first paint never waits for it.
        from spark_tui.widgets.terminal.view import TerminalView

        tab = f"shell-{next(_ids)}"
        self._device[tab] = device
        if command is not None:
            self._command[tab] = command
        view = TerminalView(id=f"{tab}-term", classes="terminal-view")
        label = self._label[tab] = self._unique_label(display_safe(title or device, 40))
        self.query_one(TabbedContent).add_pane(TabPane(Content(label), view, id=tab))  # plain, not markup
        self.query_one(TabbedContent).active = tab
        self._refresh_empty()
        self.call_after_refresh(self._request, tab)
        return tab

    def _unique_label(self, base: str) -> str:
        """``base``, or ``base 2``, ``base 3``... when an open tab is already called that."""
        taken = {label for tab, label in self._label.items() if tab in self._device}
        label, number = base, 1
        while label in taken:
            number += 1
            label = f"{base} {number}"
        return label

    def _request(self, tab: str, tries: int = 50) -> None:
        view = self.view(tab)
        if view is None:
            return
        if not view.size.area and tries:
            # Not laid out yet: the shell must start at the size it will be shown at.
            self.set_timer(0.02, lambda: self._request(tab, tries - 1))
            return
        cols, rows = (view.size.width, view.size.height) if view.size.area else (view.terminal.cols, view.terminal.rows)
        self._ended.discard(tab)
        view.focus()
        self.post_message(self.SessionRequested(tab, self._device[tab], cols, rows, self._command.get(tab)))

    def feed(self, tab: str, data: bytes) -> None:
        """Output from the remote for tab ``tab`` (the session hands it over in bounded slices)."""
        view = self.view(tab)
        if view is not None:
            view.feed(data)

    def on_terminal_view_notified(self, message: TerminalView.Notified) -> None:
        """A bell or a desktop notification from a shell: a toast naming the tab (its device).

        Everything shown comes from the device: it goes through ``display_safe`` and is never
        read as markup. A bell in the terminal the user is typing in is not worth a toast.
        """
        message.stop()
        view = message.control
        if view is None:
            return
        tab = view.id.removesuffix("-term") if view.id else ""
        device = self._label.get(tab) or display_safe(self._device.get(tab, "shell"), 40)
        if message.bell:
            if view.has_focus and self.current_tab == tab:
                return
            self.app.notify(f"Bell in the shell on {device}", title="Shell", markup=False, timeout=5)
            return
        title = display_safe(message.title, 80)
        body = display_safe(message.body, 200) or "(no text)"
        self.app.notify(body, title=f"{device}: {title}" if title else device, markup=False, timeout=8)

    def _notice(self, tab: str, text: str) -> None:
        """Write a dim dashboard note into the terminal, on its own line."""
        self._ended.add(tab)
        view = self.view(tab)
        if view is not None:
            view.feed(b"\r\n\x1b[0;2m[spark-tui] " + text.encode("utf-8", "replace") + b"\x1b[0m\r\n")

    def exited(self, tab: str, status: int | None) -> None:
        """The shell in ``tab`` ended with ``status``."""
        end = f"shell exited with status {status}" if status is not None else "shell closed"
        self._notice(tab, f"{end}. Press enter to open a new one, w to close the tab.")

    def failed(self, tab: str, text: str) -> None:
        """Opening the session of ``tab`` failed."""
        self._notice(tab, f"{display_safe(text, 600)}. Press enter to retry.")  # fed to the emulator: no escape may pass

    def mark_device_lost(self, device: str) -> None:
        """The connection to ``device`` dropped: its tabs keep scrollback and offer to reconnect."""
        for tab, name in self._device.items():
            if name == device and tab not in self._ended:
                self._notice(tab, "connection lost. Press enter to reconnect (scrollback is kept).")

    def is_ended(self, tab: str) -> bool:
        """True when ``tab`` has no live session (enter reconnects)."""
        return tab in self._ended

    def reconnect(self, tab: str) -> None:
        """Ask for a new session in an ended tab."""
        if tab in self._ended:
            self._request(tab)

    def action_close_tab(self) -> None:
        tab = self.current_tab
        if tab is None:
            return
        self.query_one(TabbedContent).remove_pane(tab)
        self._device.pop(tab, None)
        self._label.pop(tab, None)
        self._ended.discard(tab)
        self.post_message(self.CloseRequested(tab))
        self._refresh_empty()

    def action_cycle(self, step: int) -> None:
        tabs = list(self._device)
        if tabs and (current := self.current_tab) in tabs:
            self.query_one(TabbedContent).active = tabs[(tabs.index(current) + step) % len(tabs)]

    @on(TabbedContent.TabActivated)
    def _activated(self) -> None:
        tab = self.current_tab
        view = self.view(tab) if tab else None
        if view is not None:
            view.focus()
