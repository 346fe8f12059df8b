"""Floods of whole lines (a log, a listing): lines that scroll straight into the history.

A mixin of :class:`emulator.Terminal`. When a chunk is nothing but printable lines separated
by CR LF (with or without SGRs), and the cursor sits on the bottom row of a full-screen scroll
region, every line but the last few scrolls off at once: those are stored in the history's
compact form directly, without ever becoming a :class:`Line`, the rows left on the screen stay
in that form until something reads their cells (:class:`PendingLine`), and wrapped lines are
cut into rows the way printing them would.
"""

from __future__ import annotations

import re
from itertools import repeat

from .cells import BG_MASK, PendingLine, store_line
from .sgr import _memo as _sgr_memo
from .sgr import apply_sgr

# An SGR's parameters, as ``re.split`` separators: text, params, text, params, ..., text.
_SGR_SPLIT = re.compile(r"\x1b\[([0-9;]*)m")
_NOT_SGR = re.compile(r"\x1b(?!\[[0-9;]*m)")
# ASCII control characters other than CR, LF and ESC.
_CONTROL_BYTES = bytes(code for code in range(32) if code not in (10, 13, 27)) + b"\x7f"


def only_crlf_pairs(text: str) -> bool:
    """True when every CR in ``text`` is followed by LF and every LF preceded by CR."""
    pairs = text.count("\r\n")
    return pairs == text.count("\r") == text.count("\n")


class BulkMixin:
    """Line floods for :class:`Terminal` (see there for the state)."""

    def _coloured_lines(self, text: str) -> bool:
        """A flood of lines with colours (``ESC[32m...ESC[0m`` CR LF): whole lines in bulk.

        Taken only when SGRs, printable ASCII and CR LF pairs are all there is; the first line
        (which continues the cursor's line) and the unfinished last one go the usual way.
        Returns False (nothing consumed) when the text does not have that shape.
        """
        last = text.rfind("\r\n")
        if _NOT_SGR.search(text, 0, last) is not None:
            return False  # a full-screen program's output: found at its first cursor move
        # Every ESC starts an SGR (above); between them printable ASCII and CR LF pairs only.
        # (The tail may hold half a sequence: not checked.)
        head = text[:last]
        if not head.isascii() or not only_crlf_pairs(head):
            return False
        encoded = head.encode("ascii")
        if len(encoded.translate(None, _CONTROL_BYTES)) != len(encoded):  # (C speed, 3x a regex)
            return False
        first = text.find("\r\n")
        self._feed_tokens(text[:first])
        parts = text[first + 2 : last].split("\r\n")
        if parts and not self._bulk_sgr_lines(parts):  # a state the bulk path does not handle
            self._feed_tokens("\r\n" + "\r\n".join(parts))
        self._feed_tokens(text[last:])
        return True

    def _feed_lines(self, parts: list[str]) -> None:
        """Write printable ASCII lines separated by CR LF (``parts`` as from ``split``).

        The common case of a flood (cursor on the bottom row of a full-screen scroll region)
        is done in bulk: lines that scroll straight off are stored without ever becoming
        :class:`Line` objects.
        """
        last = len(parts) - 1
        index = 0
        if parts[0]:
            self._print(parts[0])
        while index < last:
            if (
                self.y == self.bottom == self.rows - 1
                and self.top == 0
                and self.autowrap
                and not self.insert_mode
                and self.charsets[self.shift_out] == "B"
            ):
                self._bulk_lines(parts[index + 1 :])
                return
            index += 1
            self.x = 0
            self._linefeed()
            if parts[index]:
                self._print(parts[index])
        if last and not parts[last]:
            self.last_char = ""

    def _bulk_lines(self, parts: list[str]) -> None:
        """Each part: CR LF (scrolling) then the part's text at column 0, wrapping long ones."""
        cols = self.cols
        rows = self.rows
        attr = self.attr
        blank = attr & BG_MASK
        screen = self.screen
        history = screen.history
        if history is not None and attr == blank and len(parts) > rows and max(map(len, parts)) <= cols:
            # The flood's steady state: no line wraps and one attribute fills every cell, so the
            # lines that scroll straight into the history are stored with C-level iteration.
            straight = len(parts) - rows
            for line in screen.lines:
                history.append(store_line(line))
            history.extend(zip(map(str.ljust, parts[:straight], repeat(cols)), repeat(((attr, cols),)), repeat(False)))
            screen.pushed += len(parts)
            parts = parts[straight:]
            runs = ((attr, cols),)
            screen.lines[:] = [PendingLine(text.ljust(cols), runs) for text in parts]
            self._finish_bulk([(text, False) for text in parts])
            return
        # Split each part into rows; a row is (text, wrapped).
        new_rows: list[tuple[str, bool]] = []
        for part in parts:
            if len(part) <= cols:
                new_rows.append((part, False))
            else:
                for start in range(0, len(part), cols):
                    new_rows.append((part[start : start + cols], start + cols < len(part)))
        count = len(new_rows)
        lines = screen.lines
        if history is not None:
            for line in lines[: min(count, rows)]:
                history.append(store_line(line))
            screen.pushed += count
        if count > rows:
            if history is not None:
                same = attr == blank
                for text, wrapped in new_rows[: count - rows]:
                    size = len(text)
                    if same or size == cols:
                        runs = ((attr, cols),)
                    elif size == 0:
                        runs = ((blank, cols),)
                    else:
                        runs = ((attr, size), (blank, cols - size))
                    history.append((text + " " * (cols - size), runs, wrapped))
            new_rows = new_rows[count - rows :]
            del lines[:]
        else:
            del lines[:count]
        for text, wrapped in new_rows:
            size = len(text)
            if size == cols or (size and attr == blank):
                runs = ((attr, cols),)
            elif not size:
                runs = ((blank, cols),)
            else:
                runs = ((attr, size), (blank, cols - size))
            lines.append(PendingLine(text.ljust(cols), runs, wrapped))
        self._finish_bulk(new_rows)

    def _bulk_sgr_lines(self, parts: list[str]) -> bool:
        """Each part: CR LF (scrolling) then the part's printable ASCII and SGRs, at the bottom
        of a full-screen scroll region (a coloured log flood).

        Returns False (nothing done) when the state does not allow it.
        """
        cols = self.cols
        rows = self.rows
        if not (
            self.y == self.bottom == rows - 1
            and self.top == 0
            and self.autowrap
            and not self.insert_mode
            and self.charsets[self.shift_out] == "B"
        ):
            return False
        attr = self.attr
        memo = _sgr_memo
        split = _SGR_SPLIT.split
        built: list[tuple[str, tuple[tuple[int, int], ...], bool]] = []
        for part in parts:
            blank = attr & BG_MASK  # the row was blanked with the colour in force at its CR LF
            if "\x1b" not in part:
                size = len(part)
                if size > cols:
                    built.extend(_wrapped_rows(part, [(attr, size)], blank, cols))
                elif size == cols or attr == blank:
                    built.append((part, ((attr, cols),), False))
                elif size == 0:
                    built.append((part, ((blank, cols),), False))
                else:
                    built.append((part, ((attr, size), (blank, cols - size)), False))
                continue
            pieces = split(part)
            text = pieces[0]
            runs = [(attr, len(text))] if text else []
            for index in range(1, len(pieces), 2):
                params = pieces[index]
                new = memo.get((attr, params))
                attr = new if new is not None else apply_sgr(attr, params)
                piece = pieces[index + 1]
                if piece:
                    if runs and runs[-1][0] == attr:
                        runs[-1] = (attr, runs[-1][1] + len(piece))
                    else:
                        runs.append((attr, len(piece)))
                    text += piece
            size = len(text)
            if size > cols:
                built.extend(_wrapped_rows(text, runs, blank, cols))
                continue
            if size < cols:
                if runs and runs[-1][0] == blank:
                    runs[-1] = (blank, runs[-1][1] + cols - size)
                else:
                    runs.append((blank, cols - size))
            built.append((text, tuple(runs), False))
        self.attr = attr
        screen = self.screen
        history = screen.history
        lines = screen.lines
        keep = built[-rows:]
        if history is not None:
            for line in lines[: min(len(built), rows)]:
                history.append(store_line(line))
            history.extend((text.ljust(cols), runs, wrapped) for text, runs, wrapped in built[: len(built) - len(keep)])
            screen.pushed += len(built)
        del lines[: len(keep)]
        lines.extend(PendingLine(text.ljust(cols), runs, wrapped) for text, runs, wrapped in keep)
        size = len(built[-1][0])
        self.x = cols - 1 if size == cols else size
        self.wrap_pending = size == cols
        self.last_char = built[-1][0][-1:]
        return True

    def _finish_bulk(self, new_rows: list[tuple[str, bool]]) -> None:
        """Cursor after the last written row; remember the last printed character."""
        cols = self.cols
        size = len(new_rows[-1][0])
        self.wrap_pending = size == cols
        self.x = cols - 1 if size == cols else size
        self.last_char = new_rows[-1][0][-1:]



