"""A host found only by name (the reverse sweep) in the Devices pane: marked, and online only
once its SSH port answers a probe."""

from __future__ import annotations

from spark_tui.app import Services, SparkApp
from spark_tui.config.store import ProfileStore
from spark_tui.core.devices import NAME_ONLY, ProbeResult
from spark_tui.core.models import DiscoveredService
from spark_tui.events import DiscoveryChanged, ProbesChanged
from spark_tui.services.fleet import Fleet
from spark_tui.widgets.device_list import DeviceList


async def test_a_name_only_host_is_marked_and_called_online_only_after_its_ssh_port_answers(tmp_path):
    store = ProfileStore(tmp_path / "profiles.toml")
    app = SparkApp(Services(store, Fleet()), store.load())
    found = DiscoveredService("7.0.0.127.in-addr.arpa.", NAME_ONLY, "quiet-box.local.", ("127.0.0.7",), last_seen=1.0)
    async with app.run_test(size=(120, 40)) as pilot:
        app.post_message(DiscoveryChanged((found,)))
        await pilot.pause(0.3)
        devices = app.query_one(DeviceList)
        (row,) = devices._shown
        assert row.name_only and not row.advertised
        assert devices._cells(row)[1] == "quiet-box (name only)"
        assert devices.state_of(row) == "offline"  # nothing says it runs SSH yet
        assert "found by name only" in devices._detail(row).plain
        app.post_message(ProbesChanged({row.key: ProbeResult(True, 2.0, "SSH-2.0-OpenSSH_9.6")}))
        await pilot.pause(0.3)
        (row,) = devices._shown
        assert devices.state_of(row) == "online"
        app.post_message(ProbesChanged({row.key: ProbeResult(False, error="connection refused")}))
        await pilot.pause(0.3)
        (row,) = devices._shown
        assert devices.state_of(row) == "unreachable"
