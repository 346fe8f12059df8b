"""TelemetryView and FleetGrid, rendered in a real (headless) Textual app."""

from __future__ import annotations

from textual.app import App, ComposeResult

from spark_tui.core.models import GpuSample, TelemetrySample
from spark_tui.theming import WIDGETS_CSS, register_themes
from spark_tui.widgets.fleet_grid import FleetGrid
from spark_tui.widgets.sparkline_history import BARS, History, sparkline
from spark_tui.widgets.telemetry_view import UNKNOWN, TelemetryView

GIB = 1024**3
GB10 = GpuSample(index=0, name="NVIDIA GB10", utilization=92.0, temperature=61.0, power=38.0)


def spark_sample(device: str = "spark-1a2b", t: float = 0.0, **changes) -> TelemetrySample:
    values = dict(
        cpu=37.0,
        mem_total=128 * GIB,
        mem_available=86 * GIB,
        disk_total=3725 * GIB,
        disk_used=512 * GIB,
        gpus=(GB10,),
    )
    values.update(changes)
    return TelemetrySample(device=device, time=t, **values)


class ViewApp(App):
    CSS_PATH = [WIDGETS_CSS]

    def __init__(self, widget) -> None:
        super().__init__()
        self.widget = widget

    def compose(self) -> ComposeResult:
        yield self.widget

    def on_mount(self) -> None:
        register_themes(self)
        self.theme = "spark-dark"


def lines(view: TelemetryView) -> list[str]:
    return str(view.render()).splitlines()


def line_of(view: TelemetryView, label: str) -> str:
    found = [line for line in lines(view) if line.startswith(label)]
    assert found, f"no row {label!r} in {lines(view)}"
    return found[0]


async def test_a_view_shows_cpu_unified_memory_gpu_and_home_disk_of_a_spark():
    view = TelemetryView("spark-1a2b")
    async with ViewApp(view).run_test(size=(100, 20)) as pilot:
        view.update_sample(spark_sample())
        await pilot.pause()
        assert [line.split("  ")[0] for line in lines(view)] == ["CPU", "Unified memory", "GPU 0 GB10", "Home disk"]
        assert "37 %" in line_of(view, "CPU")
        assert "42.0 / 128.0 GiB" in line_of(view, "Unified memory")
        gpu = line_of(view, "GPU 0")
        assert "92 %" in gpu and "61 °C" in gpu and "38 W" in gpu
        assert "0.5 / 3.6 TiB" in line_of(view, "Home disk")
        assert view.border_title == "spark-1a2b"
        assert view.region.height == 4 + 2  # four rows inside a border


async def test_unknown_values_show_as_a_dash_and_never_crash():
    view = TelemetryView("spark-1a2b")
    unknown = TelemetrySample(device="spark-1a2b", time=0.0, gpus=(GpuSample(index=0, name="NVIDIA GB10"),))
    async with ViewApp(view).run_test(size=(100, 20)) as pilot:
        view.update_sample(unknown)
        view.update_sample(spark_sample(cpu=None, mem_available=None, gpus=(GpuSample(0, "NVIDIA GB10", 50.0, None, None),)))
        await pilot.pause()
        assert UNKNOWN in line_of(view, "CPU")
        assert f"{UNKNOWN} / 128.0 GiB" in line_of(view, "Unified memory")
        assert f"50 %  {UNKNOWN}  {UNKNOWN}" in line_of(view, "GPU 0")
        assert view.history("cpu") == (None, None)


async def test_a_view_before_the_first_sample_shows_dashes_not_zeros():
    view = TelemetryView("spark-1a2b")
    async with ViewApp(view).run_test(size=(100, 20)):
        assert all(UNKNOWN in line for line in lines(view))
        assert not any("0 %" in line for line in lines(view))


