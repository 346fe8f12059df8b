"""The app's tunnel routing: the Tunnels pane's intents to the Fleet, and back."""

from __future__ import annotations

import asyncio

from textual import work

from spark_tui.core.errors import SparkError
from spark_tui.core.models import TunnelSpec, TunnelState
from spark_tui.events import TunnelsChanged, while_running
from spark_tui.widgets.tunnel_list import TunnelList


class TunnelRouting:
    """Mixed into SparkApp: handlers for the Tunnels pane (needs ``services``, ``profile``, ``tunnel_list``)."""

    @while_running
    def on_tunnels_changed(self, message: TunnelsChanged) -> None:
        """A device's tunnel figures: redraw its rows and say when one goes down or comes back."""
        tunnels = self.tunnel_list
        if not message.stats:
            tunnels.forget(message.device)
            return
        before = {s.spec.name: s.state for s in tunnels.rows_of(message.device)}
        tunnels.show(message.stats)
        for stats in message.stats:
            was = before.get(stats.spec.name)
            if was is TunnelState.UP and stats.state in (TunnelState.RECONNECTING, TunnelState.FAILED):
                self.notify(f"Tunnel {stats.device}/{stats.spec.name} down: {stats.last_error or stats.state.value}", severity="warning")
            elif was in (TunnelState.RECONNECTING, TunnelState.FAILED) and stats.state is TunnelState.UP:
                self.notify(f"Tunnel {stats.device}/{stats.spec.name} back on port {stats.local_port}")


    def on_tunnel_list_toggle_requested(self, message: TunnelList.ToggleRequested) -> None:
        stats = message.stats
        if stats.state in (TunnelState.STOPPED, TunnelState.FAILED):
            self.start_tunnel(stats.device, stats.spec)
        else:
            self.run_worker(self.services.fleet.stop_tunnel(stats.device, stats.spec.name), group="tunnels", exit_on_error=False)

    def on_tunnel_list_browse_requested(self, message: TunnelList.BrowseRequested) -> None:
        stats = message.stats
        if stats.spec.browser_path is None:
            self.notify(f"{stats.spec.name} is not a web app (no browser path saved)", severity="warning")
            return
        url = f"http://127.0.0.1:{stats.local_port}{stats.spec.browser_path}"
        self.notify(f"Opening {url}")
        import webbrowser  # only when asked: it costs a noticeable part of start-up

        webbrowser.open(url)

    @work(group="tunnels", exit_on_error=False)
    async def start_tunnel(self, device: str, spec: TunnelSpec) -> None:
        """Start ``spec`` on ``device``, connecting first if needed."""
        profile = self.profile(device)
        if profile is None:
            return
        try:
            await self.services.fleet.start_tunnel(profile, spec)
        except SparkError as error:
            self.notify(f"{error.message}\n{error.hint}".strip(), title=f"Tunnel {spec.name} not started", severity="error", timeout=8)

    @work(group="dialogs", exit_on_error=False)
    async def on_tunnel_list_new_requested(self) -> None:
        from spark_tui.screens.new_tunnel import NewTunnelScreen

        row = self._selected
        if row is None or row.profile is None:
            self.notify("Select a saved device in the Devices pane first", severity="warning")
            return
        choice = await self.push_screen_wait(NewTunnelScreen(row.name, self._ports.get(row.name, ())))
        if not choice:
            return
        specs, remember = choice
        for spec in specs:
            if remember:
                try:
                    self._set_config(await asyncio.to_thread(self.services.store.save_tunnel, row.name, spec))
                except SparkError as error:
                    self.notify(str(error), severity="error")
            self.start_tunnel(row.name, spec)

