"""What a modern terminal user expects from the Shell pane: mode reports, XTVERSION, focus events,
synchronized output, and bells / desktop notifications shown as safe toasts naming the tab."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.widgets import Input

from spark_tui.widgets.shell_tabs import ShellTabs
from spark_tui.widgets.terminal.emulator import Terminal
from spark_tui.widgets.terminal.view import TerminalView


def replies_to(data: bytes) -> list[bytes]:
    replies: list[bytes] = []
    Terminal(80, 24, on_reply=replies.append).feed(data)
    return replies


def test_decrqm_reports_set_reset_and_unknown_modes():
    assert replies_to(b"\x1b[?2026$p\x1b[?2026h\x1b[?2026$p\x1b[?1004h\x1b[?1004$p\x1b[?12345$p") == [
        b"\x1b[?2026;2$y", b"\x1b[?2026;1$y", b"\x1b[?1004;1$y", b"\x1b[?12345;0$y",
    ]
    assert replies_to(b"\x1b[?1049h\x1b[?1049$p\x1b[?1002h\x1b[?1000$p\x1b[?1002$p\x1b[4h\x1b[4$p\x1b[99$p") == [
        b"\x1b[?1049;1$y", b"\x1b[?1000;2$y", b"\x1b[?1002;1$y", b"\x1b[4;1$y", b"\x1b[99;0$y",
    ]


def test_xtversion_names_spark_tui_in_a_dcs():
    (reply,) = replies_to(b"\x1b[>q")
    assert reply.startswith(b"\x1bP>|spark-tui(") and reply.endswith(b")\x1b\\")


def test_osc_9_and_777_become_plain_bounded_notifications():
    seen: list[tuple[str, str]] = []
    term = Terminal(80, 24, on_notify=lambda title, body: seen.append((title, body)))
    term.feed(b"\x1b]9;build finished\x07\x1b]777;notify;CI \x01run;all " + b"green " * 100 + b"\x1b\\")
    term.feed(b"\x1b]9;4;1;50\x07")  # ConEmu progress: not a message
    assert seen[0] == ("", "build finished")
    assert seen[1][0] == "CI run" and seen[1][1].startswith("all green") and len(seen[1][1]) <= 200
    assert len(seen) == 2


class TerminalApp(App):
    def compose(self) -> ComposeResult:
        yield Input(id="other")
        yield TerminalView(id="term")


def row(view: TerminalView, y: int) -> str:
    return view.render_line(y).text.rstrip()


async def test_synchronized_output_shows_the_previous_frame_until_the_update_ends():
    app = TerminalApp()
    async with app.run_test(size=(80, 24)) as pilot:
        view = app.query_one(TerminalView)
        view.feed(b"old frame")
        await pilot.pause()
        view.feed(b"\x1b[?2026h\x1b[H\x1b[2Jhalf of the new")
        await pilot.pause()
        assert row(view, 0) == "old frame"
        view.feed(b" frame\x1b[?2026l")
        await pilot.pause()
        assert row(view, 0) == "half of the new frame"


async def test_a_synchronized_update_that_never_ends_stops_holding_the_screen(monkeypatch):
    from spark_tui.widgets.terminal import view as view_module

    monkeypatch.setattr(view_module, "SYNC_TIMEOUT", 0.05)
    app = TerminalApp()
    async with app.run_test(size=(80, 24)) as pilot:
        view = app.query_one(TerminalView)
        view.feed(b"before\x1b[?2026h\rafter!")
        await pilot.pause(0.1)
        assert row(view, 0) == "after!"


async def test_focus_changes_are_reported_only_when_the_remote_asked():
    seen = []
    app = TerminalApp()
    async with app.run_test(size=(80, 24), message_hook=seen.append) as pilot:
        view = app.query_one(TerminalView)
        view.focus()
        await pilot.pause()
        app.query_one("#other").focus()
        await pilot.pause()
        view.feed(b"\x1b[?1004h")
        view.focus()
        await pilot.pause()
        app.query_one("#other").focus()
        await pilot.pause()
        unique = {id(m): m for m in seen if isinstance(m, TerminalView.Input)}  # once per hop otherwise
        assert b"".join(m.data for m in unique.values()) == b"\x1b[I\x1b[O"


class TabsApp(App):
    def compose(self) -> ComposeResult:
        yield Input(id="other")
        yield ShellTabs(id="shells")


async def test_a_notification_from_a_shell_is_a_toast_naming_the_device_and_never_markup():
    app = TabsApp()
    async with app.run_test(size=(100, 30)) as pilot:
        tabs = app.query_one(ShellTabs)
        tab = tabs.open("gpu-box")
        await pilot.pause()
        tabs.view(tab).feed(b"\x1b]777;notify;[b]Job[/b];[@click=app.quit]done \xe2\x80\xaeevil\x1b\\")
        await pilot.pause()
        notes = list(app._notifications)
        assert len(notes) == 1
        note = notes[0]
        assert note.title == "gpu-box: [b]Job[/b]"
        assert note.message == "[@click=app.quit]done \\u202eevil"
        assert note.markup is False
        assert app.is_running


async def test_a_bell_in_a_shell_you_are_not_typing_in_is_a_toast_and_a_flood_is_one():
    app = TabsApp()
    async with app.run_test(size=(100, 30)) as pilot:
        tabs = app.query_one(ShellTabs)
        tab = tabs.open("gpu-box")
        await pilot.pause()
        view = tabs.view(tab)
        view.feed(b"\x07")  # the user is typing in it: no toast
        await pilot.pause()
        assert not list(app._notifications)
        app.query_one("#other").focus()
        view._last_notice[True] = -100.0  # the bell above counted: start a new interval
        view.feed(b"\x07" * 1000)
        await pilot.pause()
        notes = list(app._notifications)
        assert [n.message for n in notes] == ["Bell in the shell on gpu-box"]


async def test_a_bell_does_not_swallow_the_notification_that_follows_it():
    app = TabsApp()
    async with app.run_test(size=(100, 30)) as pilot:
        tabs = app.query_one(ShellTabs)
        tab = tabs.open("gpu-box")
        await pilot.pause()
        app.query_one("#other").focus()
        tabs.view(tab).feed(b"make; echo done\r\n\x07\x1b]9;build finished\x07")
        await pilot.pause()
        assert [n.message for n in app._notifications] == ["Bell in the shell on gpu-box", "build finished"]


async def test_toasts_name_the_tab_when_two_tabs_show_the_same_device():
    app = TabsApp()
    async with app.run_test(size=(100, 30)) as pilot:
        tabs = app.query_one(ShellTabs)
        tabs.open("gpu-box")
        second = tabs.open("gpu-box")
        await pilot.pause()
        app.query_one("#other").focus()
        tabs.view(second).feed(b"\x1b]9;done\x07")
        await pilot.pause()
        assert [n.title for n in app._notifications] == ["gpu-box 2"]
        labels = [str(tab.label) for tab in app.query("ContentTab")]
        assert labels == ["gpu-box", "gpu-box 2"]


async def test_notifications_in_quick_succession_are_not_lost_but_summed_into_one(monkeypatch):
    from spark_tui.widgets.terminal import view as view_module

    # Long enough that a loaded machine's pauses cannot let the held toast out early (0.3 s did
    # once, in CI); each step waits for what it expects instead of for a fixed time.
    monkeypatch.setattr(view_module, "NOTIFY_INTERVAL", 1.5)
    app = TabsApp()

    def shown() -> list[str]:
        return [n.message for n in app._notifications]

    async def until(ready, within: float = 10.0) -> None:
        for _ in range(int(within / 0.05)):
            if ready():
                return
            await pilot.pause(0.05)

    async with app.run_test(size=(100, 30)) as pilot:
        tabs = app.query_one(ShellTabs)
        tab = tabs.open("gpu-box")
        await pilot.pause()
        view = tabs.view(tab)
        view.feed(b"\x1b]9;job 1 done\x07")
        view.feed(b"".join(b"\x1b]9;job %d done\x07" % n for n in range(2, 200)))  # a flood: one more toast
        await until(lambda: shown())
        assert shown() == ["job 1 done"]
        await until(lambda: len(shown()) > 1)
        assert shown() == ["job 1 done", "job 199 done (+197 more)"]
        await pilot.pause(1.6)  # the interval since the summed toast has passed
        view.feed(b"\x1b]9;job 200 done\x07")
        await until(lambda: len(shown()) > 2)
        assert shown()[-1] == "job 200 done"


def test_osc_8_links_keep_only_web_and_mail_addresses_and_outlive_sgr_reset():
    from spark_tui.widgets.terminal.cells import link_of

    term = Terminal(60, 3)
    term.feed(b"a \x1b]8;;https://example.com/x\x1b\\\x1b[1mlink\x1b[0m!\x1b]8;;\x1b\\ b ")
    term.feed(b"\x1b]8;;file:///etc/passwd\x07file\x1b]8;;\x07 \x1b]8;;javascript:alert(1)\x07js\x1b]8;;\x07")
    ids = [link_of(attr) for attr in term.lines[0].attrs]
    row = term.display[0]
    assert {term.links.get(ids[i]) for i in range(row.index("link"), row.index("!") + 1)} == {"https://example.com/x"}
    assert not any(ids[row.index("file") :]) and not ids[0]


class LinkApp(App):
    def compose(self) -> ComposeResult:
        yield TerminalView(id="term")

    def on_terminal_view_link_clicked(self, message) -> None:
        from spark_tui.app_shells import ShellRouting

        ShellRouting.on_terminal_view_link_clicked(self, message)


async def test_clicking_a_link_asks_before_opening_it_in_the_browser(monkeypatch):
    import webbrowser

    from spark_tui.screens.confirm import ConfirmScreen

    opened: list[str] = []
    monkeypatch.setattr(webbrowser, "open", opened.append)
    app = LinkApp()
    async with app.run_test(size=(60, 10)) as pilot:
        view = app.query_one(TerminalView)
        view.feed(b"go \x1b]8;;https://example.com/docs\x07here\x1b]8;;\x07 or \x1b]8;;https://x.test/\xe2\x80\xae\x07evil\x1b]8;;\x07")
        await pilot.pause()
        await pilot.click(TerminalView, offset=(1, 0))  # plain text: nothing
        await pilot.click(TerminalView, offset=(13, 0))  # the address had a bidi override: no link
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmScreen)
        await pilot.click(TerminalView, offset=(4, 0))
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen) and "https://example.com/docs" in app.screen.question
        assert opened == []  # not without asking
        await pilot.press("n")
        await pilot.pause()
        assert opened == [] and not isinstance(app.screen, ConfirmScreen)
        await pilot.click(TerminalView, offset=(5, 0))
        await pilot.pause()
        await pilot.press("y")
        await pilot.pause()
        assert opened == ["https://example.com/docs"]
