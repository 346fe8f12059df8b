"""CSI sequences: cursor movement, erasing, scroll regions, modes, replies.

A mixin of :class:`emulator.Terminal`, kept apart because it is the long tail of the
emulator, not its hot path (text runs and line feeds live in ``emulator.py``).
"""

from __future__ import annotations

from .modes import XTVERSION
from .sgr import apply_sgr

PARAM_LIMIT = 65535  # xterm's own cap on a numeric parameter


def _ints(params: str) -> list[int]:
    """CSI parameters as numbers, each clamped to PARAM_LIMIT.

    A remote program controls these digits: thousands of them must not reach ``int()``
    (Python refuses over 4300 digits, and big numbers cost time), so long runs clamp early.
    """
    if not params:
        return []
    # Leading zeros do not make a number big: "0000000031" is 31.
    return [
        (int(p) if len(p) <= 5 else min(int(p.lstrip("0")[:6] or 0), PARAM_LIMIT)) if p.isdigit() else 0
        for p in params.split(";")
    ]


class ControlMixin:
    """CSI handling for :class:`Terminal` (see there for the attributes it changes)."""

    def _csi(self, params: str, inter: str, final: str) -> None:
        if final == "m" and not inter:
            if not params or params[0] not in "<=>?":
                self.attr = apply_sgr(self.attr, params)
            return
        if inter:
            if inter == "$" and final == "p":
                self._report_mode(params)
            elif inter == " " and final == "q":
                args = _ints(params)
                self.cursor_shape = args[0] if args and 0 <= args[0] <= 6 else 0
            elif inter == "!" and final == "p":
                self.soft_reset()
            return
        private = ""
        if params and params[0] in "<=>?":
            private, params = params[0], params[1:]
        args = _ints(params)
        if private == "?":
            if final in "hl":
                for mode in args:
                    self._set_private_mode(mode, final == "h")
            elif final == "n" and args and args[0] == 6:
                self.reply(f"\x1b[?{self._report_row()};{self.x + 1}R")
            return
        if private == ">":
            if final == "c" and (not args or args[0] == 0):
                self.reply("\x1b[>1;10;0c")
            elif final == "q" and (not args or args[0] == 0):
                self.reply(XTVERSION)
            return
        if private:
            return
        handler = _HANDLERS.get(final)
        if handler is not None:
            handler(self, args, max(1, args[0]) if args else 1)

    # -- cursor ----------------------------------------------------------------------------

    def _report_row(self) -> int:
        return self.y - self.top + 1 if self.origin else self.y + 1

    def _move_to(self, col: int, row: int) -> None:
        """Absolute move (0-based), honouring origin mode; clears a pending wrap."""
        if self.origin:
            row = min(max(row + self.top, self.top), self.bottom)
        else:
            row = min(max(row, 0), self.rows - 1)
        self.y = row
        self.x = min(max(col, 0), self.cols - 1)
        self.wrap_pending = False

    def _cursor_up(self, count: int) -> None:
        limit = self.top if self.y >= self.top else 0
        self.y = max(limit, self.y - count)
        self.wrap_pending = False

    def _cursor_down(self, count: int) -> None:
        limit = self.bottom if self.y <= self.bottom else self.rows - 1
        self.y = min(limit, self.y + count)
        self.wrap_pending = False

    def save_cursor(self) -> None:
        """DECSC: remember position, attributes, charsets and origin mode on this screen."""
        self.screen.saved = (
            self.x, self.y, self.attr, self.wrap_pending, self.origin, list(self.charsets), self.shift_out,
        )

    def restore_cursor(self) -> None:
        """DECRC: go back to what DECSC saved (home and plain attributes if nothing was)."""
        saved = self.screen.saved
        if saved is None:
            self.x = self.y = self.attr = 0
            self.wrap_pending = self.origin = False
            return
        x, y, self.attr, pending, self.origin, charsets, self.shift_out = saved
        self.charsets = list(charsets)
        self.x = min(x, self.cols - 1)
        self.y = min(y, self.rows - 1)
        self.wrap_pending = pending and x == self.cols - 1

    def soft_reset(self) -> None:
        """DECSTR: modes back to defaults without clearing the screen."""
        self.cursor_visible = True
        self.insert_mode = False
        self.origin = False
        self.autowrap = True
        self.app_cursor = False
        self.app_keypad = False
        self.top, self.bottom = 0, self.rows - 1
        self.attr = 0
        self.charsets = ["B", "B"]
        self.shift_out = 0
        self.screen.saved = None


def _col(t) -> int:
    """The column erase and edit commands act on: past the edge while a wrap is pending (as tmux)."""
    return t.cols if t.wrap_pending else t.x


def _ich(t, args, n):
    t.screen.insert_cells(t.y, _col(t), n, t.attr)


def _cuu(t, args, n):
    t._cursor_up(n)


def _cud(t, args, n):
    t._cursor_down(n)


def _cuf(t, args, n):
    t.x = min(t.cols - 1, t.x + n)
    t.wrap_pending = False


def _cub(t, args, n):
    # While a wrap is pending the cursor counts as past the edge (as tmux).
    t.x = max(0, (t.x if not t.wrap_pending else t.cols) - n)
    t.wrap_pending = False


def _cnl(t, args, n):
    t._cursor_down(n)
    t.x = 0


def _cpl(t, args, n):
    t._cursor_up(n)
    t.x = 0


