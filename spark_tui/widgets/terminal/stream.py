"""The general parsing path: text runs and sequences, with the cursor kept in local variables.

A mixin of :class:`emulator.Terminal`. One ``re.split`` cuts a chunk into text runs and
sequences (text, sequence, text, sequence, ..., text), so the loop sees each sequence paired
with the text that follows it: for a full-screen program that is "move the cursor, set a
colour, write a few characters", over and over. The commonest sequences (SGR, cursor position,
CR and LF) are handled inside the loop on local copies of the cursor and attribute, and their
results are memoised per sequence string; everything else writes the locals back, goes through
the ordinary handlers, and reads them again.

The split's alternatives are the parser's grammar: the same sequences, in the same order of
precedence, that the emulator has always recognised (a sequence still open at the very end of
the chunk is held or becomes state, see ``sequences.py``).
"""

from __future__ import annotations

import re
from itertools import islice

from .cells import cells_seen, run_cells
from .control import _ints

# Every sequence or control character, as the one group of a split: the parts alternate text,
# sequence, text ... Order matters (first match wins), as in a tokenizer.
_SPLIT = re.compile(
    # The first character alone, then what follows it: a pattern that starts with one character
    # class lets the regex engine skip text at C speed (an alternation of sequences does not).
    r"([\x00-\x1f\x7f-\x9f](?:(?<=\x1b)(?:"
    r"\[[0-?]*[ -/]*[@-~](?:(?<=m)(?:\x1b(?:\[[0-9;:]*m|\(B))+)?"  # CSI (an SGR with SGRs after it)
    r"|\(B(?:\x1b(?:\[[0-9;:]*m|\(B))+"  # ESC ( B with SGRs after it
    r"|\[[0-?\x00-\x17\x19\x1c-\x1f]*(?:[ -/][ -/\x00-\x17\x19\x1c-\x1f]*)?[@-~]"  # CSI with C0 controls inside
    r"|\][^\x07\x1b]*(?:\x07|\x1b\\|(?=\x1b))"  # OSC
    r"|[P_^X][^\x07\x1b]*(?:\x07|\x1b\\|(?=\x1b))"  # DCS/APC/PM/SOS: dropped
    r"|\[[0-?]*[ -/]*[\x18\x1a]"  # a CSI cancelled by CAN/SUB: dropped
    r"|(?:\[[0-?\x00-\x17\x19\x1c-\x1f]*(?:[ -/][ -/\x00-\x17\x19\x1c-\x1f]*)?|[\]P_^X][^\x07\x1b]*\x1b?|[ -/]*)\Z"  # unfinished
    r"|[ -/]*[0-~]"  # ESC: intermediates, final
    r")"
    r"|(?<=\r)\n"  # CR LF, the commonest pair
    r"|))"  # any other control character (or a stray ESC) alone
)
# A sequence still open at the end of the chunk (the split's "unfinished" alternative).
_UNFINISHED = re.compile(
    r"\x1b(?:\[[0-?\x00-\x17\x19\x1c-\x1f]*(?:[ -/][ -/\x00-\x17\x19\x1c-\x1f]*)?|[\]P_^X][^\x07\x1b]*\x1b?|[ -/]*)"
)
_CSI_PARTS = re.compile(r"\x1b\[([0-?]*)([ -/]*)([@-~])")
_ESC_PARTS = re.compile(r"\x1b([ -/]*)([0-~])")
_C0 = re.compile(r"[\x00-\x1f]")

