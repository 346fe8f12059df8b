"""Copy mode: select text of the screen and the scrollback with the keyboard, as in tmux.

:class:`CopyMode` is plain state over a :class:`Scrollback` (no Textual): a cursor on an
absolute row and column, and a selection from an anchor to that cursor, character-wise or
line-wise. While it is on, the view holds still on its text however much output arrives, and
every key belongs to it; nothing goes to the remote. :class:`CopyModeKeys` is the view's side:
the key bindings (shown in the footer, rebindable by id) and the key routing, in ``copy_keys.py``.

Entering it: ctrl+shift+space (binding ``terminal.copy_mode``; terminals that speak the kitty
keyboard protocol report it, others send ctrl+space, which stays the remote's: rebind it there,
e.g. to f12), or v / V in the scrollback (shift+pageup), or shift+pageup where there is no history
to scroll (a full-screen program). The cursor starts on the terminal's cursor, on the search match,
or on the last row of the scrolled-back view.

Keys in copy mode (vi-like, as tmux's ``mode-keys vi``):

| Key | Does |
| :- | :- |
| arrows, h j k l | Move the cursor (the view scrolls along, into the history). |
| pageup / pagedown, ctrl+b / ctrl+f | A page up / down; ctrl+u / ctrl+d half a page. |
| home, 0 / end, $ / ^ | Start / end of the line / its first non-blank. |
| w b e (W B E) | Next word, previous word, end of word (words separated by blanks only). |
| g / G, H M L | Oldest line kept / live screen's last line; top, middle, bottom of the view. |
| / then n N | Search the history (older / newer match): the cursor goes to the match. |
| v or space / V | Start or stop a selection, by characters / by whole lines. |
| y or enter | Copy the selection to the clipboard and leave. |
| o | Open the link (OSC 8) under the cursor, after the same question a click asks. |
| escape, q | Leave without copying. |
"""

from __future__ import annotations

from collections.abc import Callable

from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip

from .render import highlight
from .scrollback import Scrollback

_COPY_CURSOR = Style(reverse=True, bold=True)
_COPY_SELECTION = Style(bgcolor="blue", color="bright_white")
_POSITION = Style(bgcolor="yellow", color="black")  # tmux's mode-style

_WORD_SCAN_ROWS = 2_000
"""How many rows a word motion looks through before it gives up (a key stays cheap)."""


def _word_class(cell: str, big: bool) -> int:
    """0 blank, 1 word characters, 2 punctuation (one class for all non-blanks when ``big``)."""
    if not cell.strip():
        return 0
    if big:
        return 1
    return 1 if cell[0].isalnum() or cell[0] == "_" else 2


