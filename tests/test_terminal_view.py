"""TerminalView in a real Textual app: keys become Input bytes, output is drawn, history is browsable."""

from __future__ import annotations

from textual import events
from textual.app import App, ComposeResult

from spark_tui.widgets.terminal.view import TerminalView


class TerminalApp(App):
    def compose(self) -> ComposeResult:
        yield TerminalView(id="term")


def inputs(seen) -> bytes:
    """The bytes of every Input message, once each (the hook sees a message at every hop)."""
    unique = {id(m): m for m in seen if isinstance(m, TerminalView.Input)}
    return b"".join(m.data for m in unique.values())


def row(view: TerminalView, y: int) -> str:
    return view.render_line(y).text.rstrip()


async def test_typed_keys_become_input_messages_with_xterm_bytes():
    seen = []
    app = TerminalApp()
    async with app.run_test(size=(80, 24), message_hook=seen.append) as pilot:
        view = app.query_one(TerminalView)
        view.focus()
        await pilot.press("l", "s", "space", "minus", "l", "enter", "ctrl+c", "up", "tab", "backspace", "f5")
        await pilot.pause()
        assert inputs(seen) == b"ls -l\r\x03\x1b[A\t\x7f\x1b[15~"
        messages = [m for m in seen if isinstance(m, TerminalView.Input)]
        assert all(m.control is view for m in messages)


async def test_arrows_follow_the_application_cursor_mode_the_remote_sets():
    seen = []
    app = TerminalApp()
    async with app.run_test(size=(80, 24), message_hook=seen.append) as pilot:
        view = app.query_one(TerminalView)
        view.focus()
        view.feed(b"\x1b[?1h")
        await pilot.press("up", "left")
        await pilot.pause()
        assert inputs(seen) == b"\x1bOA\x1bOD"


async def test_fed_output_is_drawn_with_its_colours():
    app = TerminalApp()
    async with app.run_test(size=(80, 24)) as pilot:
        view = app.query_one(TerminalView)
        view.feed(b"hello \x1b[31mred\x1b[0m world\r\nsecond line")
        await pilot.pause()
        assert row(view, 0) == "hello red world"
        assert row(view, 1) == "second line"
        red = [seg for seg in view.render_line(0) if seg.text == "red"]
        assert red and red[0].style.color.number == 1


async def test_the_escape_key_asks_to_leave_and_sends_nothing():
    seen = []
    app = TerminalApp()
    async with app.run_test(size=(80, 24), message_hook=seen.append) as pilot:
        app.query_one(TerminalView).focus()
        await pilot.press("ctrl+right_square_bracket")
        await pilot.pause()
        assert any(isinstance(m, TerminalView.LeaveRequested) for m in seen)
        assert inputs(seen) == b""


async def test_the_view_reports_its_size_in_cells_and_resizes_the_emulator():
    seen = []
    app = TerminalApp()
    async with app.run_test(size=(100, 30), message_hook=seen.append) as pilot:
        await pilot.pause()
        view = app.query_one(TerminalView)
        sizes = [(m.cols, m.rows) for m in seen if isinstance(m, TerminalView.Resized)]
        assert sizes[-1] == (100, 30)
        assert (view.terminal.cols, view.terminal.rows) == (100, 30)
        await pilot.resize_terminal(90, 20)
        await pilot.pause()
        sizes = [(m.cols, m.rows) for m in seen if isinstance(m, TerminalView.Resized)]
        assert sizes[-1] == (90, 20)


async def test_a_paste_is_bracketed_when_the_remote_asked_for_it():
    seen = []
    app = TerminalApp()
    async with app.run_test(size=(80, 24), message_hook=seen.append) as pilot:
        view = app.query_one(TerminalView)
        view.focus()
        view.feed(b"\x1b[?2004h")
        view.post_message(events.Paste("echo 1\necho 2"))
        await pilot.pause()
        assert inputs(seen) == b"\x1b[200~echo 1\recho 2\x1b[201~"


async def test_a_cursor_position_query_is_answered_through_input():
    seen = []
    app = TerminalApp()
    async with app.run_test(size=(80, 24), message_hook=seen.append) as pilot:
        view = app.query_one(TerminalView)
        view.feed(b"abc\x1b[6n")
        await pilot.pause()
        assert inputs(seen) == b"\x1b[1;4R"


