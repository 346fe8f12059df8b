"""Feeding libghostty-vt: the guard's rewrites, and the sequences that need a look at the cursor.

A mixin of :class:`~.native.NativeTerminal`. The stream goes to the library in as few writes as
it can; it is cut only around the sequences ``native_guard.SPLIT`` names, which act as tmux's do
once the cursor (or the margins) say how.
"""

from __future__ import annotations

import re

from .native_guard import MANY_SPLITS, SPLIT, SPLIT_BS, collapse_runs, prints_last
from .native_lib import lib

_MARGINS = re.compile(rb"\x1bP1\$r([0-9]{1,5});([0-9]{1,5})r\x1b\\")


class NativeFeed:
    """``feed`` for :class:`~.native.NativeTerminal` (state lives there)."""

    def feed(self, data: bytes) -> None:
        """Consume bytes from the remote (any chunking; UTF-8 and sequences may be split)."""
        if not data:
            return
        self.bytes_fed += len(data)
        self._fed = True
        data = self._guard.take(data)
        if not self._reverse_wrap_asked and b"45h" in data:
            self._reverse_wrap_asked = True
        split = SPLIT_BS if self._reverse_wrap_asked else SPLIT
        if split.search(data) is not None:
            self._feed_split(data, split)
        elif data:
            lib.ghostty_terminal_vt_write(self._term, data, len(data))
            self._last_piece = data[-32:]
        self._fed = True  # (a callback during the write may have read the rows already)
        self._count_pushed()

    def feed_text(self, text: str) -> None:
        """Consume already-decoded text."""
        self.feed(text.encode("utf-8", "replace"))

    def _write(self, data: bytes) -> None:
        lib.ghostty_terminal_vt_write(self._term, data, len(data))

    def _feed_split(self, data: bytes, split: re.Pattern[bytes]) -> None:
        """Feed ``data`` in pieces around the ``SPLIT`` sequences, which act as tmux's do.

        tmux keeps a cursor that wrote the last column *past* it: EL, ED and ECH from there
        leave that column alone, REP has no room left, and a step back lands on the last
        column, not the one before it. REP repeats only a character printed
        right before it (never after another sequence) and at most to the end of the line.
        """
        matches = list(split.finditer(data))
        if len(matches) > MANY_SPLITS:
            data = collapse_runs(data)
            matches = list(split.finditer(data))
        start = 0
        for match in matches:
            head = data[start : match.start()]
            if head:
                self._write(head)
                self._last_piece = head[-32:]
            sequence = match.group()
            final, params = sequence[-1:], sequence[2:-1]
            if sequence == b"\x08":
                self._last_piece = b""
                self._backspace()
            elif final in b"hl":
                if params != b"?1049" or self.alternate != (final == b"h"):
                    start = match.start()  # any other mode: it goes with the next piece
                    continue
                # (1049 set on the alternate screen, or reset on the main one: nothing to do)
            elif final in b"LM":
                self._insert_or_delete_lines(sequence)
                self._last_piece = b""
            elif final == b"b":
                if prints_last(self._last_piece) and not self.wrap_pending:
                    count = int(params[:6] or 1) or 1
                    self._write(b"\x1b[%db" % min(count, self.cols - self.x))
                self._last_piece = b""
            elif final in b"JK" and params not in (b"", b"0") or not self.wrap_pending:
                start = match.start()  # acts as the library does: it goes with the next piece
                continue
            elif final == b"D":  # from past the last column: one step fewer (CHA clears the wrap)
                self._write(b"\x1b[%dG" % (self.cols - (int(params[:5] or 1) or 1) + 1))
            elif final == b"J" and self.y < self.rows - 1:
                self._write(b"\x1b7\x1b[1E\x1b[J\x1b8")  # the lines below only
            # (EL and ECH from past the last column erase nothing)
            start = match.end()
        tail = data[start:]
        if tail:
            self._write(tail)
            self._last_piece = tail[-32:]

    def _insert_or_delete_lines(self, sequence: bytes) -> None:
        """IL / DL as tmux: the column stays, and from a row outside the scroll region they act
        on the rows from the cursor to the bottom of the screen (xterm and Ghostty: nothing)."""
        x, y = self.x, self.y
        top, bottom = self._margins()
        if top <= y <= bottom:
            self._write(sequence)
        else:  # (origin mode is off: the cursor could not be outside the region otherwise)
            self._write(b"\x1b[r\x1b[%d;%dH" % (y + 1, x + 1) + sequence)
            self._write(b"\x1b[%d;%dr\x1b[%d;%dH" % (top + 1, bottom + 1, y + 1, x + 1))
        if x:
            self._write(b"\x1b[%dG" % (x + 1))

    def _margins(self) -> tuple[int, int]:
        """The scroll region (top, bottom rows, 0-based), asked of the library with DECRQSS."""
        self._captured = []
        try:
            self._write(b"\x1bP$qr\x1b\\")
        finally:
            captured, self._captured = self._captured, None
        found = _MARGINS.fullmatch(captured[0]) if captured else None
        if found is None:
            return 0, self.rows - 1
        return int(found.group(1)) - 1, int(found.group(2)) - 1

    def _backspace(self) -> None:
        """BS; at the left edge with reverse-wraparound (mode 45) and autowrap, to the end of
        the row above (the library wraps back only over a soft-wrapped line)."""
        if self.x or not self.mode(45) or not self.mode(7):
            self._write(b"\x08")
            return
        y = self.y
        self._write(b"\x1b[A")  # stops at the top margin: then the cursor stays where it was
        if self.y != y:
            self._write(b"\x1b[%dG" % self.cols)

    def _count_pushed(self) -> None:
        """Count lines that scrolled off the main screen (the scrollback numbers rows by it)."""
        rows = self._scrollback_rows()
        if rows > self._seen_rows:
            self._history.pushed += rows - self._seen_rows
        # (At the library's cap old lines leave as new ones come and the count stands still:
        # a view scrolled far back then drifts with the output instead of holding its text.)
        self._seen_rows = rows