# SGR sequence -> {attribute before: attribute after}: programs repeat a handful of SGRs a lot.
_sgr_memo: dict[str, dict[int, int]] = {}
_sgr_memo_size = [0]
SGR_MEMO_SIZE = 8192
"""Entries (sequence and attribute pairs) kept; all are dropped when it is reached."""
MEMO_KEY = 72
"""Sequences longer than this are not memoised (the cache stays small whatever comes)."""
_ERASES = frozenset(
    ["\x1b[J", "\x1b[0J", "\x1b[1J", "\x1b[2J", "\x1b[K", "\x1b[0K", "\x1b[1K", "\x1b[2K"]
)
"""ED and EL: they change nothing but cells, so before a full clear they can be left out."""
# What a skipped page may hold besides text, CR and LF (see _skip_pages): SGR, cursor moves,
# erases, cursor show/hide. Found at the first other ESC or control character.
_NOT_PAGE_ESC = re.compile(r"\x1b(?!\[[0-9;:]*[mHJKABCDGd]|\[\?25[hl])")
_NOT_PAGE_CONTROL = re.compile(r"[\x00-\x09\x0b\x0c\x0e-\x1a\x1c-\x1f\x7f-\x9f]")
_csi_seen: dict[str, tuple[str, str, str]] = {}
"""CSI sequence -> (parameters, intermediates, final), for the ones the loop leaves to _csi."""
CSI_SEEN = 2048
CUP_MEMO_SIZE = 16384
"""Cursor positions memoised per terminal (a 200x80 screen has 16,000 cells)."""


