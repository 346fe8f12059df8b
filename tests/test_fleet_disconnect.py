"""Disconnecting a device while its connect is still starting things really disconnects it."""

from __future__ import annotations

import asyncio

from spark_tui.core.models import ConnectionState, ConnectionStatus, DeviceProfile, TunnelSpec
from spark_tui.services.fleet import Fleet


async def test_a_disconnect_during_the_auto_start_of_tunnels_is_not_undone_by_them(sshd, tmp_path):
    # Several auto-start tunnels: each start can dial the device again if the connect that
    # started them is left running after the user disconnected.
    tunnels = tuple(TunnelSpec(name=f"t{i}", remote_port=9, local_port=0, auto_start=True) for i in range(4))
    profile = DeviceProfile("lab", sshd.host, sshd.user, sshd.port, identity_file=str(sshd.client_key), tunnels=tunnels)
    fleet = Fleet(telemetry_interval=0.5, known_hosts=tmp_path / "known_hosts")

    async def trust(host: str, fingerprint: str) -> bool:
        return True

    fleet.confirm_host_key = trust
    connected = asyncio.Event()

    def on_event(event) -> None:
        if isinstance(event, ConnectionStatus) and event.state is ConnectionState.CONNECTED:
            connected.set()

    fleet.on_event = on_event
    try:
        connecting = asyncio.create_task(fleet.connect(profile))
        await asyncio.wait_for(connected.wait(), 15)
        await fleet.disconnect("lab")  # while connect() may still be starting watchers and tunnels
        await asyncio.wait({connecting}, timeout=10)
        assert connecting.done()
        await asyncio.sleep(1.0)  # time for a stray tunnel start to dial again
        assert fleet.state("lab") is ConnectionState.DISCONNECTED
        assert fleet.tunnel_stats("lab") == ()
    finally:
        await fleet.close()
