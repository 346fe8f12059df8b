"""Writing text into the grid: printing runs, wide characters, line feeds and scrolling.

A mixin of :class:`emulator.Terminal`. Printable runs are written with one slice assignment
per line (floods of whole lines have their own path, see ``bulk.py``).
"""

from __future__ import annotations

from .cells import DEC_GRAPHICS, narrow_run, shown_as

MAX_CELL_CHARS = 8
"""Characters one cell may hold: its base character and a few combining marks."""


class TextMixin:
    """Printing, line feeds and scrolling for :class:`Terminal` (see there for the state)."""

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
