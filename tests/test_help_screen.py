"""The keys screen lists the bindings as they stand, keymap overrides included."""

from __future__ import annotations

import pytest
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widget import Widget
from textual.widgets import DataTable

from spark_tui.screens.help import BindingEntry, HelpScreen, collect_bindings
from spark_tui.theming import WIDGETS_CSS, register_themes


class DevicesPane(Widget, can_focus=True):
    BINDINGS = [
        Binding("c", "connect", "Connect", id="devices.connect", tooltip="Connect to the device"),
        Binding("a", "add", "Add device", id="devices.add", tooltip="Save a new device"),
    ]

    def on_mount(self) -> None:
        self.border_title = "Devices"


class TunnelsPane(Widget, can_focus=True):
    BINDINGS = [Binding("s", "stop", "Stop tunnel", id="tunnels.stop", tooltip="Stop the selected tunnel")]

    def on_mount(self) -> None:
        self.border_title = "Tunnels"


class KeysApp(App):
    CSS_PATH = [WIDGETS_CSS]
    BINDINGS = [
        Binding("question_mark", "help", "Keys", id="app.help", tooltip="Show every key"),
        Binding("ctrl+t", "toggle_dark", "Theme", id="app.theme", tooltip="Next theme"),
        Binding("ctrl+q", "quit", "Quit", id="app.quit", tooltip="Quit"),
    ]

    def compose(self) -> ComposeResult:
        with Horizontal():
            yield DevicesPane(id="devices")
            yield TunnelsPane(id="tunnels")

    def on_mount(self) -> None:
        register_themes(self)
        self.theme = "spark-dark"
        self.query_one("#devices").focus()

    def action_help(self) -> None:
        self.push_screen(HelpScreen())


def entry(entries: list[BindingEntry] | tuple[BindingEntry, ...], binding_id: str) -> BindingEntry:
    found = [e for e in entries if e.binding_id == binding_id]
    assert len(found) == 1, f"{binding_id}: {found}"
    return found[0]


def table_rows(screen: HelpScreen) -> list[list[str]]:
    table = screen.query_one("#help-table", DataTable)
    return [[str(cell) for cell in table.get_row_at(i)] for i in range(table.row_count)]


async def test_the_keys_screen_lists_a_key_rebound_with_set_keymap_under_its_binding_id():
    app = KeysApp()
    async with app.run_test(size=(120, 40)) as pilot:
        app.set_keymap({"devices.connect": "ctrl+o"})
        await pilot.press("question_mark")
        await pilot.pause()
        help_screen = app.screen
        assert isinstance(help_screen, HelpScreen)
        connect = entry(help_screen.entries, "devices.connect")
        assert connect.keys == ("^o",)
        assert connect.description == "Connect" and connect.active and connect.where == "Devices"
        rows = table_rows(help_screen)
        assert ["^o", "Connect", "devices.connect", "Devices"] in rows
        assert not any(row[0] == "c" for row in rows)


async def test_the_keys_screen_lists_focused_screen_and_app_keys_then_other_panes():
    app = KeysApp()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("question_mark")
        await pilot.pause()
        entries = app.screen.entries
        assert entry(entries, "devices.add").keys == ("a",)
        assert entry(entries, "app.quit").where == "everywhere"
        assert entry(entries, "app.help").keys == ("?",)
        stop = entry(entries, "tunnels.stop")
        assert not stop.active and stop.where == "Tunnels"
        order = [e.binding_id for e in entries]
        assert order.index("devices.connect") < order.index("app.quit") < order.index("tunnels.stop")
        assert any(e.description == "Focus Next" for e in entries)  # the screen's own keys too


async def test_keys_of_other_panes_show_their_rebound_key():
    app = KeysApp()
    async with app.run_test(size=(120, 40)) as pilot:
        app.set_keymap({"tunnels.stop": "x,delete"})
        await pilot.pause()
        stop = entry(collect_bindings(app.screen), "tunnels.stop")
        assert stop.keys == ("x", "del")


@pytest.mark.parametrize("key", ["escape", "q", "question_mark"])
async def test_the_keys_screen_closes_on_escape_q_and_question_mark(key):
    app = KeysApp()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        await pilot.press(key)
        await pilot.pause()
        assert not isinstance(app.screen, HelpScreen)
        assert app.focused is app.query_one("#devices")


async def test_a_long_list_scrolls_inside_the_dialog():
    many = [BindingEntry((f"f{i}",), f"Action {i}", f"pane.action{i}", "Devices") for i in range(80)]
    app = KeysApp()
    async with app.run_test(size=(100, 30)) as pilot:
        app.push_screen(HelpScreen(many))
        await pilot.pause()
        table = app.screen.query_one("#help-table", DataTable)
        assert table.row_count == 80
        assert table.virtual_size.height > table.size.height
        await pilot.press("pagedown")
        await pilot.wait_for_scheduled_animations()
        assert table.scroll_y > 0
        await pilot.press("ctrl+end")
        await pilot.wait_for_scheduled_animations()
        assert table.cursor_row == 79
        assert table.scroll_y == table.max_scroll_y


async def test_a_disabled_action_is_listed_but_marked_disabled():
    class GuardedApp(KeysApp):
        def check_action(self, action: str, parameters) -> bool | None:
            return None if action == "quit" else True

    app = GuardedApp()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("question_mark")
        await pilot.pause()
        assert entry(app.screen.entries, "app.quit").enabled is False
        assert entry(app.screen.entries, "app.theme").enabled is True


async def test_a_priority_question_mark_on_the_app_toggles_the_keys_screen_instead_of_stacking():
    from spark_tui.screens.help import toggle_keys

    class PriorityApp(KeysApp):
        BINDINGS = [Binding("question_mark", "help", "Keys", id="app.help", priority=True)]

        def action_help(self) -> None:
            toggle_keys(self)

    app = PriorityApp()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("question_mark")
        await pilot.pause()
        assert not any(isinstance(screen, HelpScreen) for screen in app.screen_stack)
