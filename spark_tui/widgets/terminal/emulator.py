"""The emulator: bytes from the remote in, a grid of styled cells out (xterm-256color).

Speed comes from treating text as runs: one regular expression splits a chunk into sequences
and the text between them, which is written into the line with a slice assignment, not
character by character (``stream.py``); floods of whole lines skip even that (``bulk.py``).
Only runs with wide or combining characters go through the per-character width path.

Nothing from the stream is ever passed on: titles are sanitised and handed to a callback,
clipboard writes (OSC 52) are refused and counted, hyperlinks (OSC 8) are reduced to their
text, and the replies a terminal owes (cursor position, device attributes) go back to the
remote through ``on_reply``.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Callable

from .cells import BG_MASK, Line
from .control import ControlMixin
from .escapes import EscapeMixin, sanitize_title
from .modes import ModeMixin
from .screen import Screen
from .sequences import HOLD_LIMIT, SequenceMixin
from .bulk import BulkMixin, only_crlf_pairs
from .stream import StreamMixin
from .text import TextMixin

# Control characters other than CR and LF: where the bulk line path must stop. (A plain
# character class: the regex engine scans for it at C speed.)
_CONTROL = re.compile(r"[\x00-\x09\x0b\x0c\x0e-\x1f\x7f-\x9f]")


__all__ = ["HOLD_LIMIT", "Terminal", "sanitize_title"]


class Terminal(StreamMixin, BulkMixin, TextMixin, ControlMixin, ModeMixin, EscapeMixin, SequenceMixin):
    """An xterm-256color screen fed with the remote's bytes.

    Args:
        cols: Columns.
        rows: Rows.
        scrollback: Lines of history kept for the main screen (bounded).
        on_reply: Called with bytes the terminal owes the remote (DSR, DA replies).
        on_title: Called with the sanitised title when OSC 0/2 changes it.
        on_bell: Called on BEL.
        on_notify: Called with (title, body) for a desktop notification (OSC 9, OSC 777),
            both already plain, single-line and bounded.
        on_sync: Called with True when synchronized output (mode 2026) starts, False when it ends.

    Attributes:
        x: Cursor column (0-based).
        y: Cursor row (0-based).
        attr: Packed attribute new text gets.
        cursor_visible: DECTCEM.
        cursor_shape: DECSCUSR value (0 default, 1-2 block, 3-4 underline, 5-6 bar).
        app_cursor: DECCKM: arrows send ``ESC O x`` instead of ``ESC [ x``.
        app_keypad: DECKPAM.
        bracketed_paste: Mode 2004.
        mouse_tracking: 0 (off), 9, 1000 (clicks), 1002 (drag) or 1003 (any motion).
        mouse_sgr: Mode 1006 (SGR mouse encoding).
        focus_events: Mode 1004: the remote wants ``CSI I`` / ``CSI O`` on focus changes.
        synchronized: Mode 2026: the remote is drawing a frame; show the previous one meanwhile.
        title: The sanitised title.
        refused_clipboard_writes: OSC 52 writes refused so far.
        bells: BELs received so far.
    """

    def __init__(
        self,
        cols: int = 80,
        rows: int = 24,
        *,
        scrollback: int = 10_000,
        on_reply: Callable[[bytes], None] | None = None,
        on_title: Callable[[str], None] | None = None,
        on_bell: Callable[[], None] | None = None,
        on_notify: Callable[[str, str], None] | None = None,
        on_sync: Callable[[bool], None] | None = None,
    ) -> None:
        self.cols = max(1, cols)
        self.rows = max(1, rows)
        self.main = Screen(self.cols, self.rows, scrollback)
        self.alt = Screen(self.cols, self.rows, 0)
        self.screen = self.main
        self.on_reply = on_reply
        self.on_title = on_title
        self.on_bell = on_bell
        self.on_notify = on_notify
        self.on_sync = on_sync
        self.title = ""
        self.refused_clipboard_writes = 0
        self.links: dict[int, str] = {}  # hyperlink id -> address (OSC 8), see cells.link_of
        self._link_id = 0
        self.bells = 0
        self.bytes_fed = 0
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._hold = ""
        self._cup_memo: dict[str, tuple[int, int]] = {}  # CUP sequence -> (row, column), see stream.py
        self._init_sequences()
        self._reset_modes()

    def _reset_modes(self) -> None:
        self.x = 0
        self.y = 0
        self.attr = 0
        self.wrap_pending = False
        self.top = 0
        self.bottom = self.rows - 1
        self.autowrap = True
        self.origin = False
        self.insert_mode = False
        self.newline_mode = False
        self.cursor_visible = True
        self.cursor_shape = 0
        self.app_cursor = False
        self.app_keypad = False
        self.bracketed_paste = False
        self.mouse_tracking = 0
        self.mouse_sgr = False
        self.focus_events = False
        self.synchronized = False
        self.reverse_video = False
        self.charsets = ["B", "B"]
        self.shift_out = 0
        self.last_char = ""  # what REP repeats; "" once used or after a control
        self.reverse_wrap = False
        self.tabs = _default_tabs(self.cols)

    # -- what a view reads -------------------------------------------------------------

    @property
    def lines(self) -> list[Line]:
        """The visible rows of the active screen."""
        return self.screen.lines

    @property
    def alternate(self) -> bool:
        """True while a full-screen program has the alternate screen."""
        return self.screen is self.alt

    @property
    def display(self) -> list[str]:
        """The visible text, one string per row (wide characters once, trailing spaces kept)."""
        return ["".join(line.chars) for line in self.screen.lines]

    @property
    def history(self):
        """The main screen's scrollback (oldest first; stored lines, see ``cells.load_line``)."""
        return self.main.history

    # -- input ---------------------------------------------------------------------------

    def feed(self, data: bytes) -> None:
        """Consume bytes from the remote (any chunking; UTF-8 and sequences may be split)."""
        self.bytes_fed += len(data)
        self.feed_text(self._decoder.decode(data))

    def feed_text(self, text: str) -> None:
        """Consume already-decoded text."""
        if self._hold:
            text = self._hold + text
            self._hold = ""
        if self._long is not None:
            text = self._continue_long(text)
            if not text:
                return
        if "\x1bc\x1bc" in text or "\x1b[2J\x1b[2J" in text or "\x1b#8\x1b#8" in text:
            # A run of the same whole-screen reset does what one does: a flood costs nothing.
            text = _IDEMPOTENT_RUN.sub(r"\1", text)
        control = _CONTROL.search(text)
        if control is None:
            if text.isascii() and only_crlf_pairs(text):
                self._feed_lines(text.split("\r\n"))
                return
        elif text[control.start()] == "\x1b" and text.count("\r\n") > 8 and self._coloured_lines(text):
            return
        elif control.start() > 256:
            cut = text.rfind("\r\n", 0, control.start()) + 2
            head = text[:cut]
            if cut > 2 and head.isascii() and only_crlf_pairs(head):
                self._feed_lines(head.split("\r\n"))
                text = text[cut:]
        self._feed_tokens(text)

    # -- whole-terminal operations ---------------------------------------------------------

    def reset(self) -> None:
        """RIS: clear both screens and every mode; the scrollback survives."""
        self.screen = self.main
        self.main.erase_rows(0, self.rows, 0)
        self.alt.erase_rows(0, self.rows, 0)
        self.main.saved = self.alt.saved = None
        synchronized = self.synchronized
        self._reset_modes()
        if synchronized and self.on_sync is not None:
            self.on_sync(False)

    def resize(self, cols: int, rows: int) -> None:
        """Change the size (no reflow); the scroll region resets to the whole screen."""
        cols, rows = max(1, cols), max(1, rows)
        if (cols, rows) == (self.cols, self.rows):
            return
        y = self.y
        for screen in (self.main, self.alt):
            moved = screen.resize(cols, rows, y)
            if screen is self.screen:
                self.y = moved
        self.cols, self.rows = cols, rows
        self._cup_memo.clear()
        self.top, self.bottom = 0, rows - 1
        self.x = min(self.x, cols - 1)
        self.wrap_pending = False
        tabs = _default_tabs(cols)  # new columns get the default stops; old ones keep theirs
        kept = self.tabs[:cols]
        tabs[: len(kept)] = kept
        self.tabs = tabs

    @staticmethod
    def blank_attr(attr: int) -> int:
        """The attribute erased cells get: only the background of ``attr``."""
        return attr & BG_MASK


def _default_tabs(cols: int) -> bytearray:
    """Tab stops every 8 columns: one byte per column (1 = a stop), searched with ``find``."""
    stops = bytearray(b"\x01\x00\x00\x00\x00\x00\x00\x00" * (cols // 8 + 1))[:cols]
    stops[0] = 0
    return stops


_IDEMPOTENT_RUN = re.compile(r"(\x1bc|\x1b\[2J|\x1b#8)\1+")
