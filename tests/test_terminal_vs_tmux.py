"""Differential tests: the same bytes into our emulator and into tmux, screens compared cell by cell.

The streams are what real programs wrote to a 120x40 PTY (see tests/terminal_fixtures/record.py)
plus short hand-written ones for the sequences those programs rarely use. Text, colours,
attributes, the cursor and the terminal modes must all agree with tmux.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.terminal_fixtures.reference import TMUX, emulator_snapshot, render_cells, tmux_snapshot

FIXTURES = Path(__file__).parent / "terminal_fixtures"
RECORDED = sorted(path.stem for path in FIXTURES.glob("*.bin"))

pytestmark = pytest.mark.skipif(TMUX is None, reason="tmux is not installed (apt-get install -y tmux)")

SYNTHETIC = {
    "scroll_region_with_index_and_reverse_index": (
        b"".join(b"row %02d\r\n" % n for n in range(30))
        + b"\x1b[5;15r\x1b[15;1H" + b"".join(b"in region %d\r\n" % n for n in range(12))
        + b"\x1b[5;1H\x1bM\x1bMtop of region\x1b[r\x1b[40;1Hlast"
    ),
    "insert_and_delete_lines_and_characters": (
        b"".join(b"line %02d abcdefghij\r\n" % n for n in range(12))
        + b"\x1b[3;1H\x1b[2L\x1b[8;1H\x1b[3M\x1b[1;5H\x1b[3@XYZ\x1b[2;3H\x1b[4P\x1b[4;2H\x1b[5X"
    ),
    "autowrap_at_the_edge_and_wide_characters_at_the_last_column": (
        b"A" * 120 + b"B" + b"\r\n" + b"C" * 119 + "中".encode() + b"D\r\n"
        + b"E" * 120 + b"\r\nnext\r\n" + b"\x1b[?7l" + b"F" * 130 + b"\x1b[?7h\r\nwrap back on"
    ),
    "erase_with_a_background_colour": (
        b"text to erase\r\n\x1b[44m\x1b[2J\x1b[H\x1b[97mwhite on blue\x1b[K\r\n\x1b[41m\x1b[1K\x1b[0m\r\n"
        b"\x1b[48;2;10;20;30mrgb\x1b[J"
    ),
    # (tmux has no CHT, CSI I: the unit tests cover it)
    "tab_stops_set_and_cleared": b"a\tb\tc\r\n\x1b[3g\x1b[10G\x1bH\x1b[30G\x1bH\rx\ty\tz\r\n\t\t!\x1b[Z?",
    "origin_mode_and_saved_cursor": (
        b"\x1b[10;20r\x1b[?6h\x1b[1;1Horigin\x1b7\x1b[5;5Hmoved\x1b8 restored\x1b[?6l\x1b[r\x1b[2;2H"
        b"\x1b[1;31m\x1b7\x1b[0m\x1b[30;30H\x1b8saved red"
    ),
    "alternate_screen_round_trip_keeps_the_main_screen": (
        b"main screen text\r\nsecond line\x1b[?1049h\x1b[H\x1b[2Jalt screen\x1b[?1049lback"
    ),
    "sgr_attributes_and_colours": (
        b"\x1b[1mbold\x1b[22m \x1b[2mdim\x1b[22m \x1b[3mitalic\x1b[23m \x1b[4munder\x1b[24m \x1b[5mblink\x1b[25m "
        b"\x1b[7mrev\x1b[27m \x1b[9mstrike\x1b[29m\r\n\x1b[31mred\x1b[92mbright\x1b[38;5;208m208\x1b[38;2;255;128;0mrgb"
        b"\x1b[48;5;17mbg\x1b[38:2::1:2:3mcolon\x1b[0m plain\r\n\x1b[1;4;7;38;5;40;48;5;90mmix\x1b[m"
    ),
    "modes_cursor_keys_mouse_and_hidden_cursor": b"\x1b[?1h\x1b[?1002h\x1b[?1006h\x1b[?25l\x1b[4hins",
    "insert_mode_pushes_text_right": b"abcdef\x1b[1;3H\x1b[4hXY\x1b[4l",
    "scroll_up_and_down_commands": b"".join(b"r%d\r\n" % n for n in range(10)) + b"\x1b[3S\x1b[2T",
    "repeat_and_cursor_movement": b"x\x1b[5b\x1b[3;3Hy\x1b[2A\x1b[4Cz\x1b[10D\x1b[2Bw\x1b[3Eq\x1b[2Fp\x1b[40Gr\x1b[7dv",
    # REP repeats the last printed character once, up to the line's end; any sequence in between
    # (a second REP, a line feed, a cursor move, an SGR) leaves it nothing to repeat.
    "repeat_after_repeat_and_after_other_sequences": (
        b"ab\x1b[3b\x1b[3bc\r\nd\r\n\x1b[3be\x1b[1C\x1b[3bf\x1b[31m\x1b[3bg\x1b[0m\r\n"
        b"\x1b[5;115Hhi\x1b[65535bj\x1b[6;119Hkl\x1b[3bm"
    ),
    "c0_controls_inside_a_csi_are_executed": b"hello\x1b[2\r\nCworld\x1b[1\x08;3Hx\x1b[3;\x0b5Hy\x1b[1\x07m bold",
    "parameters_with_leading_zeros_are_numbers": (
        b"\x1b[0000000031mred\x1b[0000000002;0000000005Hx\x1b[000000000000000000004;01Cy\x1b[0m"
    ),
    "decaln_fills_with_e_homes_and_resets_margins": b"\x1b[5;10r\x1b[3;3H\x1b#8x\x1b[40;1H\n\nbottom",
    # Found by comparing random streams with tmux (both cores are held to them):
    "erased_cells_keep_a_truecolor_background": b"\x1b[48;2;154;215;197m\x1b[3L\x1bD\x1b[20G\xe4\xb8\xad\x1b[0m",
    "insert_and_delete_lines_keep_the_column": b"\x1b[5;68H\x1b[4Labc\x1b[9;30H\x1b[2Mdef",
    "insert_and_delete_lines_outside_the_scroll_region_move_the_rows_below": (
        b"".join(b"\x1b[%d;1Hrow%02d" % (i + 1, i) for i in range(40))
        + b"\x1b[10;17r\x1b[1;3H\x1b[1Ma\x1b[2;5H\x1b[2Lb\x1b[30;3H\x1b[1Mc\x1b[33;4H\x1b[3Ld\x1b[12;1H\x1b[2Me"
    ),
    "entering_the_alternate_screen_twice_keeps_its_text": b"\x1b[?1049htext\x1b[?1049h more",
    "leaving_an_alternate_screen_never_entered_keeps_the_cursor": b"top\x1b[9B\x1b[?1049lhere",
    "deccolm_clears_and_homes": b"text\r\nmore\x1b[44m\x1b[3;3H\x1b[?3lafter\x1b[0m\x1b[?3hagain",
}


def _compare(make_term, data: bytes, cols: int = 120, rows: int = 40) -> None:
    reference = tmux_snapshot(data, cols, rows)
    term = make_term(cols, rows)
    # Feed in awkward chunks: sequences and UTF-8 characters get split across feeds.
    for start in range(0, len(data), 7):
        term.feed(data[start : start + 7])
    ours = emulator_snapshot(term)
    for row, (mine, theirs) in enumerate(zip(ours.rows, reference.rows)):
        # tmux's capture leaves out erased cells even when they carry a background colour, so
        # we may have extra trailing blanks (unit tests check their colour); nothing else.
        extra = mine[len(theirs) :]
        assert render_cells(mine).rstrip() == render_cells(theirs).rstrip(), f"text of row {row}"
        assert mine[: len(theirs)] == theirs, f"attributes of row {row}: {render_cells(mine)!r}"
        assert all(cell[0] == " " and cell[3] == () for cell in extra), f"extra cells in row {row}: {extra}"
    assert ours.modes == reference.modes
    assert ours.cursor == reference.cursor


@pytest.mark.parametrize("name", RECORDED)
def test_a_recorded_program_looks_the_same_as_in_tmux(name, make_term):
    _compare(make_term, (FIXTURES / f"{name}.bin").read_bytes())


@pytest.mark.parametrize("name", sorted(SYNTHETIC))
def test_a_control_sequence_stream_looks_the_same_as_in_tmux(name, make_term):
    _compare(make_term, SYNTHETIC[name])


def test_every_kind_of_recording_is_present():
    assert {"ls_color", "vim_file", "htop", "top", "less_search", "progress", "utf8_wide"} <= set(RECORDED)


VTTEST = sorted(path.stem for path in (FIXTURES / "vttest").glob("*.bin"))


# Screens where tmux itself fails what vttest asks for; there we check vttest's own words.
TMUX_FAILS_VTTEST = {"cursor_03", "cursor_04", "screen_11"}


@pytest.mark.parametrize("name", [name for name in VTTEST if name not in TMUX_FAILS_VTTEST])
def test_a_vttest_screen_looks_the_same_as_in_tmux(name, make_term):
    # vttest (Debian package) stopped on one screen of its cursor, screen-feature and
    # insert/delete menus, recorded at 80x24 (tests/terminal_fixtures/record.py).
    _compare(make_term, (FIXTURES / "vttest" / f"{name}.bin").read_bytes(), 80, 24)


def _vttest_screen(make_term, name: str) -> list[str]:
    term = make_term(80, 24)
    term.feed((FIXTURES / "vttest" / f"{name}.bin").read_bytes())
    return [row.rstrip() for row in term.display]


@pytest.mark.parametrize("name", ["cursor_03", "cursor_04"])
def test_vttest_autowrap_with_controls_leaves_the_letters_in_order_on_both_margins(name, make_term):
    # "The left/right margins should have letters in order" (tmux mixes them up).
    rows = _vttest_screen(make_term, name)[2:20]
    letters = "IJKLMNOPQRSTUVWXYZ"
    assert [(row[0], row[-1], len(row)) for row in rows] == [(c, c.lower(), 80) for c in letters]


def test_vttest_origin_mode_puts_its_lines_at_the_bottom_of_the_screen(make_term):
    rows = _vttest_screen(make_term, "screen_11")
    assert rows[23] == "Origin mode test. This line should be at the bottom of the screen."
    assert rows[22].startswith("This line should be the one above the bottom of the screen.")


def test_the_vttest_screens_are_present():
    assert len(VTTEST) >= 20


def test_a_coloured_log_fed_in_big_chunks_looks_the_same_as_in_tmux(make_term):
    # Big chunks take the emulator's bulk line paths (plain and coloured lines).
    from tests.test_terminal_conformance import _coloured_log

    data = _coloured_log(7)
    reference = tmux_snapshot(data, 120, 40)
    term = make_term(120, 40)
    for start in range(0, len(data), 4096):
        term.feed(data[start : start + 4096])
    ours = emulator_snapshot(term)
    for row, (mine, theirs) in enumerate(zip(ours.rows, reference.rows)):
        assert mine[: len(theirs)] == theirs, f"row {row}: {render_cells(mine)!r}"
    assert ours.cursor == reference.cursor
