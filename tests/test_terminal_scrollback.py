"""Scroll position, search and selection over the history, without an app."""

from __future__ import annotations

import pytest

from spark_tui.widgets.terminal.emulator import Terminal
from spark_tui.widgets.terminal.scrollback import Scrollback



@pytest.fixture(autouse=True)
def _core(make_term):
    """Every test here runs on each terminal core."""
    global _make
    _make = make_term


_make = Terminal

def setup(lines: int, cols: int = 20, rows: int = 5) -> tuple[Terminal, Scrollback]:
    term = _make(cols, rows, scrollback=100)
    back = Scrollback(term)
    term.feed(b"".join(b"line %02d\r\n" % n for n in range(lines)))
    back.follow()
    return term, back


def shown(back: Scrollback, y: int) -> str:
    stored, line = back.row_at(y)
    return ("".join(line.chars) if line is not None else stored[0]).rstrip()


def test_scrolling_back_shows_older_lines_and_stops_at_the_oldest_kept():
    term, back = setup(150)
    back.scroll(3)
    assert shown(back, 0) == "line 143"
    back.scroll(10_000)
    assert back.offset == 100
    assert shown(back, 0) == "line 46"  # 100 lines of history kept, the oldest is line 46
    back.scroll(-10_000)
    assert back.offset == 0


def test_a_scrolled_back_view_stays_on_its_text_while_output_arrives():
    term, back = setup(50)
    back.scroll(10)
    before = [shown(back, y) for y in range(5)]
    term.feed(b"more\r\nand more\r\n")
    back.follow()
    assert [shown(back, y) for y in range(5)] == before


def test_search_finds_older_then_newer_matches_and_reports_their_cells():
    term, back = setup(0)
    term.feed(b"".join(b"%s %02d\r\n" % (b"needle" if n in (10, 30) else b"hay", n) for n in range(40)))
    back.follow()
    back.open_search()
    for char in "NEEDLE":
        back.search_key(char, char)
    back.search_key("enter", None)
    rows = [shown(back, y) for y in range(5)]
    assert "needle 30" in rows
    assert back.search_spans(rows.index("needle 30")) == [(0, 6)]
    assert back.find(older=True)
    assert "needle 10" in [shown(back, y) for y in range(5)]
    assert not back.find(older=True)  # nothing older
    assert back.find(older=False)
    assert "needle 30" in [shown(back, y) for y in range(5)]


def test_search_spans_count_wide_characters_as_two_cells():
    term = _make(20, 3)
    back = Scrollback(term)
    term.feed("中文 key 中".encode())
    back.query = "key"
    back._match = 0
    assert back.search_spans(0) == [(5, 8)]


def test_a_selection_spanning_a_soft_wrap_copies_one_line():
    term = _make(10, 4)
    back = Scrollback(term)
    term.feed(b"0123456789abcdef\r\nnext")
    back.select_start(2, 0)
    back.select_extend(9, 2)
    assert back.select_end(3, 2) == "23456789abcdef\nnext"


def test_a_selection_trims_trailing_blanks_and_survives_scrolling():
    term = _make(20, 3, scrollback=50)
    back = Scrollback(term)
    term.feed(b"alpha    \r\nbeta\r\n")
    back.select_start(0, 0)
    back.select_extend(19, 1)
    term.feed(b"gamma\r\ndelta\r\n")  # the selected rows scroll into the history
    back.follow()
    text = back.select_end(19, 1 - 2)  # the same text, now two rows higher
    assert text == "alpha\nbeta"


def test_a_full_screen_program_starting_while_scrolled_back_shows_its_screen():
    term, back = setup(100)
    back.scroll(20)
    term.feed(b"\x1b[?1049h\x1b[Hvim here")
    back.follow()
    assert back.offset == 0
    assert shown(back, 0) == "vim here"
    term.feed(b"\x1b[?1049l")
    back.follow()
    assert shown(back, 0) == "line 96"
