"""The emulator's shortcuts change nothing: whole chunks and a few bytes at a time give one screen.

The parsing loop memoises SGRs and cursor positions, writes runs of box drawing like ASCII, and
skips writing text that a later full clear in the same chunk erases (several pages of a pager
in one read). Fed a few bytes at a time none of that can apply, so the two ways of feeding the
same bytes must leave identical state: every cell, attribute, wrap flag, the cursor, the
scrollback and the modes.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from spark_tui.widgets.terminal.emulator import Terminal

FIXTURES = Path(__file__).parent / "terminal_fixtures"


def _state(term: Terminal) -> tuple:
    def screen(scr):
        return [(tuple(line.chars), tuple(line.attrs), line.wrapped) for line in scr.lines]

    return (
        screen(term.main),
        screen(term.alt),
        term.alternate,
        list(term.main.history),
        term.main.pushed,
        (term.x, term.y, term.wrap_pending, term.attr, term.last_char),
        (term.top, term.bottom, term.origin, term.insert_mode, term.cursor_visible, term.title),
    )


def _fed(data: bytes, chunk: int, cols: int = 80, rows: int = 24) -> tuple:
    term = Terminal(cols, rows, scrollback=500)
    for start in range(0, len(data), chunk):
        term.feed(data[start : start + chunk])
    return _state(term)


def _same_whole_and_piecewise(data: bytes, cols: int = 80, rows: int = 24) -> None:
    whole = _fed(data, len(data) or 1, cols, rows)
    assert whole == _fed(data, 7, cols, rows)
    assert whole == _fed(data, 1, cols, rows)


def _page(number: int, prefix: bytes = b"\x1b[m\x1b[H\x1b[2J") -> bytes:
    body = b"".join(
        b"\x1b[%d;1H\x1b[3%dmline %d of page %d\x1b[m \xe2\x94\x82 tail\r\n" % (row, row % 8, row, number)
        for row in range(1, 24)
    )
    return prefix + body + b"\x1b[24;70H%d%%" % number


@pytest.mark.parametrize("name", ["htop.bin", "less_search.bin", "ls_color.bin", "progress.bin", "top.bin", "utf8_wide.bin"])
def test_a_recorded_program_leaves_one_screen_whole_or_piecewise(name):
    _same_whole_and_piecewise((FIXTURES / name).read_bytes(), 120, 40)


def test_pages_on_the_alternate_screen_leave_the_last_page():
    data = b"\x1b[?1049h" + b"".join(_page(n) for n in range(30))
    _same_whole_and_piecewise(data)
    term = Terminal(80, 24)
    term.feed(data)
    assert term.display[0].startswith("line 1 of page 29")
    assert term.display[22].startswith("line 23 of page 29")


def test_pages_on_the_main_screen_keep_what_scrolled_into_the_history():
    # The main screen has a scrollback: text that scrolls into it is never skipped.
    data = b"".join(b"scrolled %d\r\n" % n for n in range(60)) + b"".join(_page(n) for n in range(10))
    _same_whole_and_piecewise(data)


def test_a_screen_switch_between_pages_keeps_what_each_screen_got():
    data = (
        _page(1)
        + b"\x1b[?1049h"
        + _page(2)
        + b"\x1b[?1049l"
        + b"main text after"
        + b"\x1b[?1049h"
        + _page(3)
        + b"\x1b[?47l"
        + b"more main text"
        + b"\x1b[?1049h"
        + _page(4, b"\x1b[H\x1b[2J")
    )
    _same_whole_and_piecewise(data)


def test_a_switch_hidden_by_leading_zeros_or_controls_still_counts():
    data = (
        b"\x1b[?1049h"
        + _page(1)
        + b"\x1b[?001049l"
        + b"on main"
        + b"\x1b[?1049h"
        + _page(2)
        + b"\x1b[?10\r49l"
        + b"main again"
        + b"\x1bc"
        + b"after reset"
        + _page(3)
    )
    _same_whole_and_piecewise(data)


def test_erases_wide_characters_and_wraps_inside_skipped_pages_change_nothing():
    wide = "漢字".encode()
    data = b"\x1b[?1049h" + b"".join(
        _page(n)
        + b"\x1b[5;79H" + wide + b"wrapped past the edge\x1b[K\x1b[1J\x1b[2K\x1b[3;1H\x1b[1K"
        + b"\x1b[24;1H\r\nscrolls the alternate screen\n\x1b[2J"
        for n in range(8)
    ) + b"\x1b[7;7Hend"
    _same_whole_and_piecewise(data)


def test_an_osc_cut_short_by_the_clear_still_sets_the_title():
    data = b"\x1b[?1049h" + _page(1) + b"\x1b]2;my title" + _page(2) + b"\x1b]2;second\x07" + _page(3)
    _same_whole_and_piecewise(data)
    term = Terminal(80, 24)
    term.feed(data)
    assert term.title == "second"


def test_the_colour_of_the_clear_is_the_colour_in_force_then():
    data = b"\x1b[?1049h" + b"".join(_page(n, b"\x1b[44m\x1b[H\x1b[2J") + b"\x1b[41m" for n in range(5))
    _same_whole_and_piecewise(data)


def test_box_drawing_and_accents_go_where_ascii_would():
    data = "\x1b[2;3H┌──┐ é ⣿⣀ ½\x1b[3;3H│ab│\x1b[4;78H────wraps".encode()
    _same_whole_and_piecewise(data)
    term = Terminal(80, 24)
    term.feed(data)
    assert term.display[1][2:13] == "┌──┐ é ⣿⣀ ½"
    assert term.display[3].endswith("───") and term.display[4].startswith("─wraps")


def test_a_memoised_cursor_position_follows_a_resize_and_origin_mode():
    term = Terminal(80, 24)
    term.feed(b"\x1b[30;90Hx")
    assert (term.x, term.y) == (79, 23)
    term.resize(100, 30)
    term.feed(b"\x1b[30;90Hy")
    assert (term.y, term.x) == (29, 90)
    term.feed(b"\x1b[5;20r\x1b[?6h\x1b[30;90Hz")
    assert term.y == 19


def _coloured_flood(count: int, width: int = 50) -> bytes:
    return b"".join(b"\x1b[3%dmline %d %s\x1b[0m\r\n" % (n % 8, n, b"x" * (n * 7 % width)) for n in range(count))


def test_a_coloured_flood_with_long_lines_wraps_as_printing_would():
    data = _coloured_flood(200, width=190) + b"\x1b[44m" + _coloured_flood(50, width=170)
    _same_whole_and_piecewise(data)


def test_a_flood_line_changed_on_screen_goes_to_the_history_as_changed():
    term = Terminal(80, 24, scrollback=500)
    term.feed(_coloured_flood(40))
    term.feed(b"\x1b[24;1H\x1b[Aedited\x1b[K\x1b[24;1H")
    term.feed(_coloured_flood(40))
    texts = [stored[0].rstrip() for stored in term.history]
    edited = texts.index("edited")  # the row that showed the first flood's last line
    assert texts[edited - 1].startswith("line 38 ")
    assert not any(text.startswith("line 39 ") for text in texts[:edited])
    _same_whole_and_piecewise(_coloured_flood(40) + b"\x1b[24;1H\x1b[Aedited\x1b[K\x1b[24;1H" + _coloured_flood(40))


def test_sgrs_in_a_row_after_line_drawing_switch_back_to_ascii():
    # ESC ( B then SGRs is one token for the parser (memoised): it must still leave DEC graphics.
    data = b"\x1b(B\x1b[31mq \x1b(0q\x1b(B\x1b[31mq \x1b(0q\x1b[32m\x1b[1mq\x1b(B\x1b[mq"
    _same_whole_and_piecewise(data)
    term = Terminal(80, 24)
    term.feed(data)
    assert term.display[0].startswith("q ─q ──q")


def test_skipped_pages_keep_the_cursor_visibility_and_a_hyperlink():
    link = b"\x1b]8;;https://example.com/\x07"
    for toggles in (b"\x1b[?25l", b"\x1b[?25l\x1b[?25h", b"\x1b[?25h\x1b[?25l\x1b[5;5H"):
        data = b"\x1b[?1049h" + link + _page(1) + toggles + _page(2) + b"\x1b[31m" + toggles + _page(3) + b"after"
        _same_whole_and_piecewise(data)
        term = Terminal(80, 24)
        term.feed(data)
        assert term.cursor_visible == toggles.endswith((b"h", b"25h"))
        assert term.links and term.attr >> 61  # the link is still open


def test_a_page_with_anything_else_in_it_is_parsed_as_usual():
    # A bell, a title, a mode or a screen switch inside the pages: none is skipped.
    for extra in (b"\x07", b"\x1b]2;title\x07", b"\x1b[?2004h", b"\x1b[4h", b"\x1b(0q", b"\x1b[?1049l\x1b[?1049h", b"\x1b7"):
        data = b"\x1b[?1049h" + _page(1) + extra + _page(2) + _page(3)
        _same_whole_and_piecewise(data)
    bells = []
    term = Terminal(80, 24, on_bell=lambda: bells.append(1))
    term.feed(b"\x1b[?1049h" + _page(1) + b"\x07" + _page(2))
    assert bells == [1]


def test_the_parsers_memos_stay_bounded_whatever_the_stream():
    from spark_tui.widgets.terminal import cells, stream

    term = Terminal(200, 80)
    distinct = b"".join(
        b"\x1b[38;2;%d;%d;%dm\x1b[%d;%dH%s \xe2\x94\x82" % (n % 256, n // 256 % 256, n % 7, n % 80 + 1, n % 200 + 1, b"%07d" % n * 10)
        for n in range(40_000)
    )
    for start in range(0, len(distinct), 65536):
        term.feed(distinct[start : start + 65536])
    assert sum(map(len, stream._sgr_memo.values())) <= stream.SGR_MEMO_SIZE
    assert all(len(seq) <= stream.MEMO_KEY for seq in stream._sgr_memo)
    assert len(term._cup_memo) <= stream.CUP_MEMO_SIZE
    assert len(cells.cells_seen) <= cells.CELLS_SEEN
    assert all(len(run) <= cells.CELLS_KEY for run in cells.cells_seen)


def test_memoised_row_and_column_moves_keep_the_other_coordinate():
    term = Terminal(80, 24)
    for _ in range(2):  # the second time from the memo
        term.feed(b"\x1b[5;9H\x1b[12d")
        assert (term.y, term.x) == (11, 8)
        term.feed(b"\x1b[30G")
        assert (term.y, term.x) == (11, 29)
        term.feed(b"\x1b[3;10r\x1b[?6h\x1b[5d")
        assert term.y == 6  # origin mode: row 5 of the region
        term.feed(b"\x1b[?6l\x1b[r")
    data = b"ab\x1b[12dcd\x1b[70Gef\x08\x08gh\x1b[?45h\r\x08ij" * 3
    _same_whole_and_piecewise(data)


def test_a_row_a_flood_left_on_screen_reads_draws_and_stores_like_any_line():
    from spark_tui.widgets.terminal.cells import Line, PendingLine, store_line
    from spark_tui.widgets.terminal.render import _build, line_strip

    term = Terminal(60, 10, scrollback=100)
    term.feed(_coloured_flood(12))  # down to the bottom row first
    term.feed(_coloured_flood(30, width=40) + b"\x1b[44m" + b"plain\r\n" * 12)
    pending = [line for line in term.lines if type(line) is PendingLine]
    assert pending  # the flood's rows stay in their stored form until read
    line = pending[0]
    stored = store_line(line)
    strip = line_strip(line)
    assert type(line) is PendingLine  # neither storing nor drawing needs the cells
    chars, attrs = list(line.chars), list(line.attrs)
    assert type(line) is Line and len(chars) == len(attrs) == 60
    assert store_line(line) == stored
    assert list(strip) == list(_build(chars, attrs))
    line.chars[0] = "Z"  # an ordinary line now: written as any other
    assert line.text.startswith("Z")


def test_plain_and_coloured_floods_in_small_slices_match_byte_at_a_time():
    data = b"".join(b"log line %d %s\r\n" % (n, b"y" * (n * 13 % 150)) for n in range(300))
    data += _coloured_flood(200, width=120) + b"\x1b[2;5Hedit\x1b[10;1H" + _coloured_flood(30)
    whole = _fed(data, len(data))
    assert whole == _fed(data, 4096) == _fed(data, 1)