def _cha(t, args, n):
    t.x = min(t.cols - 1, n - 1)
    t.wrap_pending = False


def _cup(t, args, n):
    row = args[0] if args else 1
    col = args[1] if len(args) > 1 else 1
    t._move_to(max(1, col) - 1, max(1, row) - 1)


def _vpa(t, args, n):
    t._move_to(t.x, n - 1)


def _cht(t, args, n):
    # At most one step per column: CSI 65535 I costs what CSI 80 I does.
    tabs = t.tabs
    for _ in range(min(n, t.cols)):
        stop = tabs.find(1, t.x + 1)
        if stop < 0:
            t.x = t.cols - 1
            break
        t.x = stop
    t.wrap_pending = False


def _cbt(t, args, n):
    tabs = t.tabs
    for _ in range(min(n, t.cols)):
        t.x = max(tabs.rfind(1, 0, t.x), 0)
        if not t.x:
            break
    t.wrap_pending = False


def _ed(t, args, n):
    mode = args[0] if args else 0
    screen = t.screen
    if mode == 0:
        screen.erase(t.y, _col(t), t.cols, t.attr)
        screen.erase_rows(t.y + 1, t.rows, t.attr)
    elif mode == 1:
        screen.erase_rows(0, t.y, t.attr)
        screen.erase(t.y, 0, t.x + 1, t.attr)
    elif mode == 2:
        screen.erase_rows(0, t.rows, t.attr)
    elif mode == 3:
        screen.clear_history()


def _el(t, args, n):
    mode = args[0] if args else 0
    if mode == 0:
        t.screen.erase(t.y, _col(t), t.cols, t.attr)
    elif mode == 1:
        t.screen.erase(t.y, 0, t.x + 1, t.attr)
    elif mode == 2:
        t.screen.erase(t.y, 0, t.cols, t.attr)


def _il(t, args, n):
    # As tmux: the column stays (xterm goes to the left margin), and from a row outside the
    # scroll region the rows from the cursor to the bottom of the screen move (xterm: none).
    bottom = t.bottom if t.top <= t.y <= t.bottom else t.rows - 1
    t.screen.scroll_down(t.y, bottom, n, t.attr)
    t.wrap_pending = False


def _dl(t, args, n):
    _scroll_region_up(t, t.y, n, t.bottom if t.top <= t.y <= t.bottom else t.rows - 1)
    t.wrap_pending = False


def _scroll_region_up(t, top, n, bottom=None):
    # Deleting lines never feeds the scrollback, even at the top of the screen.
    history, t.screen.history = t.screen.history, None
    try:
        t.screen.scroll_up(top, t.bottom if bottom is None else bottom, n, t.attr)
    finally:
        t.screen.history = history


def _dch(t, args, n):
    t.screen.delete_cells(t.y, _col(t), n, t.attr)


def _su(t, args, n):
    t.screen.scroll_up(t.top, t.bottom, n, t.attr)


def _sd(t, args, n):
    if len(args) <= 1:
        t.screen.scroll_down(t.top, t.bottom, n, t.attr)


def _ech(t, args, n):
    t.screen.erase(t.y, _col(t), _col(t) + n, t.attr)


def _rep(t, args, n):
    # As tmux: the last printed character, at most to the end of the line, and only once
    # (a second REP has nothing to repeat).
    char, t.last_char = t.last_char, ""
    count = 0 if t.wrap_pending else min(n, t.cols - t.x)
    if char and count:
        t._print(char * count)
        t.last_char = ""


def _da1(t, args, n):
    if not args or args[0] == 0:
        t.reply("\x1b[?62;22c")


def _tbc(t, args, n):
    mode = args[0] if args else 0
    if mode == 0:
        t.tabs[t.x] = 0
    elif mode == 3:
        t.tabs[:] = bytes(len(t.tabs))


def _sm(t, args, n, on=True):
    for mode in args:
        if mode == 4:
            t.insert_mode = on
        elif mode == 20:
            t.newline_mode = on


def _rm(t, args, n):
    _sm(t, args, n, on=False)


def _dsr(t, args, n):
    mode = args[0] if args else 0
    if mode == 5:
        t.reply("\x1b[0n")
    elif mode == 6:
        t.reply(f"\x1b[{t._report_row()};{t.x + 1}R")


def _decstbm(t, args, n):
    top = (args[0] if args and args[0] else 1) - 1
    bottom = (args[1] if len(args) > 1 and args[1] else t.rows) - 1
    bottom = min(bottom, t.rows - 1)
    if top < bottom:
        t.top, t.bottom = top, bottom
        t._move_to(0, 0)


def _scosc(t, args, n):
    if not args:
        t.save_cursor()


def _scorc(t, args, n):
    t.restore_cursor()


_HANDLERS = {
    "@": _ich, "A": _cuu, "B": _cud, "C": _cuf, "D": _cub, "E": _cnl, "F": _cpl, "G": _cha,
    "H": _cup, "I": _cht, "J": _ed, "K": _el, "L": _il, "M": _dl, "P": _dch, "S": _su, "T": _sd,
    "X": _ech, "Z": _cbt, "`": _cha, "a": _cuf, "b": _rep, "c": _da1, "d": _vpa, "e": _cud,
    "f": _cup, "g": _tbc, "h": _sm, "l": _rm, "n": _dsr, "r": _decstbm, "s": _scosc, "u": _scorc,
}
