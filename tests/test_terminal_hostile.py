"""Hostile output: whatever a program on the device prints, the emulator's work stays bounded.

Each sequence's cost is bounded by the screen size, not by its parameter; caches stay small;
a string that never ends costs linear time however it is chunked; replies are rate-limited.
Bounds are generous (the machine is shared) but each failed by orders of magnitude before.
"""

from __future__ import annotations

import time

import pytest

from spark_tui.widgets.terminal import sgr
from spark_tui.widgets.terminal.core import make_terminal
from spark_tui.widgets.terminal.emulator import Terminal
from spark_tui.widgets.terminal.sequences import REPLY_BURST, REPLY_RATE

MB = 1 << 20


@pytest.fixture(autouse=True)
def _core(terminal_core):
    """Every test here runs on each terminal core: ``_make`` builds a terminal on it."""
    global _make
    _make = lambda cols, rows, **options: make_terminal(cols, rows, core=terminal_core, **options)  # noqa: E731


_make = Terminal


def _cost(data: bytes, cols: int = 120, rows: int = 40, chunk: int = 65536) -> float:
    term = _make(cols, rows)
    started = time.process_time()
    for start in range(0, len(data), chunk):
        term.feed(data[start : start + chunk])
    return time.process_time() - started


@pytest.mark.parametrize("final", list("@ILMPSTXbIZABCDEFGd"))
def test_a_huge_parameter_costs_no_more_than_one_the_size_of_the_screen(final):
    # CSI 65535 x must cost what CSI 120 x costs (the screen's width): x100 of it took 4 s for I/Z.
    huge = (b"ab\x1b[65535" + final.encode()) * 2000
    screen_sized = (b"ab\x1b[120" + final.encode()) * 2000
    # Best of three: CPU time, but a shared machine still adds noise to a few milliseconds.
    assert min(_cost(huge) for _ in range(3)) < 3 * min(_cost(screen_sized) for _ in range(3)) + 0.1


