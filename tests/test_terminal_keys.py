"""Keys, mouse reports and pastes are encoded byte for byte as xterm sends them."""

from __future__ import annotations

import pytest

from spark_tui.widgets.terminal.keys import encode_key, encode_mouse, encode_paste

XTERM = [
    # (textual key, character, application cursor mode, bytes)
    ("up", None, False, b"\x1b[A"),
    ("down", None, False, b"\x1b[B"),
    ("right", None, False, b"\x1b[C"),
    ("left", None, False, b"\x1b[D"),
    ("up", None, True, b"\x1bOA"),
    ("left", None, True, b"\x1bOD"),
    ("home", None, False, b"\x1b[H"),
    ("end", None, False, b"\x1b[F"),
    ("home", None, True, b"\x1bOH"),
    ("end", None, True, b"\x1bOF"),
    ("ctrl+left", None, True, b"\x1b[1;5D"),
    ("shift+up", None, False, b"\x1b[1;2A"),
    ("alt+right", None, False, b"\x1b[1;3C"),
    ("ctrl+shift+right", None, False, b"\x1b[1;6C"),
    ("pageup", None, False, b"\x1b[5~"),
    ("pagedown", None, False, b"\x1b[6~"),
    ("insert", None, False, b"\x1b[2~"),
    ("delete", None, False, b"\x1b[3~"),
    ("ctrl+delete", None, False, b"\x1b[3;5~"),
    ("f1", None, False, b"\x1bOP"),
    ("f2", None, False, b"\x1bOQ"),
    ("f3", None, False, b"\x1bOR"),
    ("f4", None, False, b"\x1bOS"),
    ("f5", None, False, b"\x1b[15~"),
    ("f6", None, False, b"\x1b[17~"),
    ("f7", None, False, b"\x1b[18~"),
    ("f8", None, False, b"\x1b[19~"),
    ("f9", None, False, b"\x1b[20~"),
    ("f10", None, False, b"\x1b[21~"),
    ("f11", None, False, b"\x1b[23~"),
    ("f12", None, False, b"\x1b[24~"),
    ("shift+f5", None, False, b"\x1b[15;2~"),
    ("ctrl+f1", None, False, b"\x1b[1;5P"),
    ("ctrl+a", None, False, b"\x01"),
    ("ctrl+c", None, False, b"\x03"),
    ("ctrl+d", None, False, b"\x04"),
    ("ctrl+z", None, False, b"\x1a"),
    ("ctrl+backslash", None, False, b"\x1c"),
    ("ctrl+right_square_bracket", None, False, b"\x1d"),
    ("ctrl+underscore", None, False, b"\x1f"),
    ("ctrl+@", None, False, b"\x00"),
    ("alt+x", "x", False, b"\x1bx"),
    ("alt+ctrl+a", None, False, b"\x1b\x01"),
    ("tab", "\t", False, b"\t"),
    ("shift+tab", None, False, b"\x1b[Z"),
    ("backspace", None, False, b"\x7f"),
    ("ctrl+h", None, False, b"\x08"),
    ("enter", "\r", False, b"\r"),
    ("escape", None, False, b"\x1b"),
    ("space", " ", False, b" "),
    ("a", "a", False, b"a"),
    ("A", "A", False, b"A"),
    ("eacute", "é", False, "é".encode()),
    ("question_mark", "?", False, b"?"),
]


@pytest.mark.parametrize(("key", "character", "app_cursor", "expected"), XTERM)
def test_a_key_is_sent_as_xterm_sends_it(key, character, app_cursor, expected):
    assert encode_key(key, character, app_cursor=app_cursor) == expected


def test_a_key_with_no_terminal_meaning_sends_nothing():
    assert encode_key("ctrl+f13") is None


def test_mouse_reports_use_sgr_or_the_legacy_encoding():
    assert encode_mouse(0, 4, 2, press=True, sgr=True) == b"\x1b[<0;5;3M"
    assert encode_mouse(0, 4, 2, press=False, sgr=True) == b"\x1b[<0;5;3m"
    assert encode_mouse(0, 9, 9, motion=True, sgr=True) == b"\x1b[<32;10;10M"
    assert encode_mouse(64, 0, 0, sgr=True, ctrl=True) == b"\x1b[<80;1;1M"
    assert encode_mouse(2, 4, 2, press=True, sgr=False) == b"\x1b[M\x22\x25\x23"
    assert encode_mouse(2, 4, 2, press=False, sgr=False) == b"\x1b[M\x23\x25\x23"
    assert encode_mouse(0, 300, 2, sgr=False) is None


def test_a_paste_is_bracketed_and_cannot_close_its_own_brackets():
    evil = "ls\n\x1b[201~rm -rf ~\n"
    assert encode_paste(evil, bracketed=True) == b"\x1b[200~ls\rrm -rf ~\r\x1b[201~"


def test_an_unbracketed_paste_turns_newlines_into_returns_and_drops_escapes():
    assert encode_paste("a\r\nb\nc\x1b[A", bracketed=False) == b"a\rb\rc[A"
