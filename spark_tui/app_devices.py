"""The app's device routing: the Devices pane's intents (connect, add, save, forget) to services."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from textual import work

from spark_tui.core.devices import DeviceRow
from spark_tui.core.errors import SparkError
from spark_tui.widgets.device_list import DeviceList

if TYPE_CHECKING:
    from spark_tui.screens.add_device import AddDeviceScreen


class DeviceRouting:
    """Mixed into SparkApp: handlers for the Devices pane (needs ``services``, ``profile``)."""

    def on_device_list_highlighted(self, message: DeviceList.Highlighted) -> None:
        self._selected = message.device

    def on_device_list_connect_requested(self, message: DeviceList.ConnectRequested) -> None:
        if message.device.profile is None:
            self._open_add_device(message.device, note="Not saved yet: save it first, then it connects with a key.")
            return
        self.connect(message.device.profile.name)

    @work(group="connect", exit_on_error=False)
    async def connect(self, name: str) -> None:
        """Connect to the saved device ``name`` (from the list or the palette)."""
        profile = self.profile(name)
        if profile is None:
            self.notify(f"No saved device called {name}", severity="error")
            return
        try:
            await self.services.fleet.connect(profile)
        except SparkError as error:
            self.notify(f"{error.message}\n{error.hint}".strip(), title=f"Cannot connect to {name}", severity="error", timeout=10)

    def on_device_list_disconnect_requested(self, message: DeviceList.DisconnectRequested) -> None:
        if message.device.profile is not None:
            self.run_worker(self.services.fleet.disconnect(message.device.name), group="connect", exit_on_error=False)

    def on_device_list_save_requested(self, message: DeviceList.SaveRequested) -> None:
        self._open_add_device(message.device)

    def on_device_list_add_requested(self) -> None:
        self._open_add_device(None)

    def on_device_list_refresh_requested(self) -> None:
        refresh = getattr(self._discovery, "refresh", None)
        if refresh is not None:
            refresh()  # the reverse-name sweep again (rate limited); returns at once
        if self._prober is not None:
            for key in self._probe_targets():
                self._prober.probe_now(key)
        self._refresh_devices()

    @work(group="dialogs", exit_on_error=False)
    async def on_device_list_remove_requested(self, message: DeviceList.RemoveRequested) -> None:
        name = message.device.name
        from spark_tui.screens.confirm import ConfirmScreen

        if await self.push_screen_wait(ConfirmScreen("Forget device", f"Forget {name}? Its saved tunnels go too. The key stays installed on the device.")):
            await self.services.fleet.disconnect(name)
            try:
                self._set_config(await asyncio.to_thread(self.services.store.remove_device, name))
            except SparkError as error:
                self.notify(str(error), severity="error")

    def _open_add_device(self, row: DeviceRow | None, note: str = "") -> None:
        from spark_tui.screens.add_device import AddDeviceScreen

        if row is None:
            self.push_screen(AddDeviceScreen(note=note))
        else:
            self.push_screen(AddDeviceScreen(name=row.name.split(".")[0], host=row.host, port=row.port, note=note))

    def on_add_device_screen_submitted(self, message: AddDeviceScreen.Submitted) -> None:
        self._run_add_device(message.form, self.screen)

    @work(group="onboard", exit_on_error=False)
    async def _run_add_device(self, form, dialog: AddDeviceScreen) -> None:
        from spark_tui.services.ssh import add_device

        try:
            config = await add_device(
                self.services.store, name=form.name, host=form.host, user=form.user, port=form.port,
                identity_file=form.identity_file, password=form.password,
                confirm_host_key=self._confirm_host_key, on_step=dialog.show_step,
            )
        except SparkError as error:
            dialog.show_step(f"{error.message} {error.hint}".strip(), error=True)
            return
        dialog.dismiss(None)
        self._set_config(config)
        self.notify(f"Saved {form.name}. Press enter on it to connect.")

    async def _confirm_host_key(self, host: str, fingerprint: str) -> bool:
        from spark_tui.screens.host_key import HostKeyScreen

        return bool(await self.push_screen_wait(HostKeyScreen(host, fingerprint)))

