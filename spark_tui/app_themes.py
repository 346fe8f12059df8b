"""The app's look and its palette: theme switching (remembered in the profile file) and commands."""

from __future__ import annotations

from collections.abc import Sequence

from textual import work

from spark_tui.core.errors import SparkError
from spark_tui.core.models import ConnectionState, TunnelState
from spark_tui.theming import apply_theme, theme_names


class ThemeAndPalette:
    """Mixed into SparkApp: ``f2``/palette theme switching and the palette's commands.

    Needs ``services``, ``config``, ``profile``, ``tunnel_list``, ``_states`` and the other
    routing mixins' actions (``connect``, ``start_tunnel``, ``action_open_shell`` ...).
    """

    def action_next_theme(self) -> None:
        names = theme_names()
        current = self.theme if self.theme in names else names[-1]
        self.switch_theme(names[(names.index(current) + 1) % len(names)])

    def switch_theme(self, name: str) -> None:
        """Switch theme now and remember it in the profile file."""
        apply_theme(self, name)
        self._remember_theme(name)

    @work(thread=True, group="settings", exclusive=True, exit_on_error=False)
    def _remember_theme(self, name: str) -> None:
        try:
            config = self.services.store.set_setting("theme", name)
        except SparkError as error:
            self.call_from_thread(self.notify, f"Theme not remembered: {error}", severity="warning")
            return
        self.call_from_thread(self._set_config, config)

    def palette_commands(self) -> Sequence:
        """Commands for the palette, fresh on every keystroke."""
        tunnels = []
        for profile in self.config.devices:
            running = {s.spec.name for s in self.tunnel_list.rows_of(profile.name) if s.state is not TunnelState.STOPPED}
            tunnels += [(profile.name, spec.name, spec.name in running) for spec in profile.tunnels]

        def start(device: str, tunnel: str) -> None:
            profile = self.profile(device)
            spec = next((t for t in profile.tunnels if t.name == tunnel), None) if profile else None
            if spec is not None:
                self.start_tunnel(device, spec)

        from spark_tui.palette import PaletteActions, build_commands

        actions = PaletteActions(
            connect=self.connect,
            open_shell=self.action_open_shell,
            start_tunnel=start,
            stop_tunnel=lambda d, t: self.run_worker(self.services.fleet.stop_tunnel(d, t), exit_on_error=False),
            add_device=lambda: self._open_add_device(None),
            switch_theme=self.switch_theme,
            open_files=self.action_open_files,
        )
        connected = {n for n, s in self._states.items() if s.state is ConnectionState.CONNECTED}
        return build_commands(
            devices=[p.name for p in self.config.devices], connected=connected, tunnels=tunnels,
            themes=theme_names(), actions=actions, current_theme=self.theme,
        )