async def test_a_device_without_gpus_gets_no_gpu_row_and_plain_memory():
    view = TelemetryView("laptop")
    async with ViewApp(view).run_test(size=(100, 20)) as pilot:
        view.update_sample(spark_sample("laptop", gpus=()))
        await pilot.pause()
        assert [row.key for row in view.rows()] == ["cpu", "memory", "disk"]
        assert not any(line.startswith("GPU") for line in lines(view))
        assert lines(view)[1].startswith("Memory ")


async def test_a_gpu_that_stops_reporting_loses_its_row_and_its_history():
    view = TelemetryView("spark-1a2b")
    async with ViewApp(view).run_test(size=(100, 20)) as pilot:
        view.update_sample(spark_sample())
        await pilot.pause()
        assert view.region.height == 6
        view.update_sample(spark_sample(gpus=()))
        await pilot.pause()
        assert view.history("gpu0.utilization") == ()
        assert view.region.height == 5


async def test_one_row_per_gpu_and_a_memory_row_for_a_discrete_gpu_that_reports_memory():
    view = TelemetryView("workstation")
    gpus = (
        GpuSample(0, "NVIDIA RTX 6000", 10.0, 40.0, 70.0, memory_used=12288.0, memory_total=49152.0),
        GpuSample(1, "NVIDIA GB10", 20.0, 45.0, 30.0),
    )
    async with ViewApp(view).run_test(size=(110, 20)) as pilot:
        view.update_sample(spark_sample("workstation", gpus=gpus))
        await pilot.pause()
        assert [row.key for row in view.rows()] == ["cpu", "memory", "gpu0", "gpu0.memory", "gpu1", "disk"]
        assert "12.0 / 48.0 GiB" in view.rows()[3].value


async def test_history_is_bounded_and_keeps_the_newest_readings():
    view = TelemetryView("spark-1a2b", history=5)
    async with ViewApp(view).run_test(size=(100, 20)):
        for i in range(12):
            view.update_sample(spark_sample(t=float(i), cpu=float(i)))
        assert view.history("cpu") == (7.0, 8.0, 9.0, 10.0, 11.0)
        assert len(view.history("gpu0.temperature")) == 5


async def test_the_sparkline_fills_the_row_and_ends_with_the_newest_reading():
    view = TelemetryView("spark-1a2b")
    async with ViewApp(view).run_test(size=(80, 20)) as pilot:
        for cpu in (0.0, 50.0, 100.0):
            view.update_sample(spark_sample(cpu=cpu))
        await pilot.pause()
        cpu_line = line_of(view, "CPU")
        assert len(cpu_line) == view.size.width
        assert cpu_line.endswith(BARS[0] + BARS[4] + BARS[-1])


async def test_a_nearly_full_memory_is_flagged_and_drawn_bold():
    view = TelemetryView("spark-1a2b")
    async with ViewApp(view).run_test(size=(100, 20)) as pilot:
        view.update_sample(spark_sample(mem_available=int(128 * GIB * 0.05)))
        await pilot.pause()
        assert view.rows()[1].level == "warning"
        assert view.rows()[0].level == ""
        rendered = view.render()
        start = str(rendered).index("121.6")
        styles = [span.style for span in rendered.spans if span.start <= start < span.end]
        assert any(getattr(style, "bold", False) for style in styles)


async def test_a_sample_for_another_device_is_refused():
    view = TelemetryView("spark-1a2b")
    async with ViewApp(view).run_test(size=(100, 20)):
        try:
            view.update_sample(spark_sample("spark-9f9f"))
        except ValueError as error:
            assert "spark-9f9f" in str(error)
        else:
            raise AssertionError("a foreign sample was accepted")
        assert view.latest is None


def test_a_history_drops_the_oldest_reading_when_full():
    history = History(3)
    for value in (1.0, None, 3.0, 4.0):
        history.append(value)
    assert list(history) == [None, 3.0, 4.0]
    assert history.latest == 4.0 and len(history) == 3


