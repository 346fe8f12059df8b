"""A profile file seen as independent entries, and the three-way rule that merges a change.

An entry is the smallest thing two people can change independently:

* ``("device", name)``: a device's own fields (host, user, port, ...), its tunnels and apps excluded;
* ``("tunnel", device, tunnel)``: one saved tunnel;
* ``("app", device, app)``: one saved app;
* ``("setting", key)``: one ``[settings]`` value;
* ``("key", binding)``: one ``[settings.keys]`` binding.

A change names the entries it sets (``ABSENT`` removes one). It is checked against three
versions of each entry: *base* (what this process last read or wrote), *theirs* (the file on
disk now) and *ours* (the change). Theirs equal to ours: nothing to do. Theirs equal to base:
nobody else touched it, take ours. Otherwise someone edited the same entry since we last read
it, and the change is refused rather than overwriting their edit.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from spark_tui.config.schema import SETTING_KEYS
from spark_tui.core.apps import AppSpec
from spark_tui.core.models import Config, DeviceProfile, TunnelSpec

Entry = tuple[str, ...]


class _Absent:
    def __repr__(self) -> str:
        return "ABSENT"


ABSENT: Any = _Absent()


class EntryConflict(Exception):
    """Someone else changed ``entry`` on disk since this process last saw it."""

    def __init__(self, entry: Entry) -> None:
        super().__init__(entry)
        self.entry = entry


def entries_of(config: Config) -> dict[Entry, Any]:
    """Every entry of a config, keyed as described in the module docstring."""
    found: dict[Entry, Any] = {}
    for device in config.devices:
        found[("device", device.name)] = dataclasses.replace(device, tunnels=(), apps=())
        for tunnel in device.tunnels:
            found[("tunnel", device.name, tunnel.name)] = tunnel
        for app in device.apps:
            found[("app", device.name, app.name)] = app
    for key in SETTING_KEYS:
        found[("setting", key)] = getattr(config.settings, key)
    for binding, keys in config.settings.keys.items():
        found[("key", binding)] = keys
    return found


def device_target(profile: DeviceProfile, *, known_tunnels: set[str], known_apps: frozenset[str] = frozenset()) -> dict[Entry, Any]:
    """The entries that make a device exactly ``profile``, tunnels and apps included.

    Args:
        profile: The device as it should be.
        known_tunnels: Tunnel names of this device seen anywhere (on disk or last read); those
            not in ``profile`` are removed.
        known_apps: The same for its apps.
    """
    target: dict[Entry, Any] = {("device", profile.name): dataclasses.replace(profile, tunnels=(), apps=())}
    for name in known_tunnels:
        target[("tunnel", profile.name, name)] = ABSENT
    for tunnel in profile.tunnels:
        target[("tunnel", profile.name, tunnel.name)] = tunnel
    for name in known_apps:
        target[("app", profile.name, name)] = ABSENT
    for app in profile.apps:
        target[("app", profile.name, app.name)] = app
    return target


def three_way(base: Mapping[Entry, Any], theirs: Mapping[Entry, Any], ours: Mapping[Entry, Any]) -> dict[Entry, Any]:
    """The changes to make to ``theirs`` so every entry of ``ours`` holds.

    Raises:
        EntryConflict: An entry of ``ours`` differs from ``base`` on disk and from ``ours``.
    """
    changes: dict[Entry, Any] = {}
    for entry, value in ours.items():
        now = theirs.get(entry, ABSENT)
        if now == value:
            continue
        if base.get(entry, ABSENT) != now:
            raise EntryConflict(entry)
        changes[entry] = value
    return changes


def apply_changes(config: Config, changes: Mapping[Entry, Any]) -> Config:
    """``config`` with ``changes`` made. New devices, tunnels and apps go last; others keep their place."""
    devices: dict[str, tuple[DeviceProfile, dict[str, TunnelSpec], dict[str, AppSpec]]] = {
        d.name: (d, {t.name: t for t in d.tunnels}, {a.name: a for a in d.apps}) for d in config.devices
    }
    for entry, value in changes.items():
        if entry[0] != "device":
            continue
        name = entry[1]
        if value is ABSENT:
            devices.pop(name, None)
        else:
            devices[name] = (value, *(devices[name][1:] if name in devices else ({}, {})))
    for entry, value in changes.items():
        if entry[0] not in ("tunnel", "app") or entry[1] not in devices:
            continue
        children = devices[entry[1]][1 if entry[0] == "tunnel" else 2]
        if value is ABSENT:
            children.pop(entry[2], None)
        else:
            children[entry[2]] = value
    settings = config.settings
    keys = dict(settings.keys)
    for entry, value in changes.items():
        if entry[0] == "setting":
            settings = dataclasses.replace(settings, **{entry[1]: value})
        elif entry[0] == "key":
            if value is ABSENT:
                keys.pop(entry[1], None)
            else:
                keys[entry[1]] = value
    settings = dataclasses.replace(settings, keys=keys)
    return Config(
        devices=tuple(dataclasses.replace(d, tunnels=tuple(t.values()), apps=tuple(a.values())) for d, t, a in devices.values()),
        settings=settings,
    )
