"""What the view shows of the history: scroll position, search, selection and copied text.

Plain state over a :class:`Terminal`, no Textual, so it is tested without an app. Rows are
addressed by an absolute number that does not change when output scrolls: line ``n`` is the
``n``-th line that ever reached the screen, so a selection or a search match stays on its
text while a flood scrolls past.
"""

from __future__ import annotations

from .cells import Line, StoredLine
from .emulator import Terminal


def _cells_of(stored: StoredLine | None, line: Line | None) -> list[str]:
    if line is not None:
        return line.chars
    cells = stored[0]
    return list(cells)


def _text_and_columns(cells: list[str]) -> tuple[str, list[int]]:
    """The row's text and, for each character of it, the cell it sits in."""
    columns: list[int] = []
    for col, cell in enumerate(cells):
        columns.extend([col] * len(cell))
    return "".join(cells), columns


class Scrollback:
    """Scroll offset, search and selection for one terminal.

    Attributes:
        offset: Lines scrolled back from the live screen (0 = live).
        searching: The search prompt is open.
        query: The text being searched for.
        hold: Keep the view on its text while output arrives even at offset 0 (copy mode).
    """

    def __init__(self, terminal: Terminal) -> None:
        self.terminal = terminal
        self.offset = 0
        self.searching = False
        self.query = ""
        self._match: int | None = None  # absolute row of the current match
        self._pushed = 0
        self._screen = terminal.screen
        self._anchor: tuple[int, int] | None = None  # selection start (abs row, col)
        self._head: tuple[int, int] | None = None  # selection end
        self._selected_on_screen: dict[int, str] = {}  # abs row -> its text, for rows still live
        self.hold = False

    # -- geometry ----------------------------------------------------------------------------

    def _history_len(self) -> int:
        history = self.terminal.screen.history
        return len(history) if history is not None else 0

    def _first_abs(self) -> int:
        """Absolute number of the oldest row still kept."""
        screen = self.terminal.screen
        return screen.pushed - self._history_len()

    def _abs_of_view_row(self, y: int) -> int:
        return self.terminal.screen.pushed - self.offset + y

    def row_at(self, y: int) -> tuple[StoredLine | None, Line | None] | None:
        """What view row ``y`` shows: ``(stored, None)`` for history, ``(None, line)`` for the screen."""
        return self._row(self._abs_of_view_row(y))

    @property
    def first_row(self) -> int:
        """Absolute number of the oldest row still kept."""
        return self._first_abs()

    @property
    def last_row(self) -> int:
        """Absolute number of the live screen's bottom row."""
        return self.terminal.screen.pushed + self.terminal.rows - 1

    @property
    def top_row(self) -> int:
        """Absolute number of the row at the top of the view."""
        return self._abs_of_view_row(0)

    def cells(self, absolute: int) -> tuple[list[str], bool] | None:
        """The cells of absolute row ``absolute`` and whether it wraps onto the next, if kept."""
        row = self._row(absolute)
        if row is None:
            return None
        stored, line = row
        return _cells_of(stored, line), (line.wrapped if line is not None else bool(stored[2]))

    def reveal(self, absolute: int) -> None:
        """Scroll as little as needed for absolute row ``absolute`` to be in the view."""
        top = self._abs_of_view_row(0)
        rows = self.terminal.rows
        if absolute < top:
            self.scroll(top - absolute)
        elif absolute >= top + rows:
            self.scroll(top + rows - 1 - absolute)

    def _row(self, absolute: int) -> tuple[StoredLine | None, Line | None] | None:
        screen = self.terminal.screen
        index = absolute - screen.pushed
        if index >= 0:
            return (None, screen.lines[index]) if index < len(screen.lines) else None
        history = screen.history
        position = len(history) + index if history is not None else -1
        if position < 0:
            return None
        return (history[position], None)

    # -- scrolling ---------------------------------------------------------------------------

    def follow(self) -> None:
        """Call after feeding output: keep a scrolled-back view on the same text.

        When the remote switches between the main and the alternate screen, the view goes
        back to the live screen and any selection is dropped (its rows belonged to the other one).
        """
        screen = self.terminal.screen
        if screen is not self._screen:
            self._screen = screen
            self.to_bottom()
            self.clear_selection()
            self.hold = False
        if self._selected_on_screen:
            self._drop_selection_if_rewritten()
        pushed = screen.pushed
        if self.offset or self.hold:
            self.offset = min(self.offset + pushed - self._pushed, self._history_len())
        self._pushed = pushed

    def scroll(self, lines: int) -> None:
        """Scroll back (positive) or forward (negative) by ``lines``."""
        self._pushed = self.terminal.screen.pushed
        self.offset = max(0, min(self.offset + lines, self._history_len()))

    def to_bottom(self) -> None:
        """Back to the live screen; closes the search."""
        self.offset = 0
        self.searching = False
        self.query = ""
        self._match = None

    # -- search -----------------------------------------------------------------------------

    def open_search(self) -> None:
        """Open the search prompt (matches are looked for from the bottom of the view up)."""
        self.searching = True
        self.query = ""
        self._match = self._abs_of_view_row(self.terminal.rows)

    def search_key(self, key: str, character: str | None) -> None:
        """Edit the query: printable characters, backspace; enter searches, escape closes."""
        if key == "escape":
            self.searching = False
        elif key == "enter":
            self.searching = False
            self.find(older=True)
        elif key == "backspace":
            self.query = self.query[:-1]
        elif character and character.isprintable():
            self.query += character

    def find(self, *, older: bool = True) -> bool:
        """Move to the next match of ``query`` (older or newer); True when one was found."""
        if not self.query:
            return False
        needle = self.query.lower()
        first = self._first_abs()
        last = self.terminal.screen.pushed + self.terminal.rows - 1
        start = self._match if self._match is not None else last + 1
        rows = range(start - 1, first - 1, -1) if older else range(start + 1, last + 1)
        for absolute in rows:
            row = self._row(absolute)
            if row is None:
                continue
            text, _ = _text_and_columns(_cells_of(*row))
            if needle in text.lower():
                self._match = absolute
                self._show(absolute)
                return True
        return False

    @property
    def match(self) -> tuple[int, int] | None:
        """Where the current search match starts: (absolute row, column), or ``None``."""
        if not self.query or self._match is None:
            return None
        row = self._row(self._match)
        if row is None:
            return None
        text, columns = _text_and_columns(_cells_of(*row))
        at = text.lower().find(self.query.lower())
        return (self._match, columns[at]) if at >= 0 and len(text) == len(text.lower()) else None

    def _show(self, absolute: int) -> None:
        pushed = self.terminal.screen.pushed
        rows = self.terminal.rows
        top = pushed - self.offset
        if not top <= absolute < top + rows:
            self.offset = max(0, min(pushed - (absolute - rows // 2), self._history_len()))
        self._pushed = pushed

    def search_spans(self, y: int) -> list[tuple[int, int]]:
        """Cell ranges of view row ``y`` that match the query (empty when not searching)."""
        if not self.query or self._match is None:
            return []
        row = self.row_at(y)
        if row is None:
            return []
        text, columns = _text_and_columns(_cells_of(*row))
        needle = self.query.lower()
        lowered = text.lower()
        spans = []
        at = lowered.find(needle)
        while at >= 0 and len(lowered) == len(text):
            end = at + len(needle)
            spans.append((columns[at], columns[end - 1] + 1))
            at = lowered.find(needle, end)
        return spans

    # -- selection ----------------------------------------------------------------------------

    def select_start(self, x: int, y: int) -> None:
        """Start a selection at view cell (x, y)."""
        self._anchor = self._head = (self._abs_of_view_row(y), x)
        self._selected_on_screen = {}

    def select_extend(self, x: int, y: int) -> None:
        """Move the selection's moving end to view cell (x, y)."""
        if self._anchor is not None:
            self._head = (self._abs_of_view_row(y), x)

    def _ordered(self) -> tuple[tuple[int, int], tuple[int, int]] | None:
        if self._anchor is None or self._head is None or self._anchor == self._head:
            return None
        return min(self._anchor, self._head), max(self._anchor, self._head)

    def selection_span(self, y: int) -> tuple[int, int] | None:
        """Cells of view row ``y`` inside the selection, as (start, end), or ``None``."""
        ordered = self._ordered()
        if ordered is None:
            return None
        (row0, col0), (row1, col1) = ordered
        absolute = self._abs_of_view_row(y)
        if not row0 <= absolute <= row1:
            return None
        start = col0 if absolute == row0 else 0
        end = col1 + 1 if absolute == row1 else self.terminal.cols
        return (start, end)

    def select_end(self, x: int, y: int) -> str:
        """Finish the selection at (x, y); returns the selected text (trailing blanks cut)."""
        self.select_extend(x, y)
        ordered = self._ordered()
        if ordered is None:
            self._anchor = self._head = None
            return ""
        (row0, col0), (row1, col1) = ordered
        screen = self.terminal.screen
        first_live = max(row0, screen.pushed)
        self._selected_on_screen = {
            absolute: "".join(screen.lines[absolute - screen.pushed].chars)
            for absolute in range(first_live, min(row1, screen.pushed + len(screen.lines) - 1) + 1)
        }
        return self.text((row0, col0), (row1, col1))

    def _drop_selection_if_rewritten(self) -> None:
        """Forget the selection once the remote wrote over its text (``clear``, a redraw), so
        the highlight never sits on text nobody selected. Rows that scrolled into the history
        cannot change any more and are no longer checked."""
        screen = self.terminal.screen
        lines = screen.lines
        for absolute, text in list(self._selected_on_screen.items()):
            index = absolute - screen.pushed
            if index < 0:
                del self._selected_on_screen[absolute]
            elif index >= len(lines) or "".join(lines[index].chars) != text:
                self.clear_selection()
                return

    def text(self, start: tuple[int, int], end: tuple[int, int]) -> str:
        """The text from cell ``start`` to cell ``end`` (both included), as it is on screen.

        Cells are (absolute row, column). A wide character counts once, whichever of its
        halves an end falls on; each line loses its trailing blanks; lines are joined with
        newlines, except where the terminal wrapped a long line, which comes back as one.
        """
        (row0, col0), (row1, col1) = start, end
        pieces: list[str] = []
        for absolute in range(max(row0, self._first_abs()), row1 + 1):
            found = self.cells(absolute)
            if found is None:
                continue
            cells, wrapped = found
            first = col0 if absolute == row0 else 0
            while 0 < first < len(cells) and cells[first] == "":
                first -= 1  # the right half of a wide character: take the whole character
            stop = col1 + 1 if absolute == row1 else len(cells)
            text = "".join(cells[first:stop])
            if wrapped and absolute != row1:
                following = self.cells(absolute + 1)
                if following is not None and following[0][1:2] == [""] and text.endswith(" "):
                    text = text[:-1]  # the blank a wide character left when it wrapped early
                pieces.append(text)
            else:
                pieces.append(text.rstrip(" ") + "\n")
        return "".join(pieces).rstrip("\n")

    def clear_selection(self) -> None:
        """Forget the selection."""
        self._anchor = self._head = None
        self._selected_on_screen = {}
