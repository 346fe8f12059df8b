"""Writing text into the grid: the hot path of the emulator.

A mixin of :class:`emulator.Terminal`. Printable runs are written with one slice assignment
per line; runs of whole lines separated by CR LF (a log flood) take a bulk path that stores
lines scrolling straight into the history without building a :class:`Line` for them.
"""

from __future__ import annotations

from itertools import repeat

import re

from .cells import BG_MASK, DEC_GRAPHICS, Line, narrow_run, shown_as, store_line
from .sgr import apply_sgr

# An SGR's parameters, as ``re.split`` separators: text, params, text, params, ..., text.
_SGR_SPLIT = re.compile(r"\x1b\[([0-9;]*)m")

MAX_CELL_CHARS = 8
"""Characters one cell may hold: its base character and a few combining marks."""


class TextMixin:
    """Printing, line feeds and scrolling for :class:`Terminal` (see there for the state)."""

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
            screen.lines[:] = [Line(list(text.ljust(cols)), [attr] * cols) for text in parts]
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
            line = Line(list(text) + [" "] * (cols - size), [attr] * size + [blank] * (cols - size), wrapped)
            lines.append(line)
        self._finish_bulk(new_rows)

    def _bulk_sgr_lines(self, parts: list[str]) -> int:
        """Each part: CR LF (scrolling) then the part's printable ASCII and SGRs, at the bottom
        of a full-screen scroll region (a coloured log flood).

        Returns how many parts were done: 0 when the state does not allow it, fewer than all
        when a line would wrap (that line and the rest are the caller's)."""
        cols = self.cols
        rows = self.rows
        if not (
            self.y == self.bottom == rows - 1
            and self.top == 0
            and self.autowrap
            and not self.insert_mode
            and self.charsets[self.shift_out] == "B"
        ):
            return 0
        attr = self.attr
        built: list[tuple[str, tuple[tuple[int, int], ...]]] = []
        for part in parts:
            blank = attr & BG_MASK  # the row was blanked with the colour in force at its CR LF
            if "\x1b" not in part:
                size = len(part)
                if size > cols:
                    break
                if size == cols or attr == blank:
                    runs = ((attr, cols),)
                elif size == 0:
                    runs = ((blank, cols),)
                else:
                    runs = ((attr, size), (blank, cols - size))
                built.append((part, runs))
                continue
            pieces = _SGR_SPLIT.split(part)
            line_attr = attr
            runs_list = []
            size = 0
            text = pieces[0]
            if text:
                runs_list.append((attr, len(text)))
                size = len(text)
            for index in range(1, len(pieces), 2):
                attr = apply_sgr(attr, pieces[index])
                piece = pieces[index + 1]
                if piece:
                    if runs_list and runs_list[-1][0] == attr:
                        runs_list[-1] = (attr, runs_list[-1][1] + len(piece))
                    else:
                        runs_list.append((attr, len(piece)))
                    size += len(piece)
                    text += piece
            if size > cols:
                attr = line_attr
                break
            if size < cols:
                if runs_list and runs_list[-1][0] == blank:
                    runs_list[-1] = (blank, runs_list[-1][1] + cols - size)
                else:
                    runs_list.append((blank, cols - size))
            built.append((text, tuple(runs_list)))
        if not built:
            return 0
        self.attr = attr
        screen = self.screen
        history = screen.history
        lines = screen.lines
        keep = built[-rows:]
        if history is not None:
            scrolled = lines[: min(len(built), rows)]
            for line in scrolled:
                history.append(store_line(line))
            for text, runs in built[: len(built) - len(keep)]:
                history.append((text.ljust(cols), runs, False))
            screen.pushed += len(built)
        del lines[: len(keep)]
        for text, runs in keep:
            cells: list[int] = []
            for run_attr, length in runs:
                cells.extend([run_attr] * length)
            lines.append(Line(list(text.ljust(cols)), cells))
        self.x = 0
        self.wrap_pending = False
        self.last_char = ""
        return len(built)

    def _finish_bulk(self, new_rows: list[tuple[str, bool]]) -> None:
        """Cursor after the last written row; remember the last printed character."""
        cols = self.cols
        size = len(new_rows[-1][0])
        self.wrap_pending = size == cols
        self.x = cols - 1 if size == cols else size
        self.last_char = new_rows[-1][0][-1:]

    # -- text ----------------------------------------------------------------------------

    def _print(self, run: str) -> None:
        if self.charsets[self.shift_out] == "0":
            run = run.translate(DEC_GRAPHICS)
        self.last_char = run[-1]
        if run.isascii() or narrow_run(run):  # one cell per character
            x = self.x
            end = x + len(run)
            if end < self.cols and not self.wrap_pending and not self.insert_mode:
                # Fits on the line: one slice assignment (the common case).
                line = self.screen.lines[self.y]
                chars = line.chars
                if chars[x] == "" and x:
                    chars[x - 1] = " "
                if chars[end] == "":
                    chars[end] = " "
                chars[x:end] = run
                line.attrs[x:end] = [self.attr] * len(run)
                line.cache = None
                self.x = end
                return
            self._print_ascii(run)
        else:
            self._print_wide(run)

    def _print_ascii(self, run: str) -> None:
        """Write ``run``, one character a cell (ASCII or ``narrow_run``), wrapping as set."""
        cols = self.cols
        lines = self.screen.lines
        attr = self.attr
        total = len(run)
        pos = 0
        while pos < total:
            if self.wrap_pending:
                self.wrap_pending = False
                lines[self.y].wrapped = True
                self.x = 0
                self._index()
            x = self.x
            space = cols - x
            if not self.autowrap and total - pos > space:
                chunk = run[pos : pos + space - 1] + run[-1]
                pos = total
            else:
                chunk = run[pos : pos + space]
                pos += len(chunk)
            count = len(chunk)
            line = lines[self.y]
            chars = line.chars
            if self.insert_mode:
                self.screen.insert_cells(self.y, x, count, self.attr)
            end = x + count
            if chars[x] == "" and x:
                chars[x - 1] = " "
            if end < cols and chars[end] == "":
                chars[end] = " "
            chars[x:end] = chunk
            line.attrs[x:end] = [attr] * count
            line.cache = None
            if end >= cols:
                self.x = cols - 1
                self.wrap_pending = self.autowrap
            else:
                self.x = end

    def _print_wide(self, run: str) -> None:
        for char in run:
            char, width = shown_as(char)
            if width == 1:
                self._print_ascii(char)  # same placement rules, any one-column character
            elif width == 2:
                self._put_wide(char)
            elif width == 0:
                self._combine(char)

    def _put_wide(self, char: str) -> None:
        cols = self.cols
        if cols < 2:
            return
        lines = self.screen.lines
        if self.wrap_pending or self.x >= cols - 1:
            if self.autowrap:
                if not self.wrap_pending:
                    self.screen.erase(self.y, self.x, cols, self.attr)
                self.wrap_pending = False
                lines[self.y].wrapped = True
                self.x = 0
                self._index()
            else:
                self.x = cols - 2
        x = self.x
        line = lines[self.y]
        chars = line.chars
        if chars[x] == "" and x:
            chars[x - 1] = " "
        if x + 2 < cols and chars[x + 2] == "":
            chars[x + 2] = " "
        chars[x] = char
        chars[x + 1] = ""
        line.attrs[x] = line.attrs[x + 1] = self.attr
        line.cache = None
        if x + 2 >= cols:
            self.x = cols - 1
            self.wrap_pending = self.autowrap
        else:
            self.x = x + 2

    def _combine(self, char: str) -> None:
        x = self.x if self.wrap_pending else self.x - 1
        if x < 0:
            return
        line = self.screen.lines[self.y]
        if line.chars[x] == "" and x > 0:
            x -= 1
        if len(line.chars[x]) >= MAX_CELL_CHARS:
            return  # a cell keeps a base and a few marks; a flood of marks must stay linear
        line.chars[x] += char
        line.cache = None

    # -- line feeds and scrolling ----------------------------------------------------------

    def _linefeed(self) -> None:
        self.wrap_pending = False
        self._index()
        if self.newline_mode:
            self.x = 0

    def _index(self) -> None:
        if self.y == self.bottom:
            self.screen.scroll_up(self.top, self.bottom, 1, self.attr)
        elif self.y < self.rows - 1:
            self.y += 1

    def _reverse_index(self) -> None:
        self.wrap_pending = False
        if self.y == self.top:
            self.screen.scroll_down(self.top, self.bottom, 1, self.attr)
        elif self.y > 0:
            self.y -= 1
