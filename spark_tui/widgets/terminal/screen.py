"""A grid of lines plus its scrollback: the editing operations the emulator performs.

The emulator keeps two of these (main and alternate). Only the main screen has a scrollback,
bounded by a line count and stored compactly (see :func:`cells.store_line`), so a flood of
output costs a fixed amount of memory.
"""

from __future__ import annotations

from collections import deque

from .cells import BG_MASK, Line, StoredLine, store_line


class Screen:
    """Rows of cells and the scrollback above them.

    Args:
        cols: Columns.
        rows: Rows.
        scrollback: Lines kept above the screen; 0 means none (the alternate screen).

    Attributes:
        lines: The visible rows, top first.
        history: Scrolled-off lines, oldest first (``None`` when this screen keeps none).
        pushed: Lines pushed into ``history`` since creation (lets a view stay anchored).
        saved: The cursor saved by DECSC on this screen, or ``None``.
    """

    def __init__(self, cols: int, rows: int, scrollback: int = 0) -> None:
        self.cols = cols
        self.rows = rows
        self.lines: list[Line] = [Line.blank(cols) for _ in range(rows)]
        self.history: deque[StoredLine] | None = deque(maxlen=scrollback) if scrollback else None
        self.pushed = 0
        self.saved: tuple | None = None

    def scroll_up(self, top: int, bottom: int, count: int, attr: int) -> None:
        """Move rows ``top..bottom`` up by ``count``; blank rows appear at the bottom.

        Rows leaving the top of the whole screen go to the scrollback.
        """
        lines = self.lines
        blank = attr & BG_MASK
        cols = self.cols
        if count == 1 and top == 0 and bottom == self.rows - 1:  # the common case: one line feed
            line = lines.pop(0)
            if self.history is not None:
                self.history.append(store_line(line))
                self.pushed += 1
            lines.append(Line([" "] * cols, [blank] * cols))
            return
        count = min(count, bottom - top + 1)
        if count <= 0:
            return
        if top == 0 and bottom == self.rows - 1 and self.history is not None:
            history = self.history
            for line in lines[:count]:
                history.append(store_line(line))
            self.pushed += count
        del lines[top : top + count]
        at = bottom - count + 1
        lines[at:at] = [Line([" "] * cols, [blank] * cols) for _ in range(count)]

    def scroll_down(self, top: int, bottom: int, count: int, attr: int) -> None:
        """Move rows ``top..bottom`` down by ``count``; blank rows appear at the top."""
        count = min(count, bottom - top + 1)
        if count <= 0:
            return
        lines = self.lines
        blank = attr & BG_MASK
        cols = self.cols
        del lines[bottom - count + 1 : bottom + 1]
        lines[top:top] = [Line([" "] * cols, [blank] * cols) for _ in range(count)]

    def erase(self, row: int, start: int, end: int, attr: int) -> None:
        """Blank cells ``start..end-1`` of ``row`` with the background of ``attr``."""
        start = max(0, start)
        end = min(self.cols, end)
        if start >= end:
            return
        line = self.lines[row]
        chars = line.chars
        if chars[start] == "" and start > 0:
            chars[start - 1] = " "
        if end < self.cols and chars[end] == "":
            chars[end] = " "
        chars[start:end] = [" "] * (end - start)
        line.attrs[start:end] = [attr & BG_MASK] * (end - start)
        line.cache = None

    def erase_rows(self, first: int, last: int, attr: int) -> None:
        """Blank whole rows ``first..last-1``.

        The rows' cells are overwritten in place (no new lists): a full-screen program clears
        the screen for every page it draws.
        """
        cols = self.cols
        blank = attr & BG_MASK
        chars = [" "] * cols
        attrs = [blank] * cols
        lines = self.lines
        for row in range(max(0, first), min(self.rows, last)):
            line = lines[row]
            # A row that is blank already stays (a flood of ED or RIS costs a comparison a row).
            if line.wrapped or line.attrs != attrs or line.chars != chars:
                line.chars[:] = chars
                line.attrs[:] = attrs
                line.wrapped = False
                line.cache = None

    def insert_cells(self, row: int, col: int, count: int, attr: int) -> None:
        """Insert ``count`` blanks at ``col``, pushing the rest right (cut at the edge)."""
        line = self.lines[row]
        count = min(count, self.cols - col)
        if count <= 0:
            return
        if line.chars[col] == "" and col > 0:
            line.chars[col - 1] = " "
            line.chars[col] = " "
        line.chars[col:col] = [" "] * count
        line.attrs[col:col] = [attr & BG_MASK] * count
        del line.chars[self.cols :]
        del line.attrs[self.cols :]
        self._fix_edge(line)
        line.cache = None

    def delete_cells(self, row: int, col: int, count: int, attr: int) -> None:
        """Delete ``count`` cells at ``col``, pulling the rest left; blanks enter at the edge."""
        line = self.lines[row]
        count = min(count, self.cols - col)
        if count <= 0:
            return
        if line.chars[col] == "" and col > 0:
            line.chars[col - 1] = " "
        del line.chars[col : col + count]
        del line.attrs[col : col + count]
        if line.chars[col:col + 1] == [""]:
            line.chars[col] = " "
        line.chars.extend([" "] * count)
        line.attrs.extend([attr & BG_MASK] * count)
        line.cache = None

    def _fix_edge(self, line: Line) -> None:
        from .cells import char_width

        last = line.chars[-1]
        if last and char_width(last[0]) == 2:
            line.chars[-1] = " "

    def clear_history(self) -> None:
        """Forget the scrollback (``CSI 3 J``)."""
        if self.history is not None:
            self.history.clear()

    def resize(self, cols: int, rows: int, cursor_row: int) -> int:
        """Change the size; returns where the cursor's row went.

        When the screen shrinks below the cursor, rows leave at the top (into the scrollback)
        so the cursor's line stays visible, as xterm and tmux do.
        """
        for line in self.lines:
            line.resize(cols)
        self.cols = cols
        if rows < self.rows:
            excess = max(0, cursor_row - rows + 1)
            if excess:
                if self.history is not None:
                    for line in self.lines[:excess]:
                        self.history.append(store_line(line))
                    self.pushed += excess
                del self.lines[:excess]
                cursor_row -= excess
            del self.lines[rows:]
        while len(self.lines) < rows:
            self.lines.append(Line.blank(cols))
        self.rows = rows
        return min(cursor_row, rows - 1)
