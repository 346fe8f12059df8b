"""The app's routing for apps, containers and editors: dialogs' intents to services, and back.

Each device gets one ``AppService`` whose tunnels go through the Fleet, so an app's tunnel is a
row of the Tunnels pane like any other. Quitting stops every app spark-tui started except those
the user chose to leave running; ``exit_notes`` then says which (the CLI prints them).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from textual import work

from spark_tui.core.apps import AppSpec, AppStatus
from spark_tui.core.errors import AppError, DockerUnavailable, SparkError
from spark_tui.core.models import TunnelSpec
from spark_tui.screens.apps import AppsScreen
from spark_tui.screens.containers import ContainersScreen


class AppRouting:
    """Mixed into SparkApp (needs ``services``, ``profile``, ``_selected``, ``shell_tabs``)."""

    exit_notes: list[str]
    """Lines to print after the dashboard closed (apps left running)."""

    def _app_state(self) -> dict[str, Any]:
        if not hasattr(self, "_apps_state"):
            self._apps_state = {"services": {}, "screen": None}
        if not hasattr(self, "exit_notes"):
            self.exit_notes = []
        return self._apps_state

    def _selected_profile(self):
        row = self._selected
        if row is None or row.profile is None:
            self.notify("Select a saved device first", severity="warning")
            return None
        return row.profile

    def app_service(self, device: str):
        """The device's AppService (made on first use)."""
        services = self._app_state()["services"]
        if device not in services:
            from spark_tui.services.apps import AppService

            fleet = self.services.fleet

            async def open_tunnel(spec: TunnelSpec) -> int:
                return (await fleet.start_tunnel(self.profile(device), spec)).local_port

            services[device] = AppService(
                lambda: fleet.connections.connect(self.profile(device)), device,
                open_tunnel=open_tunnel, close_tunnel=lambda name: fleet.stop_tunnel(device, name),
                on_status=self._app_status,
                on_output=lambda app, line: self._app_line(device, app, line),
            )
        return services[device]

    # -- apps ------------------------------------------------------------------------------

    def action_apps(self) -> None:
        """Open the Apps dialog of the selected device."""
        profile = self._selected_profile()
        if profile is None:
            return
        service = self.app_service(profile.name)
        statuses = {s.app: s for s in service.statuses()}
        logs = {a.name: service.output(a.name) for a in profile.apps}
        screen = AppsScreen(profile.name, profile.apps, statuses, logs)
        self._app_state()["screen"] = screen
        self.push_screen(screen)

    def _app_status(self, status: AppStatus) -> None:
        screen = self._app_state()["screen"]
        if isinstance(screen, AppsScreen) and screen.device == status.device and screen.is_attached:
            screen.update_status(status)

    def _app_line(self, device: str, app: str, line: str) -> None:
        screen = self._app_state()["screen"]
        if isinstance(screen, AppsScreen) and screen.device == device and screen.is_attached:
            screen.add_line(app, line)

    def on_apps_screen_requested(self, message: AppsScreen.Requested) -> None:
        if message.what == "add":
            self._add_preset(message.device, message.app)
            return
        profile = self.profile(message.device)
        spec = next((a for a in profile.apps if a.name == message.app), None) if profile else None
        if spec is None:
            return
        service = self.app_service(message.device)
        status = service.status(spec.name)
        if message.what == "start":
            self._start_app(message.device, spec)
        elif message.what == "stop":
            self.run_worker(service.stop(spec.name), group="apps", exit_on_error=False)
        elif message.what == "browse":
            if status is None or not status.local_url:
                self.notify(f"{spec.name} is not running", severity="warning")
                return
            import webbrowser

            webbrowser.open(status.local_url)
        elif message.what == "leave":
            leave = not (status.leave_running if status else False)
            service.leave_running(spec.name, leave)
            self.notify(f"{spec.name} will {'keep running on ' + message.device if leave else 'be stopped'} when you quit")

    @work(group="apps", exit_on_error=False)
    async def _add_preset(self, device: str, preset_name: str) -> None:
        from spark_tui.core.app_presets import app_preset

        preset = app_preset(preset_name)
        profile = self.profile(device)
        if preset is None or profile is None:
            return
        if any(a.name == preset.name for a in profile.apps):
            self.notify(f"{device} already has an app named {preset.name}", severity="warning")
            return
        try:
            config = await asyncio.to_thread(self.services.store.save_app, device, preset)
        except SparkError as error:
            self.notify(str(error), severity="error", timeout=8)
            return
        self._set_config(config)
        screen = self._app_state()["screen"]
        if isinstance(screen, AppsScreen) and screen.device == device and screen.is_attached:
            screen.reload(config.device(device).apps)
        self.notify(f"Added {preset.name} to {device}; edit its script in the profile file")

    @work(group="apps", exit_on_error=False)
    async def _start_app(self, device: str, spec: AppSpec) -> None:
        try:
            status = await self.app_service(device).start(spec)
        except AppError as error:
            last = "\n".join(error.output[-5:])
            self.notify(f"{error.message}\n{last}".strip(), title=f"{spec.name} did not start", severity="error", timeout=12)
            return
        except SparkError as error:
            self.notify(f"{error.message}\n{error.hint}".strip(), title=f"{spec.name} did not start", severity="error", timeout=10)
            return
        self.notify(f"{spec.name} is up: {status.local_url}")
        if spec.auto_open:
            import webbrowser

            webbrowser.open(status.local_url)

    async def close_apps(self) -> None:
        """Stop the apps spark-tui started (before the Fleet closes); note those left running."""
        for device, service in self._app_state()["services"].items():
            with contextlib.suppress(Exception):
                for name in await service.close():
                    self.exit_notes.append(f"{name} keeps running on {device}; stop it with: spark-tui app stop {device}/{name}")

    # -- containers ------------------------------------------------------------------------

    def action_containers(self) -> None:
        """Open the Containers dialog of the selected device."""
        profile = self._selected_profile()
        if profile is not None:
            self.push_screen(ContainersScreen(profile.name))

    def on_containers_screen_requested(self, message: ContainersScreen.Requested) -> None:
        if message.what == "logs":
            from spark_tui.services.apps import logs_command

            if isinstance(self.screen, ContainersScreen):
                self.pop_screen()  # the logs tab is on the dashboard: show it
            self.shell_tabs.open(message.device, command=logs_command(message.container), title=f"logs {message.container}")
            return
        self._container_work(message)

    @work(group="containers", exit_on_error=False)
    async def _container_work(self, message: ContainersScreen.Requested) -> None:
        from spark_tui.services.apps import container_action, list_containers

        screen = next((s for s in self.screen_stack if isinstance(s, ContainersScreen) and s.device == message.device), None)
        profile = self.profile(message.device)
        if profile is None:
            return
        try:
            conn = await self.services.fleet.connections.connect(profile)
            if message.what in ("start", "stop", "restart"):
                await container_action(conn, message.what, message.container)
                self.notify(f"docker {message.what} {message.container}: done")
            elif message.what == "tunnel" and message.port is not None:
                await self._container_tunnel(profile, message.container, message.port)
            if screen is not None and screen.is_attached:
                screen.show(await list_containers(conn))
        except DockerUnavailable as error:
            if screen is not None and screen.is_attached:
                screen.problem(error.message, error.hint)
        except SparkError as error:
            self.notify(f"{error.message}\n{error.hint}".strip(), severity="error", timeout=8)

    async def _container_tunnel(self, profile, container: str, port) -> None:
        name = f"{container}-{port.host_port}"[:48]
        stats = await self.services.fleet.start_tunnel(profile, TunnelSpec(name, port.host_port, local_port=_free(port.host_port), browser_path="/"))
        url = f"http://127.0.0.1:{stats.local_port}/"
        if await asyncio.to_thread(_speaks_http, stats.local_port):
            import webbrowser

            webbrowser.open(url)
            self.notify(f"{container}: {url}")
        else:
            self.notify(f"{container}: tunnel on 127.0.0.1:{stats.local_port} (not HTTP, no browser)")

    # -- editor ----------------------------------------------------------------------------

    def action_open_editor(self) -> None:
        """Open the selected device in VS Code (Remote-SSH)."""
        profile = self._selected_profile()
        if profile is None:
            return
        from spark_tui.services.apps import open_in_editor

        try:
            command, hint = open_in_editor(profile, self.config.devices, editor="code")
        except SparkError as error:
            self.notify(f"{error.message}\n{error.hint}".strip(), title="No editor", severity="error", timeout=10)
            return
        self.notify(f"Opened {profile.name} in VS Code")
        if hint:
            self.notify(hint, title="One more step", timeout=20)


def _free(port: int) -> int:
    from spark_tui.services.tunnels import next_free_port

    return next_free_port(port) or 0


def _speaks_http(port: int) -> bool:
    """True when something answering HTTP is behind the local port (any status counts)."""
    import http.client

    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=3)
        connection.request("HEAD", "/")
        connection.getresponse()
        return True
    except (OSError, http.client.HTTPException):
        return False
    finally:
        with contextlib.suppress(Exception):
            connection.close()
