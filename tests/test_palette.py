"""The command-palette provider lists the app's commands and runs the chosen one."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.command import CommandList, CommandPalette, DiscoveryHit, Hit
from textual.widgets import Static

from spark_tui.palette import PaletteActions, PaletteCommand, SparkCommands, build_commands
from spark_tui.theming import register_themes, theme_names


class PaletteApp(App):
    COMMANDS = App.COMMANDS | {SparkCommands}

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple] = []
        self.devices = ["spark-1a2b", "spark-9f9f", "gx10-77aa"]
        self.connected = {"spark-9f9f"}

    def compose(self) -> ComposeResult:
        yield Static("dashboard")

    def on_mount(self) -> None:
        register_themes(self)

    def palette_commands(self) -> list[PaletteCommand]:
        record = self.calls.append
        return build_commands(
            devices=self.devices,
            connected=self.connected,
            tunnels=[("spark-9f9f", "dashboard", True), ("spark-1a2b", "jupyter", False)],
            themes=theme_names(),
            current_theme=self.theme,
            actions=PaletteActions(
                connect=lambda name: record(("connect", name)),
                open_shell=lambda name: record(("shell", name)),
                start_tunnel=lambda device, tunnel: record(("start", device, tunnel)),
                stop_tunnel=lambda device, tunnel: record(("stop", device, tunnel)),
                add_device=lambda: record(("add",)),
                switch_theme=lambda theme: record(("theme", theme)),
            ),
        )


async def hits_for(app: App, query: str) -> list:
    provider = SparkCommands(app.screen)
    provider._post_init()  # what the palette does before its first search
    return [hit async for hit in provider._search(query)]


async def test_a_fuzzy_query_finds_connect_to_the_device_first_and_running_it_calls_back():
    app = PaletteApp()
    async with app.run_test() as pilot:
        hits = sorted(await hits_for(app, "conn 1a2b"), reverse=True)
        assert [hit.text for hit in hits] == ["Connect to spark-1a2b"]
        assert isinstance(hits[0], Hit) and hits[0].help
        hits[0].command()
        await pilot.pause()
        assert app.calls == [("connect", "spark-1a2b")]


async def test_choosing_a_command_in_the_open_palette_runs_it():
    app = PaletteApp()
    async with app.run_test(size=(100, 30)) as pilot:
        app.action_command_palette()
        await pilot.pause()
        assert isinstance(app.screen, CommandPalette)
        await pilot.press(*"conn 1a2b")
        results = app.screen.query_one(CommandList)
        for _ in range(100):  # the palette searches in a debounced worker
            await pilot.pause(0.05)
            if results.option_count and "Connect to spark-1a2b" in str(results.get_option_at_index(0).prompt):
                break
        assert results.option_count == 1
        await pilot.press("enter")
        await pilot.pause()
        assert app.calls == [("connect", "spark-1a2b")]
        assert not isinstance(app.screen, CommandPalette)


async def test_discovery_lists_every_command_in_the_apps_order():
    app = PaletteApp()
    async with app.run_test():
        app.theme = "spark-dark"
        hits = await hits_for(app, "")
        assert all(isinstance(hit, DiscoveryHit) for hit in hits)
        assert [hit.text for hit in hits] == [
            "Connect to spark-1a2b",
            "Connect to gx10-77aa",
            "Open shell on spark-1a2b",
            "Open shell on spark-9f9f",
            "Open shell on gx10-77aa",
            "Stop tunnel dashboard on spark-9f9f",
            "Start tunnel jupyter on spark-1a2b",
            "Add device",
            "Switch theme: spark-light",
            "Switch theme: spark-contrast",
        ]


async def test_the_commands_follow_the_apps_state_between_keystrokes():
    app = PaletteApp()
    async with app.run_test():
        assert [hit.text for hit in await hits_for(app, "connect gx10")] == ["Connect to gx10-77aa"]
        app.connected.add("gx10-77aa")
        assert await hits_for(app, "connect gx10") == []


async def test_each_command_calls_its_action_with_the_device_and_tunnel():
    app = PaletteApp()
    async with app.run_test():
        by_title = {hit.text: hit for hit in await hits_for(app, "")}
        for title in (
            "Open shell on gx10-77aa",
            "Stop tunnel dashboard on spark-9f9f",
            "Start tunnel jupyter on spark-1a2b",
            "Add device",
            "Switch theme: spark-contrast",
        ):
            by_title[title].command()
        assert app.calls == [
            ("shell", "gx10-77aa"),
            ("stop", "spark-9f9f", "dashboard"),
            ("start", "spark-1a2b", "jupyter"),
            ("add",),
            ("theme", "spark-contrast"),
        ]


async def test_an_app_without_palette_commands_gets_no_hits_and_no_crash():
    class PlainApp(App):
        pass

    app = PlainApp()
    async with app.run_test():
        assert await hits_for(app, "") == []
        assert await hits_for(app, "connect") == []