class StreamMixin:
    """The parsing loop of :class:`Terminal` (see there for the state it changes)."""

    def _feed_tokens(self, text: str) -> None:
        """The general path: every text run and sequence of ``text`` in turn."""
        if "\x1b[2J" in text and self.screen.history is None:
            text = self._skip_pages(text)
        parts = _SPLIT.split(text)
        if parts[0]:
            self._print(parts[0])
        if len(parts) == 1:
            return
        partial = None
        if not parts[-1] and _UNFINISHED.fullmatch(parts[-2]):
            partial = parts[-2]  # held, or state, for the next chunk
            del parts[-2:]
        end = len(parts)
        clear = _last_clear(parts) if "\x1b[2J" in text else 0
        if clear:
            # Several pages in one chunk (a pager or an editor scrolled fast): the text written
            # before the last full clear is never seen, so it need not be written, as long as
            # it went to a screen without scrollback and no screen switch lies in between.
            switch = _last_switch(parts, clear)
            if switch:
                self._run(parts, 1, switch + 2, False)
            self._run(parts, switch + 2 if switch else 1, clear, self.screen.history is None)
            self._run(parts, clear, end, False)
        else:
            self._run(parts, 1, end, False)
        if partial is not None:
            self._start_long(partial)

    def _skip_pages(self, text: str) -> str:
        """What is left of ``text`` to parse once whole pages that cannot be seen are skipped.

        A pager or an editor scrolled fast sends page after page, each starting with "reset
        the colour, home, clear" (ncurses' sgr0 and clear). When everything before the last
        such start is text, SGRs, cursor moves, erases, CR, LF and cursor show/hide, on a
        screen without scrollback, none of it outlives that start but the cursor's visibility:
        the cells are cleared, the cursor homed, the colour reset (a hyperlink outlives SGR 0
        and nothing here changes one).
        """
        cut = max(text.rfind("\x1b[m\x1b[H\x1b[2J"), text.rfind("\x1b[0m\x1b[H\x1b[2J"))
        if cut <= 0 or _NOT_PAGE_ESC.search(text, 0, cut) is not None or _NOT_PAGE_CONTROL.search(text, 0, cut) is not None:
            return text
        shown = text.rfind("\x1b[?25", 0, cut)
        if shown >= 0:
            self.cursor_visible = text[shown + 5] == "h"
        return text[cut:]

    def _run(self, parts: list[str], start: int, stop: int, dead: bool) -> None:
        """The (sequence, text) pairs of ``parts[start:stop]``; with ``dead``, text that fits on
        its line only moves the cursor (the caller knows a full clear of this screen follows)."""
        if start >= stop:
            return
        sgr_memo = _sgr_memo
        cup_memo = self._cup_memo
        cells_get = cells_seen.get
        # The state the loop changes, in locals (written back around every other handler).
        cols, rows, top, bottom = self.cols, self.rows, self.top, self.bottom
        x, y, attr, pending, last = self.x, self.y, self.attr, self.wrap_pending, self.last_char
        screen = self.screen
        lines = screen.lines
        charsets = self.charsets
        plain = not self.insert_mode and charsets[self.shift_out] == "B"
        origin = self.origin
        newline_mode = self.newline_mode
        autowrap = self.autowrap
        parts_iter = islice(parts, start, stop)
        for seq, run in zip(parts_iter, parts_iter):
            final = seq[-1]
            if (
                (final == "m" or final == "B")
                and (seen := sgr_memo.get(seq)) is not None
                and (new := seen.get(attr)) is not None
                and (charsets[0] == "B" or "(" not in seq)  # (ESC ( B inside: G0 is ASCII already)
            ):
                attr = new
                last = ""
            elif seq == "\x1b(B" and charsets[0] == "B":
                last = ""  # ASCII again, as it was (ncurses sends it before every colour change)
            elif final in "HdG" and not origin and (at := cup_memo.get(seq)) is not None:
                # CUP, VPA, CHA: a row and column, or one of them (-1 keeps the other).
                if at[0] >= 0:
                    y = at[0]
                if at[1] >= 0:
                    x = at[1]
                pending = False
                last = ""
            elif seq == "\r\n":
                x = 0
                pending = False
                last = ""
                if y == bottom:
                    if not dead:
                        screen.scroll_up(top, bottom, 1, attr)
                elif y < rows - 1:
                    y += 1
            elif seq == "\r":
                x = 0
                pending = False
                last = ""
            elif seq == "\n" and not newline_mode:
                pending = False
                last = ""
                if y == bottom:
                    screen.scroll_up(top, bottom, 1, attr)
                elif y < rows - 1:
                    y += 1
            elif seq == "\x08" and x:  # backspace (at column 0 it may wrap back: the usual way)
                x -= 1
                pending = False
                last = ""
            elif dead and seq in _ERASES:
                last = ""  # erasing what a full clear erases again: nothing to do
            elif seq == "\x1b[K":  # erase to the end of the line
                screen.erase(y, cols if pending else x, cols, attr)
                last = ""
            else:
                self.x, self.y, self.attr, self.wrap_pending, self.last_char = x, y, attr, pending, last
                self._sequence(seq)
                cols, rows, top, bottom = self.cols, self.rows, self.top, self.bottom
                x, y, attr, pending, last = self.x, self.y, self.attr, self.wrap_pending, self.last_char
                screen = self.screen
                lines = screen.lines
                charsets = self.charsets
                plain = not self.insert_mode and charsets[self.shift_out] == "B"
                origin = self.origin
                newline_mode = self.newline_mode
                autowrap = self.autowrap
            if run:
                end = x + len(run)
                if end <= cols and not pending and plain and (cells := cells_get(run) or run_cells(run)) is not None:
                    # The text fits on the line: one slice assignment (of the run's cells).
                    if not dead:
                        line = lines[y]
                        chars = line.chars
                        if x and chars[x] == "":
                            chars[x - 1] = " "
                        if end < cols and chars[end] == "":
                            chars[end] = " "
                        chars[x:end] = cells
                        line.attrs[x:end] = [attr] * (end - x)
                        line.cache = None
                    if end < cols:
                        x = end
                    else:  # up to the last column: the cursor stays there, a wrap pending
                        x = cols - 1
                        pending = autowrap
                    last = run[-1]
                else:
                    self.x, self.y, self.attr, self.wrap_pending, self.last_char = x, y, attr, pending, last
                    self._print(run)
                    x, y, pending, last = self.x, self.y, self.wrap_pending, self.last_char
        self.x, self.y, self.attr, self.wrap_pending, self.last_char = x, y, attr, pending, last

    def _sequence(self, seq: str) -> None:
        """One sequence or control character, the ordinary way (``seq`` is complete)."""
        if len(seq) == 1:
            self.last_char = ""
            if seq == "\n" or seq == "\x0b" or seq == "\x0c":
                self._linefeed()
            elif seq == "\r":
                self.x = 0
                self.wrap_pending = False
            else:
                self._control(seq)
            return
        if seq == "\r\n":
            self.last_char = ""
            self.x = 0
            self.wrap_pending = False
            self._index()
            return
        if seq.count("\x1b") > 1:  # SGRs and ESC ( B in a row: one token, each in turn
            before = self.attr
            for piece in seq[1:].split("\x1b"):
                self._sequence("\x1b" + piece)
            if len(seq) <= MEMO_KEY:
                self._remember(seq, "", "m", before)
            return
        kind = seq[1]
        if kind == "[":
            parsed = _csi_seen.get(seq)
            if parsed is None and (match := _CSI_PARTS.fullmatch(seq)) is not None:
                parsed = match.groups()
                if len(seq) <= MEMO_KEY:
                    if len(_csi_seen) >= CSI_SEEN:
                        _csi_seen.clear()
                    _csi_seen[seq] = parsed
            if parsed is not None:
                params, inter, final = parsed
                if final != "b":
                    self.last_char = ""  # any sequence ends what REP may repeat (as tmux)
                before = self.attr
                self._csi(params, inter, final)
                if final in "mHdG" and not inter and len(seq) <= MEMO_KEY:
                    self._remember(seq, params, final, before)
            elif seq[-1] in "\x18\x1a":
                return  # cancelled
            elif len(seq) == 2:
                self.last_char = ""
                self._esc("", "[")
            else:
                self.last_char = ""
                self._csi_with_controls(seq)
        elif kind == "]":
            self.last_char = ""
            body = seq[2:]
            if body.endswith("\x07"):
                body = body[:-1]
            elif body.endswith("\x1b\\"):
                body = body[:-2]
            self._osc(body)
        elif kind in "P_^X":
            return  # a DCS/APC/PM/SOS string: dropped
        else:
            match = _ESC_PARTS.fullmatch(seq)
            self.last_char = ""
            if match is not None:
                self._esc(*match.groups())

    def _remember(self, seq: str, params: str, final: str, before: int) -> None:
        """Memoise what a plain SGR or cursor position (CUP, VPA, CHA) did, for the loop."""
        if params and params[0] in "<=>?":
            return
        if final == "m":
            if _sgr_memo_size[0] >= SGR_MEMO_SIZE:
                _sgr_memo.clear()
                _sgr_memo_size[0] = 0
            _sgr_memo.setdefault(seq, {})[before] = self.attr
            _sgr_memo_size[0] += 1
        elif not self.origin:
            memo = self._cup_memo
            if len(memo) >= CUP_MEMO_SIZE:
                memo.clear()
            memo[seq] = (self.y, self.x) if final == "H" else (self.y, -1) if final == "d" else (-1, self.x)

    def _csi_with_controls(self, sequence: str) -> None:
        """A CSI with C0 controls inside: the controls act first (as in xterm), then the CSI."""
        for char in sequence[2:]:
            if char < " ":
                if char == "\n" or char == "\x0b" or char == "\x0c":
                    self._linefeed()
                elif char == "\r":
                    self.x = 0
                    self.wrap_pending = False
                else:
                    self._control(char)
        params, inter, final = _CSI_PARTS.match("\x1b[" + _C0.sub("", sequence[2:])).groups()
        self._csi(params, inter, final)



def _last_clear(parts: list[str]) -> int:
    """Index in ``parts`` of the last ``CSI 2 J`` (0 if none)."""
    for index in range(len(parts) - 2, 0, -2):
        if parts[index] == "\x1b[2J":
            return index
    return 0


def _last_switch(parts: list[str], before: int) -> int:
    """Index in ``parts`` of the last sequence before ``before`` that switches screens or might
    (0 if none). Only a sequence ending in h, l or c can."""
    for index in range(before - 2, 0, -2):
        seq = parts[index]
        if seq[-1] in "hlc" and _switches_screen(seq):
            return index
    return 0


def _switches_screen(seq: str) -> bool:
    """True when ``seq`` is RIS or sets or resets a private mode that switches screens, or is a
    CSI with controls inside (not looked into)."""
    if seq == "\x1bc":
        return True
    if not seq.startswith("\x1b[") or seq[-1] not in "hl":
        return False
    match = _CSI_PARTS.fullmatch(seq)
    if match is None:
        return True
    params = match.group(1)
    return params.startswith("?") and any(mode in (47, 1047, 1049) for mode in _ints(params[1:]))
