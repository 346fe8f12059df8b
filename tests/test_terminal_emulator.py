"""The emulator on its own: replies, refusals, modes, screens, scrollback, odd input."""

from __future__ import annotations

import unicodedata
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from spark_tui.widgets.terminal.cells import BG_SHIFT, REVERSE, describe_color, bg_of, fg_of, palette
from spark_tui.widgets.terminal.emulator import HOLD_LIMIT, Terminal, sanitize_title

FIXTURES = Path(__file__).parent / "terminal_fixtures"


def make(cols: int = 20, rows: int = 5, **options) -> tuple[Terminal, list[bytes]]:
    replies: list[bytes] = []
    return Terminal(cols, rows, on_reply=replies.append, **options), replies


def rows_of(term: Terminal) -> list[str]:
    return [line.rstrip() for line in term.display]


# -- replies owed to the remote ---------------------------------------------------------------


def test_a_cursor_position_request_is_answered_with_the_one_based_position():
    term, replies = make()
    term.feed(b"\x1b[3;7H\x1b[6n")
    assert replies == [b"\x1b[3;7R"]


def test_status_and_device_attribute_requests_are_answered():
    term, replies = make()
    term.feed(b"\x1b[5n\x1b[c\x1b[>c\x1b[?6n")
    assert replies == [b"\x1b[0n", b"\x1b[?62;22c", b"\x1b[>1;10;0c", b"\x1b[?1;1R"]


def test_cursor_position_is_reported_relative_to_the_region_in_origin_mode():
    term, replies = make(rows=10)
    term.feed(b"\x1b[4;8r\x1b[?6h\x1b[2;3H\x1b[6n")
    assert replies == [b"\x1b[2;3R"]
    assert term.y == 4


# -- what the remote may not do ---------------------------------------------------------------


def test_a_clipboard_write_is_refused_and_counted_and_leaves_no_trace():
    term, replies = make()
    term.feed(b"a\x1b]52;c;ZXZpbCBwYXlsb2Fk\x07b\x1b]52;p;eA==\x1b\\c")
    assert term.refused_clipboard_writes == 2
    assert rows_of(term)[0] == "abc"
    assert replies == []


def test_a_title_reaches_the_callback_sanitised():
    titles: list[str] = []
    term = Terminal(20, 3, on_title=titles.append)
    term.feed(b"\x1b]0;build \x1b[31m\xe2\x80\xaeevil\x07\x1b]2;ok\x1b\\\x1b]2;ok\x07")
    # The ESC inside the first title ends it (as xterm does); bidi override removed.
    assert titles[0] == "build"
    assert titles[-1] == "ok"
    assert len(titles) == 2  # setting the same title again is not a change
    assert all(ch.isprintable() for title in titles for ch in title)
    assert "\u202e" not in "".join(term.display)  # nor does the override reach the screen


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_any_unicode_text_leaves_only_printable_cells(text):
    term, _ = make(12, 4)
    term.feed(text.encode("utf-8", "surrogatepass"))
    for line in term.lines:
        assert len(line.chars) == 12
        assert all(ch.isprintable() or unicodedata.category(ch) == "Zs" for cell in line.chars for ch in cell)


def test_sanitize_title_drops_controls_and_bounds_the_length():
    assert sanitize_title("a\x07b\x1bc\u202ed\u2028e\tf") == "a b c d e f"
    assert len(sanitize_title("x" * 1000)) == 120


def test_a_hyperlink_is_reduced_to_its_text():
    term, _ = make(40)
    term.feed(b"see \x1b]8;;https://example.invalid/\x1b\\the docs\x1b]8;;\x1b\\ now")
    assert rows_of(term)[0] == "see the docs now"


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400))
def test_arbitrary_bytes_never_break_the_emulator_or_leave_control_characters(data):
    term, _ = make(12, 4)
    term.feed(data)
    term.feed(b"\x1b\\\x07")  # end any unfinished string sequence
    assert 0 <= term.x < 12 and 0 <= term.y < 4
    for line in term.lines:
        assert len(line.chars) == 12
        assert all(ch.isprintable() or unicodedata.category(ch) == "Zs" for ch in "".join(line.chars))


def test_an_endless_string_sequence_is_dropped_without_growing_memory():
    term, _ = make()
    term.feed(b"\x1b]0;")
    for _ in range(3):
        term.feed(b"A" * HOLD_LIMIT)
    assert len(term._hold) <= HOLD_LIMIT
    term.feed(b"\x07visible")
    assert rows_of(term)[0] == "visible"


