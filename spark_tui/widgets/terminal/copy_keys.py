"""The view's side of copy mode: its key bindings, the routing of keys to it, its actions.

Mixed into :class:`TerminalView` so that view keeps only a few hooks; the mode itself is
:class:`copy_mode.CopyMode`. The bindings are display and keymap entries: the view takes every
key in ``on_key`` (a remote program owns the keyboard), so keys are routed here by looking them
up in the bindings in force, after the app's keymap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.binding import Binding

from .copy_mode import CopyMode

if TYPE_CHECKING:
    from textual import events

COPY_MODE_BINDINGS = [
    Binding(
        "ctrl+right_square_bracket", "leave_terminal", "Leave shell", id="terminal.leave", key_display="ctrl+]",
        tooltip="Give the keys back to the dashboard (the shell keeps running)",
    ),
    Binding(
        "ctrl+shift+space", "copy_mode", "Copy mode", id="terminal.copy_mode", key_display="ctrl+shift+space",
        tooltip="Select and copy text with the keyboard (also: shift+pageup, then v)",
    ),
    Binding(
        "h", "copy_move", "Move", id="terminal.copy_move", key_display="hjkl",
        tooltip="Move the cursor (also arrows, w b e, 0 $, g G)",
    ),
    Binding("v", "copy_select", "Select", id="terminal.copy_select", tooltip="Start or stop selecting characters"),
    Binding("V", "copy_select_lines", "Lines", id="terminal.copy_select_lines", tooltip="Start or stop selecting whole lines"),
    Binding("y", "copy_yank", "Copy", id="terminal.copy_yank", tooltip="Copy the selection to the clipboard and leave copy mode"),
    Binding(
        "o", "copy_open_link", "Open link", id="terminal.copy_open_link",
        tooltip="Open the link under the cursor (asks first)",
    ),
    Binding(
        "slash", "copy_search", "Search", id="terminal.copy_search",
        tooltip="Search the history; n / N: older / newer match",
    ),
    Binding("escape", "copy_leave", "Cancel", id="terminal.copy_leave", tooltip="Leave copy mode without copying"),
]
"""The view's bindings, for the footer and the keymap: copy mode's own show only while it is on."""

_COPY_ACTIONS = frozenset(
    {"copy_select", "copy_select_lines", "copy_yank", "copy_leave", "copy_search", "copy_move", "copy_open_link"}
)


class CopyModeKeys:
    """Mixed into :class:`TerminalView`: copy mode's bindings, key routing and actions.

    Needs ``copy_mode`` (a :class:`CopyMode`), ``scrollback`` and the Widget API. Keys are
    looked up in the bindings in force (after the app's keymap), so ``[settings.keys]`` can move
    ``terminal.copy_mode`` to a key the user's terminal reports (``f12``, say).
    """

    copy_mode: CopyMode

    HELP_PLACE = "Shell terminal"
    """What the keys screen calls the view in its Where column (the view has no border title)."""

    def _bound_action(self, key: str) -> str | None:
        """The action this view binds ``key`` to now, if any."""
        active = self.screen.active_bindings.get(key)  # type: ignore[attr-defined]
        return active.binding.action if active is not None and active.node is self else None

    def copy_mode_key(self, event: events.Key) -> bool:
        """Route a key to copy mode; True when it was copy mode's (the view sends nothing)."""
        copy = self.copy_mode
        back = self.scrollback  # type: ignore[attr-defined]
        if not copy.active:
            plain = event.is_printable and "+" not in event.key
            if back.offset and not back.searching and event.character in ("v", "V"):
                self.action_copy_mode()
                copy.toggle_selection(linewise=event.character == "V")
                return True
            if event.key == self.scroll_keys[0] and back.first_row == back.top_row:  # type: ignore[attr-defined]
                # Nothing to scroll back to (a full-screen program, a fresh shell): the page-up key
                # enters copy mode instead, the way in for terminals that cannot send ctrl+shift+space.
                self.action_copy_mode()
                return True
            action = None if plain else self._bound_action(event.key)
            if action == "copy_mode":
                self.action_copy_mode()
                return True
            if action == "leave_terminal" and event.key != self.escape_key:  # type: ignore[attr-defined]
                self.action_leave_terminal()
                return True
            return False
        if event.key == self.escape_key:  # type: ignore[attr-defined]
            self.action_copy_leave()
            return False  # the view still leaves the terminal
        action = None if back.searching else self._bound_action(event.key)
        if action in _COPY_ACTIONS and action != "copy_move":
            getattr(self, f"action_{action}")()
        elif event.character == " " and not back.searching:
            self.action_copy_select()
        elif event.key == "enter" and not back.searching:
            self.action_copy_yank()
        elif event.key in ("escape", "ctrl+c") or event.character == "q":
            self.action_copy_leave()
        else:
            copy.press(event.key, event.character)
            self.refresh_bindings()  # type: ignore[attr-defined]  # "Open link" shows on a link only
        self.refresh()  # type: ignore[attr-defined]
        return True

    def _link_under_copy_cursor(self) -> str | None:
        copy = self.copy_mode
        return self._link_at(copy.col, copy.row - self.scrollback.top_row)  # type: ignore[attr-defined]

    def check_consume_key(self, key: str, character: str | None) -> bool:
        """Every key is the remote program's: the footer lists only the terminal's own keys."""
        return True

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Copy mode's keys show (and work) only in copy mode; its entry key only outside it."""
        if action == "copy_open_link":
            return self.copy_mode.active and self._link_under_copy_cursor() is not None
        if action in _COPY_ACTIONS:
            return self.copy_mode.active
        if action == "copy_mode":
            return not self.copy_mode.active
        return True

    def action_copy_mode(self) -> None:
        """Enter copy mode."""
        self.copy_mode.enter()
        self.refresh()  # type: ignore[attr-defined]

    def action_copy_select(self) -> None:
        """Start or stop a character-wise selection."""
        self.copy_mode.toggle_selection(linewise=False)
        self.refresh()  # type: ignore[attr-defined]

    def action_copy_select_lines(self) -> None:
        """Start or stop a line-wise selection."""
        self.copy_mode.toggle_selection(linewise=True)
        self.refresh()  # type: ignore[attr-defined]

    def action_copy_yank(self) -> None:
        """Copy the selection with the app's clipboard (as mouse selection does) and leave.

        With nothing selected it stays in copy mode and says how to select."""
        if not self.copy_mode.selecting:
            hint = "Nothing selected yet: v selects characters, V whole lines"
            self.notify(hint, title="Copy mode", timeout=3, markup=False)  # type: ignore[attr-defined]
            return
        text = self.copy_mode.copy()
        if text:
            self.app.copy_to_clipboard(text)  # type: ignore[attr-defined]
            lines = text.count("\n") + 1
            self.notify(  # type: ignore[attr-defined]
                f"Copied {lines} lines" if lines > 1 else f"Copied {len(text)} characters",
                title="Copy mode", timeout=2, markup=False,
            )
        self.refresh()  # type: ignore[attr-defined]

    def action_copy_search(self) -> None:
        """Open the history search; enter puts the cursor on the match."""
        self.scrollback.open_search()  # type: ignore[attr-defined]
        self.refresh()  # type: ignore[attr-defined]

    def action_copy_open_link(self) -> None:
        """Ask to open the hyperlink under the cursor (``LinkClicked``, as a click does)."""
        url = self._link_under_copy_cursor()
        if url:
            self.copy_mode.leave()
            self._post(self.LinkClicked(url))  # type: ignore[attr-defined]

    def action_copy_move(self) -> None:
        """Stands for the motion keys in the footer; a motion is done by ``CopyMode.press``."""

    def action_leave_terminal(self) -> None:
        """Post ``LeaveRequested``, as the view's escape key does."""
        self.copy_mode.leave()
        self.refresh()  # type: ignore[attr-defined]
        self._post(self.LeaveRequested())  # type: ignore[attr-defined]

    def action_copy_leave(self) -> None:
        """Leave copy mode without copying."""
        self.copy_mode.leave()
        self.refresh()  # type: ignore[attr-defined]