class CopyMode:
    """A keyboard cursor and selection over the screen and the scrollback.

    Rows are absolute (see :class:`Scrollback`), so the cursor and the selection stay on their
    text while output scrolls.

    Args:
        scrollback: The view's scroll state, which copy mode moves.
        on_change: Called when copy mode turns on or off (also when it ends by itself).

    Attributes:
        row: The cursor's absolute row. col: Its column.
        linewise: The selection takes whole lines.
    """

    def __init__(self, scrollback: Scrollback, on_change: Callable[[], None] | None = None) -> None:
        self.scrollback = scrollback
        self.on_change = on_change
        self.row = 0
        self.col = 0
        self.linewise = False
        self._active = False
        self._anchor: tuple[int, int] | None = None
        self._screen = None

    @property
    def active(self) -> bool:
        """True while copy mode is on (it ends by itself when the remote switches screens)."""
        if self._active and self.scrollback.terminal.screen is not self._screen:
            self.leave()
        return self._active

    @property
    def selecting(self) -> bool:
        """True while a selection is being made."""
        return self.active and self._anchor is not None

    # -- entering and leaving --------------------------------------------------------------

    def enter(self) -> None:
        """Turn copy mode on; the cursor starts on the search match, the terminal's cursor
        (live view) or the start of the view's last row (scrolled back)."""
        back = self.scrollback
        term = back.terminal
        self._active = True
        self._screen = term.screen
        self._anchor = None
        back.hold = True
        match = back.match
        if match is not None:
            self.row, self.col = match
        elif back.offset == 0:
            self.row, self.col = term.screen.pushed + term.y, min(term.x, term.cols - 1)
        else:
            self.row, self.col = back.top_row + term.rows - 1, 0
        back.searching = False
        self._settle()
        if self.on_change is not None:
            self.on_change()

    def leave(self) -> None:
        """Turn copy mode off and go back to the live screen."""
        self._active = False
        self._anchor = None
        self.scrollback.hold = False
        self.scrollback.to_bottom()
        if self.on_change is not None:
            self.on_change()

    def toggle_selection(self, linewise: bool) -> None:
        """Start a selection at the cursor, switch its kind, or drop it when it is of that kind."""
        if self._anchor is not None and self.linewise == linewise:
            self._anchor = None
            return
        if self._anchor is None:
            self._anchor = (self.row, self.col)
        self.linewise = linewise

    def copy(self) -> str:
        """The selected text (empty when nothing is selected); leaves copy mode."""
        text = ""
        bounds = self.bounds()
        if bounds is not None:
            text = self.scrollback.text(*bounds)
        self.leave()
        return text

    def bounds(self) -> tuple[tuple[int, int], tuple[int, int]] | None:
        """First and last selected cells (absolute row, column), both included."""
        if self._anchor is None:
            return None
        start, end = sorted((self._anchor, (self.row, self.col)))
        if self.linewise:
            return (start[0], 0), (end[0], self.scrollback.terminal.cols - 1)
        return start, end

    # -- moving ------------------------------------------------------------------------------

    def _cells(self, row: int) -> list[str]:
        found = self.scrollback.cells(row)
        return found[0] if found is not None else []

    def _settle(self) -> None:
        """Keep the cursor on a kept row and a whole character, and in the view."""
        back = self.scrollback
        self.row = max(back.first_row, min(self.row, back.last_row))
        cells = self._cells(self.row)
        self.col = max(0, min(self.col, len(cells) - 1))
        while self.col > 0 and cells and cells[self.col] == "":
            self.col -= 1
        back.reveal(self.row)

    def move(self, rows: int = 0, cols: int = 0) -> None:
        """Move the cursor by ``rows`` and ``cols`` (a wide character is one step)."""
        self.row += rows
        if cols:
            cells = self._cells(self.row)
            step = 1 if cols > 0 else -1
            for _ in range(abs(cols)):
                col = self.col + step
                while 0 <= col < len(cells) and cells[col] == "":
                    col += step
                if not 0 <= col < len(cells):
                    break
                self.col = col
        self._settle()

    def page(self, fraction: float) -> None:
        """Move by ``fraction`` of a screen (negative: up), scrolling the view as far."""
        rows = self.scrollback.terminal.rows
        step = int(fraction * (rows - 1)) or (1 if fraction > 0 else -1)
        self.scrollback.scroll(-step)
        self.move(rows=step)

    def line_start(self, first_blank: bool = False) -> None:
        """To column 0, or to the first non-blank character of the line."""
        self.col = 0
        if first_blank:
            cells = self._cells(self.row)
            self.col = next((i for i, cell in enumerate(cells) if cell.strip()), 0)
        self._settle()

    def line_end(self) -> None:
        """To the last non-blank character of the line (the last column on a wrapped line)."""
        found = self.scrollback.cells(self.row)
        if found is not None:
            cells, wrapped = found
            self.col = len(cells) - 1 if wrapped else max(
                (i for i, cell in enumerate(cells) if cell.strip()), default=0
            )
        self._settle()

    def to_row(self, row: int) -> None:
        """To absolute row ``row`` (clamped to what is kept), column 0."""
        self.row, self.col = row, 0
        self._settle()

    def _positions(self, forward: bool):
        """Cells from the cursor on (excluded), as (row, col, cell); a line end is a blank."""
        back = self.scrollback
        row, col = self.row, self.col
        last = min(back.last_row, row + _WORD_SCAN_ROWS)
        first = max(back.first_row, row - _WORD_SCAN_ROWS)
        cells = self._cells(row)
        while first <= row <= last:
            col += 1 if forward else -1
            if not 0 <= col < len(cells):
                found = self.scrollback.cells(row if forward else row - 1)
                wrapped = found is not None and found[1]
                row += 1 if forward else -1
                cells = self._cells(row)
                col = -1 if forward else len(cells)  # the next step lands on the row's first cell
                if not wrapped:
                    yield row - 1 if forward else row + 1, -1, " "  # the line break
                continue
            if cells[col] != "":
                yield row, col, cells[col]

    def word(self, forward: bool, end: bool = False, big: bool = False) -> None:
        """vi's ``w`` (``forward``), ``b`` and ``e``: to the next start or end of a word."""
        here = self._cells(self.row)
        current = _word_class(here[self.col], big) if self.col < len(here) else 0
        target = None
        if forward and not end:
            seen_other = False
            for row, col, cell in self._positions(True):
                kind = _word_class(cell, big)
                if kind != current:
                    seen_other = True
                if seen_other and kind and col >= 0:
                    target = (row, col)
                    break
                current = kind if seen_other else current
        else:
            # b: the start of the word before; e: the end of the word after. Both skip blanks,
            # then run to the last cell of that word in their direction.
            previous = None
            for row, col, cell in self._positions(forward):
                kind = _word_class(cell, big)
                if previous is None:
                    if kind:
                        previous, target = kind, (row, col)
                    continue
                if kind != previous or col < 0:
                    break
                target = (row, col)
        if target is not None:
            self.row, self.col = target
        self._settle()

    def to_match(self) -> None:
        """To the scrollback search's current match, if there is one."""
        match = self.scrollback.match
        if match is not None:
            self.row, self.col = match
            self._settle()

    # -- drawing -----------------------------------------------------------------------------

    def decorate(self, y: int, strip: Strip) -> Strip:
        """View row ``y``'s strip with the selection and the copy cursor drawn on it, and on the
        top row, while copy mode is on or the view is scrolled back, where the view is (as tmux)."""
        back = self.scrollback
        if not self.active:
            return self._position(strip) if y == 0 and back.offset else strip
        absolute = back.top_row + y
        cells = self._cells(absolute)
        bounds = self.bounds()
        if bounds is not None and bounds[0][0] <= absolute <= bounds[1][0]:
            start = bounds[0][1] if absolute == bounds[0][0] else 0
            end = bounds[1][1] + 1 if absolute == bounds[1][0] else len(cells)
            strip = highlight(strip, start, self._whole(cells, end), _COPY_SELECTION)
        if absolute == self.row:
            strip = highlight(strip, self.col, self._whole(cells, self.col + 1), _COPY_CURSOR)
        return self._position(strip) if y == 0 else strip

    def _position(self, strip: Strip) -> Strip:
        """``[lines scrolled back/lines of history]`` on the right of the top row; outside copy
        mode also the keys that go on from there."""
        back = self.scrollback
        text = f"[{back.offset}/{back.terminal.screen.pushed - back.first_row}]"
        if not self.active:
            text += " v: select  /: search  esc: live"
        width = strip.cell_length
        if len(text) > width:
            text = text[: max(0, width)]
        return Strip.join([strip.crop(0, width - len(text)), Strip([Segment(text, _POSITION)], len(text))])

    @staticmethod
    def _whole(cells: list[str], end: int) -> int:
        """``end`` moved past the right half of a wide character it would cut."""
        return end + 1 if end < len(cells) and cells[end] == "" else end

    # -- keys --------------------------------------------------------------------------------

    def press(self, key: str, character: str | None) -> bool:
        """Handle one key of copy mode's own (motions and search); False when it is not one."""
        back = self.scrollback
        if back.searching:
            back.search_key(key, character)
            if not back.searching:
                self.to_match()
            return True
        rows = back.terminal.rows
        name = character if character and character.isprintable() and character != " " else key
        motion = {
            "left": (0, -1), "h": (0, -1), "right": (0, 1), "l": (0, 1),
            "up": (-1, 0), "k": (-1, 0), "down": (1, 0), "j": (1, 0),
        }.get(name)
        if motion is not None:
            self.move(*motion)
        elif name in ("pageup", "shift+pageup", "ctrl+b", "pagedown", "shift+pagedown", "ctrl+f"):
            self.page(-1.0 if name in ("pageup", "shift+pageup", "ctrl+b") else 1.0)
        elif name in ("ctrl+u", "ctrl+d"):
            self.page(-0.5 if name == "ctrl+u" else 0.5)
        elif name in ("home", "0", "^"):
            self.line_start(first_blank=name == "^")
        elif name in ("end", "$"):
            self.line_end()
        elif name in ("w", "W", "b", "B", "e", "E"):
            self.word(forward=name in "wWeE", end=name in "eE", big=name.isupper())
        elif name in ("g", "G"):
            self.to_row(back.first_row if name == "g" else back.last_row)
        elif name in ("H", "M", "L"):
            self.to_row(back.top_row + {"H": 0, "M": (rows - 1) // 2, "L": rows - 1}[name])
        elif name == "/":
            back.open_search()
        elif name in ("n", "N"):
            back.find(older=name == "n")
            self.to_match()
        else:
            return False
        return True