# -- chunking ---------------------------------------------------------------------------------


@settings(max_examples=30, deadline=None)
@given(st.sampled_from(["vim_file", "htop", "utf8_wide", "ls_color", "less_search"]), st.lists(st.integers(1, 64), min_size=1, max_size=20))
def test_any_chunking_of_a_stream_draws_the_same_screen(name, sizes):
    data = (FIXTURES / f"{name}.bin").read_bytes()
    whole = Terminal(120, 40)
    whole.feed(data)
    pieces = Terminal(120, 40)
    at, index = 0, 0
    while at < len(data):
        size = sizes[index % len(sizes)]
        pieces.feed(data[at : at + size])
        at, index = at + size, index + 1
    assert [line.chars for line in pieces.lines] == [line.chars for line in whole.lines]
    assert [line.attrs for line in pieces.lines] == [line.attrs for line in whole.lines]
    assert (pieces.x, pieces.y) == (whole.x, whole.y)


@settings(max_examples=80, deadline=None)
@given(
    st.one_of(
        st.lists(st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=50), min_size=1, max_size=60),
        st.lists(st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=16), min_size=1, max_size=60),
    ),
    st.sampled_from([b"", b"\x1b[44m", b"\x1b[1;31m"]),
)
def test_the_bulk_line_path_draws_exactly_what_the_general_path_draws(lines, sgr):
    text = "\r\n".join(lines).encode()
    bulk = Terminal(16, 5, scrollback=100)
    bulk.feed(sgr + b"\r\n" * 10)
    bulk.feed(text)
    general = Terminal(16, 5, scrollback=100)
    general.feed(sgr + b"\r\n" * 10)
    for byte in text:  # one byte at a time never takes the bulk path for long
        general.feed_text(chr(byte) + "\x00")
    assert [line.chars for line in bulk.lines] == [line.chars for line in general.lines]
    assert [line.attrs for line in bulk.lines] == [line.attrs for line in general.lines]
    assert [line.wrapped for line in bulk.lines] == [line.wrapped for line in general.lines]
    assert list(bulk.history) == list(general.history)
    assert (bulk.x, bulk.y, bulk.wrap_pending) == (general.x, general.y, general.wrap_pending)


# -- screens and regions ----------------------------------------------------------------------


def test_the_alternate_screen_keeps_the_main_screen_and_cursor_intact():
    term, _ = make()
    term.feed(b"shell prompt$ \x1b[?1049h\x1b[Hfull screen app")
    assert term.alternate
    assert rows_of(term)[0] == "full screen app"
    term.feed(b"\x1b[?1049l")
    assert not term.alternate
    assert rows_of(term)[0] == "shell prompt$"
    assert (term.x, term.y) == (14, 0)


def test_the_alternate_screen_never_feeds_the_scrollback():
    term, _ = make(rows=3)
    term.feed(b"\x1b[?1049h" + b"line\r\n" * 50 + b"\x1b[?1049l")
    assert len(term.history) == 0


def test_mode_47_switches_screens_without_clearing_or_moving_the_cursor():
    term, _ = make()
    term.feed(b"\x1b[?47hold alt\x1b[?47l\x1b[H\x1b[?47h")
    assert rows_of(term)[0] == "old alt"


def test_a_scroll_region_scrolls_only_its_rows_and_keeps_history_clean():
    term, _ = make(10, 6)
    term.feed(b"top\r\n\r\n\r\n\r\n\r\nbottom\x1b[2;4r\x1b[4;1H")
    term.feed(b"a\r\nb\r\nc\r\nd")
    assert rows_of(term) == ["top", "b", "c", "d", "", "bottom"]
    assert len(term.history) == 0


def test_reverse_index_at_the_top_of_a_region_pushes_its_rows_down():
    term, _ = make(10, 5)
    term.feed(b"1\r\n2\r\n3\r\n4\r\n5\x1b[2;4r\x1b[2;1H\x1bMnew")
    assert rows_of(term) == ["1", "new", "2", "3", "5"]


def test_erasing_paints_the_current_background_colour():
    term, _ = make(6, 2)
    term.feed(b"\x1b[44mab\x1b[K\x1b[0m")
    assert [describe_color(bg_of(a)) for a in term.lines[0].attrs] == [4] * 6
    assert fg_of(term.lines[0].attrs[5]) == 0


