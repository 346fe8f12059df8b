"""Terminal modes: DECSET/DECRST, the reports programs ask for (DECRQM), the alternate screen.

A mixin of :class:`emulator.Terminal`. Programs probe for features before using them
(synchronized output, focus events): DECRQM answers "set", "reset" or "not recognised" for
every mode here, so they only use what is really honoured.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

# DECSET/DECRST modes that select mouse reporting.
MOUSE_MODES = (9, 1000, 1002, 1003)

try:
    _VERSION = version("spark-tui")
except PackageNotFoundError:  # running from a source tree
    _VERSION = "dev"
XTVERSION = f"\x1bP>|spark-tui({_VERSION})\x1b\\"
"""The answer to XTVERSION (``CSI > q``): a DCS naming the terminal."""

# DEC private modes and the attribute each is kept in (DECRQM reads them back).
PRIVATE_MODES = {
    1: "app_cursor", 3: None, 5: "reverse_video", 6: "origin", 7: "autowrap", 25: "cursor_visible",
    45: "reverse_wrap", 47: None, 1047: None, 1048: None, 1049: None, 1004: "focus_events",
    1006: "mouse_sgr", 2004: "bracketed_paste", 2026: "synchronized",
}
ANSI_MODES = {4: "insert_mode", 20: "newline_mode"}


class ModeMixin:
    """Private modes and mode reports for :class:`Terminal` (see there for the attributes)."""

    def _set_private_mode(self, mode: int, on: bool) -> None:
        if mode == 1:
            self.app_cursor = on
        elif mode == 5:
            self.reverse_video = on
        elif mode == 6:
            self.origin = on
            self._move_to(0, 0)
        elif mode == 7:
            self.autowrap = on
            if not on:
                self.wrap_pending = False
        elif mode == 25:
            self.cursor_visible = on
        elif mode in MOUSE_MODES:
            self.mouse_tracking = mode if on else 0
        elif mode == 1006:
            self.mouse_sgr = on
        elif mode == 2004:
            self.bracketed_paste = on
        elif mode == 1004:
            self.focus_events = on
        elif mode == 2026:
            if on != self.synchronized:
                self.synchronized = on
                if self.on_sync is not None:
                    self.on_sync(on)
        elif mode == 3:
            self._deccolm()
        elif mode == 45:
            self.reverse_wrap = on
        elif mode == 1048:
            self.save_cursor() if on else self.restore_cursor()
        elif mode in (47, 1047, 1049):
            self._switch_screen(mode, on)

    def _deccolm(self) -> None:
        """DECCOLM (80/132 columns): the size stays, but as in xterm the screen is cleared,
        the margins reset and the cursor goes home."""
        self.top, self.bottom = 0, self.rows - 1
        self.screen.erase_rows(0, self.rows, self.attr)
        self.x = self.y = 0
        self.wrap_pending = False

    def _switch_screen(self, mode: int, on: bool) -> None:
        if on == (self.screen is self.alt):
            return
        if on:
            if mode == 1049:
                self.save_cursor()
            self.screen = self.alt
            if mode == 1049:
                self.alt.erase_rows(0, self.rows, 0)
        else:
            if mode == 1047:
                self.alt.erase_rows(0, self.rows, 0)
            self.screen = self.main
            if mode == 1049:
                self.restore_cursor()
        for line in self.screen.lines:
            line.cache = None
        self.wrap_pending = False

    def _report_mode(self, params: str) -> None:
        """DECRQM (``CSI ? Ps $ p`` / ``CSI Ps $ p``): answer 1 set, 2 reset, 0 not recognised."""
        private = params.startswith("?")
        digits = params[1:] if private else params
        if not digits.isdigit() or len(digits) > 5:
            return
        mode = int(digits)
        if private:
            if mode in MOUSE_MODES:
                state = 1 if self.mouse_tracking == mode else 2
            elif mode in (47, 1047, 1049):
                state = 1 if self.screen is self.alt else 2
            elif PRIVATE_MODES.get(mode):
                state = 1 if getattr(self, PRIVATE_MODES[mode]) else 2
            else:
                state = 0 if mode not in PRIVATE_MODES else 2
            self.reply(f"\x1b[?{mode};{state}$y")
        else:
            name = ANSI_MODES.get(mode)
            self.reply(f"\x1b[{mode};{(1 if getattr(self, name) else 2) if name else 0}$y")