@pytest.mark.parametrize(
    "unit",
    [b"\x1bc", b"\x1b[2J", b"\x1b#8", b"\x1b[2K", b"\x1b[65535I", b"\x1b[65535Z", b"x\x1b[65535b", b"\x1b[?1049h\x1b[?1049l"],
    ids=["RIS", "ED2", "DECALN", "EL2", "CHT", "CBT", "REP", "alt-screen"],
)
def test_a_megabyte_flood_of_one_control_sequence_is_parsed_in_bounded_time(unit):
    # RIS was 24 s/MB, CHT/CBT minutes; a few seconds here even on a loaded machine.
    data = unit * (MB // len(unit))
    assert _cost(data) < 6.0


def test_eight_thousand_distinct_long_colour_sequences_do_not_fill_a_cache(terminal_core):
    sgr._memo.clear()
    data = b"".join(b"\x1b[38;2;%d;%d;7;" % (i % 256, i // 256) + b"1;" * 300 + b"%dmx" % (i % 100) for i in range(8000))
    term = _make(120, 40)
    term.feed(data)
    if terminal_core == "native":  # the library keeps styles per page of cells, bounded by it
        assert any(attr for line in term.lines for attr in line.attrs)
        return
    # The memo holds at most MEMO_SIZE short keys (about a megabyte); it held 483 MB of long ones.
    assert len(sgr._memo) <= sgr.MEMO_SIZE
    assert all(len(params) <= sgr.MEMO_PARAMS for _, params in sgr._memo)
    assert sum(len(params) for _, params in sgr._memo) < MB
    assert any(attr for line in term.lines for attr in line.attrs)  # the colours still applied


@pytest.mark.parametrize("opener", [b"\x1b]0;", b"\x1bP", b"\x1b[1;"], ids=["OSC", "DCS", "CSI"])
def test_an_unterminated_sequence_fed_a_byte_at_a_time_costs_linear_time(opener):
    def bytewise(size: int) -> float:
        term = _make(80, 24)
        body = opener + (b"x" if opener != b"\x1b[1;" else b"1;") * (size // 2) * (2 if opener != b"\x1b[1;" else 1)
        started = time.process_time()
        for index in range(len(body)):
            term.feed(body[index : index + 1])
        term.feed(b"\x07\x1b\\after")
        assert "after" in "".join(term.display)
        return time.process_time() - started

    small, large = bytewise(32 * 1024), bytewise(256 * 1024)
    assert large < 4.0  # 256 KiB of an OSC a byte at a time took 42 s
    assert large < 16 * small + 0.2  # 8x the bytes: linear is ~8x, quadratic ~64x


def test_an_endless_osc_keeps_only_a_capped_body_and_still_counts_a_clipboard_write():
    term = _make(80, 24)
    term.feed(b"\x1b]52;c;")
    for _ in range(64):
        term.feed(b"QUJD" * 4096)
    assert sum(map(len, getattr(term, "_long_parts", []))) <= 8192
    term.feed(b"\x07shown")
    assert term.refused_clipboard_writes == 1
    assert "shown" in term.display[0]


def test_a_megabyte_of_cursor_position_queries_gets_a_rate_limited_number_of_replies():
    replies: list[bytes] = []
    term = _make(80, 24, on_reply=replies.append)
    data = b"\x1b[6n" * (MB // 4)  # 262,144 queries
    started = time.monotonic()
    for start in range(0, len(data), 4096):
        term.feed(data[start : start + 4096])
    elapsed = time.monotonic() - started
    assert len(replies) <= REPLY_BURST + REPLY_RATE * elapsed + 1
    assert term.dropped_replies == 262_144 - len(replies)
    assert replies[0] == b"\x1b[1;1R"


def test_replies_flow_again_once_the_flood_stops():
    replies: list[bytes] = []
    term = _make(80, 24, on_reply=replies.append)
    term.feed(b"\x1b[5n" * 10_000)
    flood = len(replies)
    time.sleep(0.1)
    term.feed(b"\x1b[c")
    assert flood < 1000 and replies[-1] == b"\x1b[?62;22c"


def test_thousands_of_mode_switches_in_one_sequence_cost_linear_time():
    small = _cost(b"\x1b[?" + b"1049;" * 2000 + b"1049h")
    large = _cost(b"\x1b[?" + b"1049;" * 20000 + b"1049h")
    assert large < 20 * small + 0.2


def test_an_image_upload_naming_local_files_reads_and_deletes_nothing_and_gets_no_reply(tmp_path):
    # The kitty graphics protocol lets a program name a file (t=f) or a temporary file that the
    # terminal reads and deletes (t=t) on *this* computer: a device must reach neither.
    import base64
    import os
    import tempfile

    replies: list[bytes] = []
    term = _make(80, 24, on_reply=replies.append)
    temp = tempfile.NamedTemporaryFile(prefix="tty-graphics-protocol-", suffix=".rgb", delete=False)
    temp.write(b"\xff" * 12)
    temp.close()
    secret = tmp_path / "secret.rgb"
    secret.write_bytes(b"\x00" * 12)
    try:
        for medium, path in ((b"t", temp.name), (b"f", str(secret)), (b"s", "/spark-tui-shm")):
            term.feed(b"\x1b_Gi=7,a=T,f=24,s=2,v=2,t=" + medium + b";" + base64.b64encode(path.encode()) + b"\x1b\\")
        term.feed(b"\x1b_Gi=8,a=T,f=24,s=2,v=2;" + base64.b64encode(b"\x00" * 12) + b"\x1b\\after")
        assert os.path.exists(temp.name), "the temporary-file medium deleted a local file"
        assert replies == []  # not even an error: the remote learns nothing about this computer
        assert "after" in "".join(term.display)
    finally:
        os.unlink(temp.name)
