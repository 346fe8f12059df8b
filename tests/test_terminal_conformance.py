"""Conformance details found from outside, where tmux is no judge (it lacks the feature) or differs
from xterm on purpose. The rest is checked against tmux in test_terminal_vs_tmux.py."""

from __future__ import annotations

import pytest

from spark_tui.widgets.terminal.cells import describe_color, fg_of
from spark_tui.widgets.terminal.emulator import Terminal


@pytest.fixture(autouse=True)
def _core(make_term):
    """Every test here runs on each terminal core (``fed`` builds its terminal on it)."""
    global _make
    _make = make_term


_make = Terminal


def fed(data: bytes, cols: int = 20, rows: int = 6, chunk: int = 0):
    term = _make(cols, rows)
    step = chunk or len(data) or 1
    for start in range(0, len(data), step):
        term.feed(data[start : start + step])
    return term


def margins_are_the_whole_screen(term) -> bool:
    """A line feed on the last row scrolls the whole screen (not a region) up by one."""
    term.feed(b"\x1b[1;1HTOP\x1b[%d;1H\nBOTTOM" % term.rows)
    return not term.display[0].startswith("TOP") and term.display[-1].startswith("BOTTOM")


@pytest.mark.parametrize("set_or_reset", [b"h", b"l"])
def test_the_80_132_column_switch_clears_homes_and_resets_the_margins_as_xterm(set_or_reset):
    term = fed(b"first\r\nsecond\x1b[2;4r\x1b[3;3H\x1b[?3" + set_or_reset)
    assert term.display[0].strip() == "" and term.display[1].strip() == ""
    assert (term.x, term.y) == (0, 0)
    assert margins_are_the_whole_screen(term)
    assert term.cols == 20  # the size stays: the view decides the size, not the remote


def test_decaln_fills_the_screen_with_e_homes_the_cursor_and_resets_the_margins():
    term = fed(b"\x1b[2;4r\x1b[3;3H\x1b#8")
    assert all(row == "E" * 20 for row in term.display)
    assert (term.x, term.y) == (0, 0)
    assert margins_are_the_whole_screen(term)


def test_reverse_wraparound_backspaces_over_the_left_edge_to_the_previous_row():
    term = fed(b"\x1b[?45h\x1b[3;1H\x08X")
    assert (term.display[1][-1], term.y) == ("X", 1)
    plain = fed(b"\x1b[3;1H\x08X")
    assert plain.display[2][0] == "X"  # without mode 45 the cursor stays at the edge


def test_reverse_wraparound_needs_autowrap_and_stops_at_the_top_row():
    assert fed(b"\x1b[?45h\x1b[?7l\x1b[3;1H\x08X").display[2][0] == "X"
    assert fed(b"\x1b[?45h\x1b[1;1H\x08X").display[0][0] == "X"


def test_a_c0_control_inside_a_csi_split_across_chunks_is_executed_and_the_csi_still_applies():
    term = fed(b"ab\x1b[3\r\x0b;5Hx\x1b[0\n31mred", chunk=3)
    assert term.display[2][4] == "x"
    assert fg_of(term.lines[3].attrs[term.display[3].index("r")]) != 0


def test_can_and_sub_cancel_a_csi():
    assert fed(b"\x1b[3\x18;5Hx").display[0].startswith(";5Hx")


def test_a_long_csi_split_into_bytes_still_applies():
    params = b";".join([b"1"] * 200) + b";31"
    term = fed(b"\x1b[" + params + b"mred", chunk=1)
    assert describe_color(fg_of(term.lines[0].attrs[0])) == 1


def test_tab_stops_huge_counts_stop_at_the_edges():
    term = fed(b"\x1b[65535Ix\r\x1b[3Iy\x1b[65535Zz", cols=40)
    assert term.display[0].index("y") == 24 and term.display[0][0] == "z" and term.display[0][-1] == "x"


def test_tab_stops_after_a_resize_new_columns_get_default_stops(terminal_core):
    term = fed(b"\x1b[3g\x1b[5G\x1bH", cols=20)
    term.resize(40, 6)
    term.feed(b"\r\t1\t2")
    # xterm (and the Python core) keep the stops set before; Ghostty resets them all to
    # every 8 columns on a resize. Both give new columns the default stops.
    first = 4 if terminal_core == "python" else 8
    assert term.display[0].index("1") == first and term.display[0].index("2") == (24 if first == 4 else 16)


def _coloured_log(seed: int) -> bytes:
    import random

    pick = random.Random(seed)
    lines = []
    for i in range(1500):
        kind = pick.random()
        if kind < 0.3:
            lines.append(b"\x1b[3%dmred %d\x1b[0m tail\r\n" % (i % 8, i))
        elif kind < 0.5:
            lines.append(b"\x1b[44mbg line %d\r\n" % i)  # the background runs on into the next rows
        elif kind < 0.6:
            lines.append(b"plain %d\r\n" % i)
        elif kind < 0.7:
            lines.append(b"\x1b[1;38;5;%dmx\x1b[49m y \x1b[m\r\n" % (i % 256))
        elif kind < 0.8:
            lines.append(b"x" * (i % 130) + b"\r\n")  # some wrap: the bulk path must step aside
        else:
            lines.append(b"\x1b[0m\x1b[7mrev\x1b[27m" + b"z" * (i % 110) + b"\r\n")
    return b"".join(lines)


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("chunk", [4096, 65536])
def test_a_coloured_log_flood_in_bulk_leaves_the_same_screen_and_scrollback_as_token_by_token(seed, chunk):
    from tests.terminal_fixtures.reference import emulator_snapshot

    data = _coloured_log(seed)

    def run(bulk: bool) -> Terminal:  # (the Python core's own fast path against its slow one)
        term = Terminal(120, 40, scrollback=5000)
        if not bulk:
            term._coloured_lines = lambda text: False
        for start in range(0, len(data), chunk):
            term.feed(data[start : start + chunk])
        return term

    fast, slow = run(True), run(False)
    assert emulator_snapshot(fast) == emulator_snapshot(slow)
    assert list(fast.history) == list(slow.history) and fast.main.pushed == slow.main.pushed
    assert fast.attr == slow.attr
