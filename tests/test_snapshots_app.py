"""Snapshots of the whole dashboard with fixed demo data, in every theme and two sizes.

The data is fed in as the service events the app would receive (telemetry samples, tunnel
stats, connection states), so the picture is the real layout and the real widgets, and stays
the same from run to run. Update after an intended change with ``--snapshot-update``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from spark_tui.app import Services, SparkApp
from spark_tui.config.store import ProfileStore
from spark_tui.core.models import (
    ConnectionState,
    ConnectionStatus,
    DeviceProfile,
    GpuSample,
    TelemetrySample,
    TunnelSpec,
    TunnelState,
    TunnelStats,
)
from spark_tui.events import ConnectionChanged, TelemetryArrived, TunnelsChanged
from spark_tui.services.fleet import Fleet

DASHBOARD = TunnelSpec(name="dashboard", remote_port=11000, browser_path="/", auto_start=True)
JUPYTER = TunnelSpec(name="jupyter", remote_port=8888, local_port=18888, browser_path="/lab")
GIB = 1024**3


def demo_app(tmp_path: Path) -> SparkApp:
    path = tmp_path / "profiles.toml"
    store = ProfileStore(path)
    store.add_device(DeviceProfile(name="spark-demo", host="127.0.0.1", port=2222, user="me", tags=("demo",), tunnels=(DASHBOARD, JUPYTER), demo=True))
    store.add_device(DeviceProfile(name="spark-1a2b", host="spark-1a2b.local", user="me", tags=("lab",)))
    store.add_device(DeviceProfile(name="gx10-00ff", host="192.0.2.7", user="ops"))
    config = store.load()
    config = config.__class__(devices=config.devices, settings=config.settings.__class__(theme="spark-dark"))
    return SparkApp(Services(store, Fleet()), config)


def feed(app: SparkApp) -> None:
    app.post_message(ConnectionChanged(ConnectionStatus("spark-demo", ConnectionState.CONNECTED)))
    app.post_message(ConnectionChanged(ConnectionStatus("gx10-00ff", ConnectionState.FAILED, "connection refused by 192.0.2.7:22", "is sshd running on the device?")))
    for i in range(40):
        app.post_message(
            TelemetryArrived(
                TelemetrySample(
                    device="spark-demo", time=float(i), cpu=20 + (i * 7) % 50, mem_total=128 * GIB,
                    mem_available=(90 - i % 10) * GIB, disk_total=3700 * GIB, disk_used=1200 * GIB,
                    gpus=(GpuSample(0, "NVIDIA GB10", utilization=(i * 13) % 100, temperature=45 + i % 9, power=30.0 + i % 20),),
                )
            )
        )
    up = TunnelStats("spark-demo", DASHBOARD, TunnelState.UP, 11000, connections=2, total_connections=9, bytes_up=48_213, bytes_down=9_613_205, rate_up=1200, rate_down=256_000, uptime=120)
    retry = TunnelStats("spark-demo", JUPYTER, TunnelState.RECONNECTING, 18888, last_error="link lost; retrying in 2 s")
    app.post_message(TunnelsChanged("spark-demo", (up, retry)))


async def settle(pilot) -> None:
    feed(pilot.app)
    await pilot.pause()
    await pilot.pause(0.2)  # the Devices pane redraws on a short timer, so bursts cost one redraw
    await pilot.wait_for_scheduled_animations()
    await pilot.pause()


@pytest.mark.parametrize("theme", ["spark-dark", "spark-light", "spark-contrast"])
@pytest.mark.parametrize("size", [(80, 24), (160, 48)], ids=["80x24", "160x48"])
def test_the_dashboard_looks_right(snap_compare, tmp_path, theme, size):
    app = demo_app(tmp_path)

    async def run_before(pilot) -> None:
        pilot.app.theme = theme
        await settle(pilot)

    assert snap_compare(app, terminal_size=size, run_before=run_before)


def test_the_keys_screen_lists_the_dashboards_bindings(snap_compare, tmp_path):
    async def run_before(pilot) -> None:
        await settle(pilot)
        await pilot.press("question_mark")
        await pilot.pause()

    assert snap_compare(demo_app(tmp_path), terminal_size=(120, 40), run_before=run_before)


def test_the_command_palette_offers_device_commands(snap_compare, tmp_path):
    async def run_before(pilot) -> None:
        await settle(pilot)
        await pilot.press("ctrl+p")
        await pilot.pause()
        for widget in pilot.app.screen.query("Input"):
            widget.cursor_blink = False
        await pilot.press(*"shell")
        await pilot.pause(0.3)

    assert snap_compare(demo_app(tmp_path), terminal_size=(120, 40), run_before=run_before)