def test_tab_stops_can_be_set_cleared_and_jumped_forward_and_back():
    term, _ = make(40, 2)
    term.feed(b"\x1b[3g\x1b[6G\x1bH\x1b[20G\x1bH\r\x1b[2Ix\x1b[Zy\tz")
    assert rows_of(term)[0] == " " * 19 + "y" + " " * 19 + "z"


def test_dec_line_drawing_characters_draw_boxes():
    term, _ = make()
    term.feed(b"\x1b(0lqqk\x1b(B ok")
    assert rows_of(term)[0] == "┌──┐ ok"


def test_wide_characters_take_two_cells_and_overwriting_half_clears_the_rest():
    term, _ = make(10, 2)
    term.feed("中文😀".encode())
    assert term.lines[0].chars[:6] == ["中", "", "文", "", "😀", ""]
    term.feed(b"\x1b[1;2HX")
    assert term.lines[0].chars[:3] == [" ", "X", "文"]


def test_a_wide_character_that_does_not_fit_wraps_to_the_next_line():
    term, _ = make(5, 2)
    term.feed("abcd中".encode())
    assert rows_of(term) == ["abcd", "中"]
    assert term.lines[0].wrapped


def test_combining_marks_join_the_previous_cell():
    term, _ = make()
    term.feed("e\u0301x".encode())
    assert term.lines[0].chars[:2] == ["e\u0301", "x"]


def test_sgr_sets_256_and_truecolor_and_reverse():
    term, _ = make()
    term.feed(b"\x1b[38;5;208;48;2;1;2;3;7mx\x1b[0my")
    attr = term.lines[0].attrs[0]
    assert describe_color(fg_of(attr)) == 208
    assert describe_color(bg_of(attr)) == "#010203"
    assert attr & REVERSE
    assert term.lines[0].attrs[1] == 0
    assert palette(4) << BG_SHIFT == palette(4) << BG_SHIFT  # packing is plain integers


# -- modes the view needs ----------------------------------------------------------------------


def test_modes_for_keys_mouse_paste_and_cursor_are_tracked():
    term, _ = make()
    term.feed(b"\x1b[?1h\x1b[?2004h\x1b[?1002h\x1b[?1006h\x1b[?25l\x1b[5 q")
    assert term.app_cursor and term.bracketed_paste and term.mouse_sgr
    assert term.mouse_tracking == 1002
    assert not term.cursor_visible
    assert term.cursor_shape == 5
    term.feed(b"\x1b[?1l\x1b[?2004l\x1b[?1002l\x1b[?25h\x1b[0 q")
    assert not term.app_cursor and not term.bracketed_paste
    assert term.mouse_tracking == 0 and term.cursor_visible and term.cursor_shape == 0


# -- scrollback -------------------------------------------------------------------------------


def test_the_scrollback_is_bounded_and_keeps_the_newest_lines_in_order():
    term, _ = make(20, 5, scrollback=1000)
    term.feed(b"".join(b"line %d\r\n" % n for n in range(5000)))
    assert len(term.history) == 1000
    first = term.history[0][0].rstrip()
    last = term.history[-1][0].rstrip()
    assert (first, last) == ("line 3996", "line 4995")


def test_scrolled_off_lines_are_stored_compactly():
    term, _ = make(120, 5)
    term.feed(b"x" * 119 + b"\r\n" + b"\x1b[31mred\x1b[0m plain\r\n" * 10)
    cells, runs, wrapped = term.history[-1]
    assert isinstance(cells, str) and len(cells) == 120
    assert runs == ((palette(1), 3), (0, 117))


def test_clearing_the_scrollback_with_csi_3j_forgets_it():
    term, _ = make(rows=2)
    term.feed(b"a\r\nb\r\nc\r\n\x1b[3J")
    assert len(term.history) == 0


def test_shrinking_the_screen_keeps_the_cursor_line_and_moves_the_top_into_history():
    term, _ = make(10, 5)
    term.feed(b"1\r\n2\r\n3\r\n4\r\n5")
    term.resize(8, 3)
    assert rows_of(term) == ["3", "4", "5"]
    assert [stored[0].rstrip() for stored in term.history] == ["1", "2"]
    assert (term.x, term.y) == (1, 2)
    assert all(len(line.chars) == 8 for line in term.lines)


def test_the_emulator_and_the_shell_service_load_without_textual():
    import subprocess
    import sys

    code = (
        "import sys, spark_tui.widgets.terminal.emulator, spark_tui.widgets.terminal.keys, spark_tui.services.shell.session;"
        "print('textual' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