def _wrapped_rows(
    text: str, runs: list[tuple[int, int]], blank: int, cols: int
) -> list[tuple[str, tuple[tuple[int, int], ...], bool]]:
    """A line longer than the screen, cut into rows as printing it would: every row but the
    last is full and marked wrapped; the last row's empty cells have the background of the
    colour its first character was printed with (the colour in force when the line wrapped),
    or ``blank`` when there is only the first row."""
    if len(runs) == 1:  # one colour for the whole line (a log line): no runs to cut
        attr = runs[0][0]
        size = len(text)
        full = ((attr, cols),)
        result = [(text[start : start + cols], full, True) for start in range(0, size - cols, cols)]
        start = len(result) * cols
        rest = size - start
        fill = attr & BG_MASK
        last_runs = full if rest == cols or fill == attr else ((attr, rest), (fill, cols - rest))
        result.append((text[start:], last_runs, False))
        return result
    cut: list[list[tuple[int, int]]] = [[]]
    room = cols
    for attr, length in runs:
        while length:
            if not room:
                cut.append([])
                room = cols
            take = min(length, room)
            row = cut[-1]
            if row and row[-1][0] == attr:
                row[-1] = (attr, row[-1][1] + take)
            else:
                row.append((attr, take))
            room -= take
            length -= take
    result = []
    last = len(cut) - 1
    for index, row in enumerate(cut):
        piece = text[index * cols : (index + 1) * cols]
        size = len(piece)
        if size < cols:
            fill = blank if index == 0 else row[0][0] & BG_MASK
            if row and row[-1][0] == fill:
                row[-1] = (fill, row[-1][1] + cols - size)
            else:
                row.append((fill, cols - size))
        result.append((piece, tuple(row), index < last))
    return result
