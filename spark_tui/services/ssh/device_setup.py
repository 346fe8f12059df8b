"""Adding a device from the dashboard: onboard with a password when given, then save."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

from spark_tui.core.models import Config, DeviceProfile
from spark_tui.core.secret import Secret


async def add_device(
    store,
    *,
    name: str,
    host: str,
    user: str,
    port: int,
    identity_file: str,
    password: str | Secret,
    confirm_host_key: Callable[[str, str], Awaitable[bool]],
    on_step: Callable[[str], None],
) -> Config:
    """Save a new device; with a password, first install a fresh key on it (NVIDIA Sync's flow).

    The password is passed straight to the onboarding and never stored; nothing is saved
    unless every step succeeded.

    Returns:
        The profile file's new content.

    Raises:
        ConnectError: a step of the onboarding failed (the message names it).
        ConfigError: the profile file could not be written.
    """
    profile = DeviceProfile(name=name, host=host, user=user or None, port=port, identity_file=identity_file or None)
    try:
        if password:
            from spark_tui.services.ssh.onboarding import onboard

            profile = await onboard(
                profile,
                password,
                key=Path(identity_file).expanduser() if identity_file else None,
                confirm_host_key=confirm_host_key,
                on_step=lambda _step, text: on_step(text),
            )
    finally:
        if isinstance(password, Secret):
            password.wipe()
    on_step("saving the profile")
    return await asyncio.to_thread(store.add_device, profile)
