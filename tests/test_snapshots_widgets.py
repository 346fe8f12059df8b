"""Screen snapshots of the telemetry card, the fleet grid and the keys screen in each theme.

Regenerate after an intended change of look with
``.venv/bin/pytest tests/test_snapshots_widgets.py --snapshot-update`` and review the SVGs.
"""

from __future__ import annotations

import pytest
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Vertical

from spark_tui.core.models import GpuSample, TelemetrySample
from spark_tui.screens.help import HelpScreen
from spark_tui.theming import WIDGETS_CSS, register_themes, theme_names
from spark_tui.widgets.fleet_grid import FleetGrid
from spark_tui.widgets.telemetry_view import TelemetryView

GIB = 1024**3


def wave(i: int, low: float, high: float) -> float:
    """A deterministic up-and-down series, so snapshots never depend on time or chance."""
    phase = (i * 7) % 40
    return low + (high - low) * (phase if phase < 20 else 40 - phase) / 20


def history(device: str, gpus: int, *, mem_fraction: float = 0.4, unknown_gpu: bool = False) -> list[TelemetrySample]:
    samples = []
    for i in range(60):
        gpu_list = tuple(
            GpuSample(
                index=g,
                name="NVIDIA GB10",
                utilization=None if unknown_gpu else wave(i + g * 5, 5, 98),
                temperature=None if unknown_gpu else wave(i, 45, 72),
                power=None if unknown_gpu else wave(i, 12, 60),
            )
            for g in range(gpus)
        )
        samples.append(
            TelemetrySample(
                device=device,
                time=float(i),
                cpu=wave(i + 3, 2, 85),
                mem_total=128 * GIB,
                mem_available=int(128 * GIB * (1 - mem_fraction)),
                disk_total=3725 * GIB,
                disk_used=(512 + i) * GIB,
                gpus=gpu_list,
            )
        )
    return samples


class Showcase(App):
    CSS_PATH = [WIDGETS_CSS]
    CSS = "Screen { layout: vertical; } #detail { height: auto; }"
    BINDINGS = [
        Binding("question_mark", "keys", "Keys", id="app.help", tooltip="Show every key"),
        Binding("ctrl+q", "quit", "Quit", id="app.quit", tooltip="Quit"),
    ]

    def __init__(self, theme: str) -> None:
        super().__init__()
        self.chosen_theme = theme

    def compose(self) -> ComposeResult:
        with Vertical(id="detail"):
            yield TelemetryView("spark-1a2b", id="one")
        yield FleetGrid(id="fleet")

    def on_mount(self) -> None:
        register_themes(self)
        self.theme = self.chosen_theme
        one = self.query_one("#one", TelemetryView)
        fleet = self.query_one("#fleet", FleetGrid)
        for sample in history("spark-1a2b", 1):
            one.update_sample(sample)
            fleet.update_sample(sample)
        for sample in history("gx10-77aa", 1, mem_fraction=0.95):
            fleet.update_sample(sample)
        for sample in history("laptop", 0):
            fleet.update_sample(sample)
        for sample in history("spark-9f9f", 1, unknown_gpu=True):
            fleet.update_sample(sample)

    def action_keys(self) -> None:
        self.push_screen(HelpScreen())


@pytest.mark.parametrize("theme", theme_names(include_mono=True))
def test_the_telemetry_card_and_fleet_grid_look_right_in_each_theme(snap_compare, theme):
    assert snap_compare(Showcase(theme), terminal_size=(100, 34))


def test_the_keys_screen_looks_right(snap_compare):
    assert snap_compare(Showcase("spark-dark"), press=["question_mark"], terminal_size=(100, 34))