async def test_shift_pageup_shows_history_and_escape_returns_to_the_live_screen():
    seen = []
    app = TerminalApp()
    async with app.run_test(size=(80, 24), message_hook=seen.append) as pilot:
        view = app.query_one(TerminalView)
        view.focus()
        view.feed(b"".join(b"line %03d\r\n" % n for n in range(200)))
        await pilot.pause()
        assert row(view, 22) == "line 199"
        await pilot.press("shift+pageup")
        assert view.scrollback.offset == 23
        assert row(view, 22) == "line 176"
        view.feed(b"line 200\r\n")  # new output does not move what is being read
        assert row(view, 22) == "line 176"
        await pilot.press("escape")
        assert view.scrollback.offset == 0
        assert row(view, 22) == "line 200"
        assert inputs(seen) == b""  # none of it went to the remote


async def test_search_in_the_scrollback_jumps_to_and_highlights_the_match():
    app = TerminalApp()
    async with app.run_test(size=(80, 24)) as pilot:
        view = app.query_one(TerminalView)
        view.focus()
        view.feed(b"".join(b"line %03d%s\r\n" % (n, b" needle" if n == 42 else b"") for n in range(300)))
        await pilot.press("shift+pageup", "slash", "n", "e", "e", "d", "l", "e", "enter")
        await pilot.pause()
        rows = [row(view, y) for y in range(24)]
        hit = rows.index("line 042 needle")
        marked = [seg for seg in view.render_line(hit) if seg.text == "needle"]
        assert marked and marked[0].style.bgcolor is not None


async def test_dragging_the_mouse_copies_the_selection_to_the_clipboard():
    app = TerminalApp()
    async with app.run_test(size=(80, 24)) as pilot:
        view = app.query_one(TerminalView)
        view.feed(b"first line here\r\nsecond line")
        await pilot.pause()
        await pilot.mouse_down(view, offset=(6, 0))
        await pilot.hover(view, offset=(5, 1))
        await pilot.mouse_up(view, offset=(5, 1))
        await pilot.pause()
        assert app.clipboard == "line here\nsecond"


async def test_clicks_are_reported_to_the_remote_when_it_asked_for_the_mouse():
    seen = []
    app = TerminalApp()
    async with app.run_test(size=(80, 24), message_hook=seen.append) as pilot:
        view = app.query_one(TerminalView)
        view.feed(b"\x1b[?1000h\x1b[?1006h")
        await pilot.click(view, offset=(3, 2))
        await pilot.pause()
        assert inputs(seen) == b"\x1b[<0;4;3M\x1b[<0;4;3m"


async def test_keys_bound_by_the_app_still_go_to_the_remote_while_the_terminal_has_focus():
    ran = []

    class BoundApp(TerminalApp):
        BINDINGS = [("q", "quit_now", "Quit"), ("t", "open_shell", "Shell")]

        def action_quit_now(self) -> None:
            ran.append("quit")

        def action_open_shell(self) -> None:
            ran.append("shell")

    seen = []
    app = BoundApp()
    async with app.run_test(size=(80, 24), message_hook=seen.append) as pilot:
        app.query_one(TerminalView).focus()
        await pilot.press("q", "t")
        await pilot.pause()
        assert inputs(seen) == b"qt"
        assert ran == []


async def test_the_cursor_is_drawn_where_the_remote_put_it_in_the_shape_it_asked_for():
    app = TerminalApp()
    async with app.run_test(size=(80, 24)) as pilot:
        view = app.query_one(TerminalView)
        view.focus()
        view.feed(b"ab\x1b[1;2H")
        await pilot.pause()
        cell = [seg for seg in view.render_line(0) if seg.text == "b"]
        assert cell and cell[0].style.reverse
        view.feed(b"\x1b[4 q")
        cell = [seg for seg in view.render_line(0) if seg.text == "b"]
        assert cell and cell[0].style.underline and not cell[0].style.reverse
        view.feed(b"\x1b[?25l")
        cell = [seg for seg in view.render_line(0) if "b" in seg.text]
        assert not (cell[0].style and (cell[0].style.underline or cell[0].style.reverse))
