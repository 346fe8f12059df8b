"""Copy mode in a real Textual app: keys select text of the screen and the scrollback, and what
lands in the app's clipboard is exactly what was on screen."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.widgets import Footer

from spark_tui.widgets.terminal.emulator import Terminal
from spark_tui.widgets.terminal.scrollback import Scrollback
from spark_tui.widgets.terminal.view import TerminalView


class TerminalApp(App):
    def compose(self) -> ComposeResult:
        yield TerminalView(id="term")
        yield Footer()


def inputs(seen) -> bytes:
    unique = {id(m): m for m in seen if isinstance(m, TerminalView.Input)}
    return b"".join(m.data for m in unique.values())


def selected_cells(view: TerminalView, y: int) -> str:
    """The text of view row ``y`` drawn in the copy-mode selection colour."""
    strip = view.render_line(y)
    return "".join(seg.text for seg in strip if seg.style and seg.style.bgcolor and seg.style.bgcolor.name == "blue")


async def test_keys_select_characters_and_y_copies_them_and_leaves():
    seen = []
    app = TerminalApp()
    async with app.run_test(size=(80, 24), message_hook=seen.append) as pilot:
        view = app.query_one(TerminalView)
        view.focus()
        view.feed(b"$ echo hello world\r\nhello world\r\n$ ")
        await pilot.pause()
        await pilot.press("ctrl+shift+space")
        assert view.copy_mode.active
        assert (view.copy_mode.row, view.copy_mode.col) == (2, 2)  # starts on the terminal's cursor
        await pilot.press("k", "0", "v", "e")
        assert selected_cells(view, 1) == "hello"
        await pilot.press("y")
        assert app.clipboard == "hello"
        assert not view.copy_mode.active
        assert selected_cells(view, 1) == ""
        assert inputs(seen) == b""  # no key of copy mode reached the remote


async def test_wide_characters_are_copied_once_and_drawn_whole():
    app = TerminalApp()
    async with app.run_test(size=(80, 24)) as pilot:
        view = app.query_one(TerminalView)
        view.focus()
        view.feed("価格 日本語 ok\r\n".encode())
        await pilot.pause()
        await pilot.press("ctrl+shift+space", "k", "0", "w")
        assert view.copy_mode.col == 5  # 価格 and a space: five cells
        await pilot.press("v", "l", "l")
        assert view.copy_mode.col == 9  # 日 本 語 are one step each
        assert selected_cells(view, 0) == "日本語"
        await pilot.press("y")
        assert app.clipboard == "日本語"


async def test_a_selection_ending_on_half_a_wide_character_takes_the_whole_character():
    term = Terminal(20, 4)
    back = Scrollback(term)
    term.feed("ab日本\r\n".encode())
    assert back.text((0, 0), (0, 2)) == "ab日"
    assert back.text((0, 3), (0, 5)) == "日本"  # started on the right half of 日


async def test_line_wise_selection_reaches_into_the_scrollback():
    app = TerminalApp()
    async with app.run_test(size=(80, 24)) as pilot:
        view = app.query_one(TerminalView)
        view.focus()
        view.feed(b"".join(b"line %03d   \r\n" % n for n in range(200)))
        await pilot.pause()
        # Through the scrollback: shift+pageup, then V starts a line selection.
        await pilot.press("shift+pageup", "V")
        assert view.copy_mode.active and view.copy_mode.linewise
        await pilot.press(*["k"] * 30)
        assert view.scrollback.offset > 23  # the view followed the cursor up
        top = view.copy_mode.row
        first = view.scrollback.cells(top)[0]
        assert "".join(first).strip() == f"line {top:03d}"
        assert selected_cells(view, top - view.scrollback.top_row).rstrip() == f"line {top:03d}"
        await pilot.press("enter")
        lines = app.clipboard.split("\n")
        assert lines == [f"line {n:03d}" for n in range(top, top + 31)]  # trailing blanks trimmed
        assert view.scrollback.offset == 0


async def test_lines_the_terminal_wrapped_are_copied_as_one():
    app = TerminalApp()
    async with app.run_test(size=(40, 10)) as pilot:
        view = app.query_one(TerminalView)
        view.focus()
        long = b"word " * 15  # 75 characters: wraps at 40 with a blank on the edge
        view.feed(b"before\r\n" + long.rstrip() + b"\r\nafter\r\n")
        await pilot.pause()
        await pilot.press("ctrl+shift+space", "g", "V", "j", "j", "j", "y")
        assert app.clipboard == "before\n" + long.rstrip().decode() + "\nafter"


async def test_escape_leaves_without_copying_and_typing_goes_to_the_remote_again():
    seen = []
    app = TerminalApp()
    async with app.run_test(size=(80, 24), message_hook=seen.append) as pilot:
        view = app.query_one(TerminalView)
        view.focus()
        app.copy_to_clipboard("before")
        view.feed(b"some text\r\n")
        await pilot.pause()
        await pilot.press("ctrl+shift+space", "k", "v", "$")
        assert selected_cells(view, 0)
        await pilot.press("escape")
        assert not view.copy_mode.active
        assert app.clipboard == "before"
        assert selected_cells(view, 0) == ""
        await pilot.press("x")
        assert inputs(seen) == b"x"


async def test_output_arriving_in_copy_mode_does_not_move_the_selection():
    app = TerminalApp()
    async with app.run_test(size=(80, 10)) as pilot:
        view = app.query_one(TerminalView)
        view.focus()
        view.feed(b"keep me\r\n")
        await pilot.pause()
        await pilot.press("ctrl+shift+space", "k", "V")
        view.feed(b"".join(b"noise %d\r\n" % n for n in range(30)))
        await pilot.pause()
        assert view.render_line(0).text.startswith("keep me")  # the view held still
        await pilot.press("y")
        assert app.clipboard == "keep me"


async def test_the_footer_shows_the_terminals_own_keys_and_copy_modes_only_while_it_is_on():
    class BoundApp(TerminalApp):
        BINDINGS = [("w", "close_tab", "Close tab")]

    app = BoundApp()
    async with app.run_test(size=(120, 24)) as pilot:
        view = app.query_one(TerminalView)
        view.focus()
        await pilot.pause()

        def shown() -> set[str]:
            return {b.binding.description for b in app.screen.active_bindings.values() if b.binding.show}

        # w goes to the remote while the terminal has the keys: the footer must not offer it.
        assert shown() == {"Leave shell", "Copy mode"}
        await pilot.press("ctrl+shift+space")
        await pilot.pause()
        assert shown() == {"Leave shell", "Move", "Select", "Lines", "Copy", "Search", "Cancel"}
        footer = app.query_one(Footer)
        assert footer.query("FooterKey")  # drawn by Textual's own Footer
        await pilot.press("escape")
        await pilot.pause()
        assert shown() == {"Leave shell", "Copy mode"}


async def test_the_copy_mode_key_can_be_rebound_by_its_id():
    seen = []
    app = TerminalApp()
    async with app.run_test(size=(80, 24), message_hook=seen.append) as pilot:
        app.set_keymap({"terminal.copy_mode": "f12"})
        view = app.query_one(TerminalView)
        view.focus()
        view.feed(b"abc")
        await pilot.press("f12")
        assert view.copy_mode.active
        await pilot.press("escape", "ctrl+shift+space")
        assert not view.copy_mode.active
        assert inputs(seen) == b"\x00"  # the old key is the remote's again (ctrl+space)


async def test_search_in_copy_mode_puts_the_cursor_on_the_match():
    app = TerminalApp()
    async with app.run_test(size=(80, 24)) as pilot:
        view = app.query_one(TerminalView)
        view.focus()
        view.feed(b"".join(b"line %03d%s\r\n" % (n, b" needle here" if n == 42 else b"") for n in range(300)))
        await pilot.pause()
        await pilot.press("ctrl+shift+space", "slash", *"needle", "enter")
        assert view.copy_mode.row == 42 and view.copy_mode.col == 9
        await pilot.press("v", "e", "y")
        assert app.clipboard == "needle"


async def test_ctrl_bracket_leaves_copy_mode_and_the_terminal():
    seen = []
    app = TerminalApp()
    async with app.run_test(size=(80, 24), message_hook=seen.append) as pilot:
        view = app.query_one(TerminalView)
        view.focus()
        await pilot.press("ctrl+shift+space", "ctrl+right_square_bracket")
        assert not view.copy_mode.active
        assert any(isinstance(m, TerminalView.LeaveRequested) for m in seen)


async def test_o_on_a_link_asks_to_open_it_and_shows_only_on_a_link():
    seen = []
    app = TerminalApp()
    async with app.run_test(size=(80, 24), message_hook=seen.append) as pilot:
        view = app.query_one(TerminalView)
        view.focus()
        view.feed(b"see \x1b]8;;https://example.com/docs\x1b\\the docs\x1b]8;;\x1b\\ here\r\n")
        await pilot.pause()
        await pilot.press("ctrl+shift+space", "k", "0")

        def offered() -> bool:
            return any(b.binding.action == "copy_open_link" for b in app.screen.active_bindings.values())

        assert not offered()
        await pilot.press("o")  # off a link: nothing happens
        assert view.copy_mode.active
        await pilot.press("w")
        assert offered()
        await pilot.press("o")
        await pilot.pause()
        clicked = {id(m): m.url for m in seen if isinstance(m, TerminalView.LinkClicked)}
        assert list(clicked.values()) == ["https://example.com/docs"]
        assert not view.copy_mode.active


def copy_mode_over(data: bytes, cols: int = 30, rows: int = 5) -> tuple[Terminal, "CopyMode"]:
    from spark_tui.widgets.terminal.copy_mode import CopyMode

    term = Terminal(cols, rows, scrollback=100)
    back = Scrollback(term)
    term.feed(data)
    back.follow()
    copy = CopyMode(back)
    copy.enter()
    return term, copy


def test_word_motions_stop_at_punctuation_and_cross_lines_and_big_words_do_not():
    term, copy = copy_mode_over(b"ls -la /tmp/x.txt\r\nnext line")
    copy.to_row(0)
    stops = []
    for _ in range(5):
        copy.word(forward=True)
        stops.append((copy.row, copy.col))
    assert stops == [(0, 3), (0, 4), (0, 7), (0, 8), (0, 11)]  # -  la  /  tmp  /
    copy.to_row(0)
    big = []
    for _ in range(3):
        copy.word(forward=True, big=True)
        big.append((copy.row, copy.col))
    assert big == [(0, 3), (0, 7), (1, 0)]
    copy.word(forward=False, big=True)
    assert (copy.row, copy.col) == (0, 7)
    copy.word(forward=True, end=True, big=True)
    assert (copy.row, copy.col) == (0, 16)  # the end of /tmp/x.txt


def test_copy_mode_ends_by_itself_when_the_remote_leaves_the_alternate_screen():
    changes = []
    term, copy = copy_mode_over(b"shell\r\n\x1b[?1049hin the pager")
    copy.on_change = lambda: changes.append(copy.active)
    copy.toggle_selection(linewise=True)
    term.feed(b"\x1b[?1049l")
    copy.scrollback.follow()
    assert not copy.active and changes == [False]
    assert copy.scrollback.offset == 0 and not copy.scrollback.hold


def test_the_cursor_never_rests_on_the_right_half_of_a_wide_character():
    term, copy = copy_mode_over("a日b\r\n".encode())
    copy.to_row(0)
    copy.move(cols=1)
    assert copy.col == 1
    copy.move(cols=1)
    assert copy.col == 3  # one step over 日
    copy.move(cols=-1)
    assert copy.col == 1
    copy.col = 2  # as if the line changed under it
    copy.move()
    assert copy.col == 1


def test_a_mouse_selection_over_a_wrapped_line_keeps_the_blank_it_wrapped_at():
    term = Terminal(10, 4)
    back = Scrollback(term)
    term.feed(b"123456789 abc\r\n")
    back.select_start(0, 0)
    assert back.select_end(2, 1) == "123456789 abc"


async def test_escape_from_copy_mode_entered_in_the_scrollback_returns_to_the_live_screen():
    app = TerminalApp()
    async with app.run_test(size=(80, 24)) as pilot:
        view = app.query_one(TerminalView)
        view.focus()
        view.feed(b"".join(b"line %03d\r\n" % n for n in range(100)))
        await pilot.pause()
        await pilot.press("shift+pageup")
        scrolled = view.scrollback.offset
        await pilot.press("v")
        assert view.copy_mode.selecting and view.scrollback.offset == scrolled > 0
        await pilot.press("escape")
        assert not view.copy_mode.active and view.scrollback.offset == 0


async def test_in_a_full_screen_program_shift_pageup_enters_copy_mode_as_there_is_no_history():
    seen = []
    app = TerminalApp()
    async with app.run_test(size=(80, 24), message_hook=seen.append) as pilot:
        view = app.query_one(TerminalView)
        view.focus()
        view.feed(b"shell output\r\n" * 40 + b"\x1b[?1049h\x1b[H~ vim buffer line")
        await pilot.pause()
        await pilot.press("shift+pageup")
        assert view.copy_mode.active
        await pilot.press("0", "w", "V", "y")
        assert app.clipboard == "~ vim buffer line"
        assert inputs(seen) == b""


def test_a_mouse_selection_is_dropped_once_the_remote_writes_over_it_but_not_when_it_scrolls():
    term = Terminal(20, 4, scrollback=100)
    back = Scrollback(term)
    term.feed(b"first\r\nsecond\r\n")
    back.follow()
    back.select_start(0, 0)
    assert back.select_end(2, 1) == "first\nsec"
    term.feed(b"".join(b"more %d\r\n" % n for n in range(10)))  # scrolls: the text moves, unchanged
    back.follow()
    assert back.text(*back._ordered()) == "first\nsec"
    back.scroll(100)
    assert back.selection_span(0) is not None
    back.to_bottom()
    back.select_start(0, 1)
    assert back.select_end(5, 1) == "more 8"
    term.feed(b"\x1b[H\x1b[2Jnew screen")  # clear: the selected text is gone
    back.follow()
    assert all(back.selection_span(y) is None for y in range(4))


async def test_y_with_nothing_selected_stays_in_copy_mode_and_says_how_to_select():
    app = TerminalApp()
    async with app.run_test(size=(80, 24)) as pilot:
        view = app.query_one(TerminalView)
        view.focus()
        app.copy_to_clipboard("before")
        await pilot.press("ctrl+shift+space", "y")
        await pilot.pause()
        assert view.copy_mode.active and app.clipboard == "before"
        assert [n.message for n in app._notifications] == ["Nothing selected yet: v selects characters, V whole lines"]


async def test_the_top_row_says_where_the_view_is_while_scrolled_back_or_in_copy_mode():
    app = TerminalApp()
    async with app.run_test(size=(80, 24)) as pilot:
        view = app.query_one(TerminalView)
        view.focus()
        view.feed(b"".join(b"line %03d\r\n" % n for n in range(100)))
        await pilot.pause()
        history = view.terminal.screen.pushed
        assert not view.render_line(0).text.rstrip().endswith("]")  # live: nothing drawn over the text
        await pilot.press("shift+pageup")
        offset = view.scrollback.offset
        top = view.render_line(0).text.rstrip()
        assert top.startswith("line") and top.endswith(f"[{offset}/{history}] v: select  /: search  esc: live")
        await pilot.press("v", "k")
        assert view.render_line(0).text.rstrip().endswith(f"[{offset}/{history}]")
        await pilot.press("escape")
        assert not view.render_line(0).text.rstrip().endswith("]")


async def test_the_mouse_ends_copy_mode_so_only_one_selection_is_ever_drawn():
    app = TerminalApp()
    async with app.run_test(size=(80, 24)) as pilot:
        view = app.query_one(TerminalView)
        view.focus()
        view.feed(b"first line here\r\nsecond line")
        await pilot.pause()
        await pilot.press("ctrl+shift+space", "v", "0")
        await pilot.mouse_down(view, offset=(6, 0))
        await pilot.hover(view, offset=(5, 1))
        await pilot.mouse_up(view, offset=(5, 1))
        await pilot.pause()
        assert not view.copy_mode.active
        assert app.clipboard == "line here\nsecond"
        assert selected_cells(view, 1) == ""