def test_a_sparkline_uses_a_fixed_scale_and_leaves_gaps_for_unknown_readings():
    assert sparkline([50.1, 50.3], 2, maximum=100.0) == BARS[4] * 2  # no false drama
    assert sparkline([0.0, None, 100.0], 5, maximum=100.0) == "  " + BARS[0] + " " + BARS[-1]
    assert sparkline(range(10), 3, maximum=9) == BARS[5] + BARS[6] + BARS[-1]
    assert sparkline([1.0], 0) == ""


async def test_the_fleet_grid_adds_a_card_per_device_in_name_order_and_removes_them():
    grid = FleetGrid()
    async with ViewApp(grid).run_test(size=(120, 40)) as pilot:
        assert grid.query_one("#fleet-empty").display
        grid.update_sample(spark_sample("spark-9f9f"))
        grid.update_sample(spark_sample("spark-1a2b"))
        grid.update_sample(spark_sample("spark-1a2b", t=1.0, cpu=80.0))
        await pilot.pause()
        cards = list(grid.query(TelemetryView))
        assert [card.device for card in cards] == ["spark-1a2b", "spark-9f9f"]
        assert grid.card("spark-1a2b").history("cpu") == (37.0, 80.0)
        assert not grid.query_one("#fleet-empty").display
        assert cards[0].region.y == cards[1].region.y  # side by side at this width

        assert grid.remove_device("spark-1a2b") is True
        assert grid.remove_device("spark-1a2b") is False
        await pilot.pause()
        assert [card.device for card in grid.query(TelemetryView)] == ["spark-9f9f"]
        grid.remove_device("spark-9f9f")
        await pilot.pause()
        assert grid.devices == ()
        assert grid.query_one("#fleet-empty").display


async def test_fleet_cards_are_compact_and_stack_when_the_terminal_is_narrow():
    grid = FleetGrid()
    async with ViewApp(grid).run_test(size=(50, 40)) as pilot:
        grid.update_sample(spark_sample("spark-1a2b"))
        grid.update_sample(spark_sample("spark-9f9f"))
        await pilot.pause()
        first, second = grid.query(TelemetryView)
        assert first.compact and first.has_class("-compact")
        assert second.region.y > first.region.y
        assert [line[:8].strip() for line in lines(first)] == ["CPU", "Unified", "GPU 0", "Disk ~"]


def contrast(a, b) -> float:
    """WCAG contrast ratio of two Rich colours."""

    def luminance(colour) -> float:
        channels = []
        for value in colour.get_truecolor():
            c = value / 255
            channels.append(c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4)
        return 0.2126 * channels[0] + 0.7152 * channels[1] + 0.0722 * channels[2]

    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


async def test_labels_values_and_bars_are_legible_on_the_card_in_every_theme():
    from spark_tui.theming import theme_names

    view = TelemetryView("spark-1a2b")
    async with ViewApp(view).run_test(size=(100, 20)) as pilot:
        view.update_sample(spark_sample(mem_available=int(128 * GIB * 0.05)))
        for theme in theme_names(include_mono=True):
            pilot.app.theme = theme
            await pilot.pause()
            rendered = view.render()
            plain = str(rendered)

            def style_at(fragment: str):
                start = plain.index(fragment)
                spans = [span.style for span in rendered.spans if span.start <= start < span.end]
                return spans[-1]

            for fragment, minimum in (("Home disk", 3.0), ("37 %", 4.5), ("121.6", 4.5), (BARS[-1], 3.0)):
                style = style_at(fragment)
                assert style.color is not None and style.bgcolor is not None, (theme, fragment)
                assert contrast(style.color, style.bgcolor) >= minimum, (theme, fragment)


async def test_samples_that_reach_the_fleet_grid_before_it_is_shown_are_not_lost():
    grid = FleetGrid()
    grid.update_sample(spark_sample("spark-9f9f"))
    grid.update_sample(spark_sample("spark-1a2b"))
    grid.update_sample(spark_sample("gx10-77aa"))
    assert grid.remove_device("gx10-77aa") is True
    async with ViewApp(grid).run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert [card.device for card in grid.query(TelemetryView)] == ["spark-1a2b", "spark-9f9f"]
        assert not grid.query_one("#fleet-empty").display
