"""The profile file: load it, watch it, and change it without losing anything a person wrote.

``ProfileStore(path)`` is the only code that reads or writes ``profiles.toml``.

* Reading validates everything (see ``schema``); a problem is a ``ConfigError`` naming the file,
  the line and the field, with a hint. A missing or empty file is an empty ``Config``.
* Every change is a read-modify-write of the file *as it is on disk now*, under an exclusive
  lock shared by all spark-tui processes, merged key by key into the user's TOML document
  (``document``), checked by parsing the result again, and written atomically (``disk``).
* A file that does not validate is never written: fix it by hand first.
* Hand edits made while the app runs are kept. If a change touches an entry (a device, a
  tunnel, a setting) that was edited on disk since this store last read or wrote it, it is
  refused with ``ConfigConflict`` instead of overwriting the edit (see ``entries``).
* The file is always written 0600, whatever its mode was.
"""

from __future__ import annotations

import contextlib
import os
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from spark_tui.config import app_schema, disk, entries, schema
from spark_tui.config.entries import ABSENT, Entry
from spark_tui.config.fields import SchemaProblem, format_field
from spark_tui.config.locate import line_of
from spark_tui.config.reading import ProfileText, read_profile_file
from spark_tui.core.apps import AppSpec
from spark_tui.core.errors import AppNotFound, ConfigConflict, ConfigError, DeviceExists, DeviceNotFound, InvalidProfile, TunnelNotFound
from spark_tui.core.models import Config, DeviceProfile, TunnelSpec


class ProfileStore:
    """Reads and safely changes one profile file.

    Args:
        path: The profile file (it need not exist yet).
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._seen: Config | None = None
        self._signature: disk.Signature | None = None
        self._bad_signature: disk.Signature | None = None

    # --- reading ---------------------------------------------------------------------------

    def load(self) -> Config:
        """Read and validate the file. What it returns is what later changes merge against.

        Raises:
            ConfigError: The file cannot be read, is not TOML, or holds an invalid value.
        """
        snapshot = self._read()
        self._remember(snapshot.config, snapshot.signature)
        return snapshot.config

    def reload_if_changed(self) -> Config | None:
        """The new config if the file changed on disk since last read or written, else ``None``.

        The check is one ``stat`` (inode, size, mtime). An invalid new version raises once;
        later calls return ``None`` until the file changes again.

        Raises:
            ConfigError: The file changed and the new version is invalid.
        """
        current = self._stat()
        if self._seen is not None and current == self._signature:
            return None
        if current is not None and current == self._bad_signature:
            return None
        try:
            snapshot = self._read()
        except ConfigError:
            self._bad_signature = current
            raise
        self._remember(snapshot.config, snapshot.signature)
        return snapshot.config

    # --- changing --------------------------------------------------------------------------

    def add_device(self, profile: DeviceProfile, *, replace: bool = False) -> Config:
        """Save a new device (with its tunnels).

        Args:
            profile: The device.
            replace: Overwrite a device of the same name instead of refusing.

        Returns:
            The config now on disk.

        Raises:
            InvalidProfile: A field breaks the schema.
            DeviceExists: The name is taken and ``replace`` is false.
            ConfigConflict: ``replace`` and that device was edited on disk since last read.
            ConfigError: The file on disk is invalid or cannot be written.
        """
        profile = _checked(lambda: schema.check_profile(profile))

        def change(theirs: Config, base: Config) -> dict[Entry, Any]:
            if theirs.device(profile.name) is not None and not replace:
                raise DeviceExists(
                    f"a device named {profile.name!r} already exists",
                    f"choose another name, or remove it first: spark-tui device remove {profile.name}",
                )
            return entries.device_target(
                profile, known_tunnels=_tunnel_names(profile.name, theirs, base), known_apps=_app_names(profile.name, theirs, base)
            )

        return self._change(change)

    def update_device(self, profile: DeviceProfile) -> Config:
        """Replace a saved device's fields and tunnels with ``profile``'s.

        Returns:
            The config now on disk.

        Raises:
            InvalidProfile: A field breaks the schema.
            DeviceNotFound: No device of that name is saved.
            ConfigConflict: The device was edited on disk since last read.
            ConfigError: The file on disk is invalid or cannot be written.
        """
        profile = _checked(lambda: schema.check_profile(profile))

        def change(theirs: Config, base: Config) -> dict[Entry, Any]:
            _require_device(theirs, profile.name)
            return entries.device_target(
                profile, known_tunnels=_tunnel_names(profile.name, theirs, base), known_apps=_app_names(profile.name, theirs, base)
            )

        return self._change(change)

    def remove_device(self, name: str) -> Config:
        """Forget a saved device and its tunnels.

        Raises:
            DeviceNotFound: No device of that name is saved.
            ConfigConflict: The device was edited on disk since last read.
            ConfigError: The file on disk is invalid or cannot be written.
        """

        def change(theirs: Config, base: Config) -> dict[Entry, Any]:
            _require_device(theirs, name)
            target: dict[Entry, Any] = {("device", name): ABSENT}
            for tunnel in _tunnel_names(name, theirs, base):
                target[("tunnel", name, tunnel)] = ABSENT
            for app in _app_names(name, theirs, base):
                target[("app", name, app)] = ABSENT
            return target

        return self._change(change)

    def save_tunnel(self, device_name: str, spec: TunnelSpec) -> Config:
        """Add a tunnel to a device, or replace the one with the same name.

        Raises:
            InvalidProfile: A field of ``spec`` breaks the schema.
            DeviceNotFound: No device of that name is saved.
            ConfigConflict: That tunnel was edited on disk since last read.
            ConfigError: The file on disk is invalid or cannot be written.
        """
        return self._save_item("tunnel", device_name, _checked(lambda: schema.check_tunnel(device_name, spec)))

    def remove_tunnel(self, device_name: str, tunnel_name: str) -> Config:
        """Forget one saved tunnel of a device.

        Raises:
            DeviceNotFound: No device of that name is saved.
            TunnelNotFound: The device has no tunnel of that name.
            ConfigConflict: That tunnel was edited on disk since last read.
            ConfigError: The file on disk is invalid or cannot be written.
        """
        return self._remove_item("tunnel", device_name, tunnel_name, lambda d: d.tunnels, TunnelNotFound)

    def save_app(self, device_name: str, spec: AppSpec) -> Config:
        """Add an app to a device, or replace the one with the same name.

        Raises:
            InvalidProfile: A field of ``spec`` breaks the schema.
            DeviceNotFound: No device of that name is saved.
            ConfigConflict: That app was edited on disk since last read.
            ConfigError: The file on disk is invalid or cannot be written.
        """
        return self._save_item("app", device_name, _checked(lambda: app_schema.check_app(device_name, spec)))

    def remove_app(self, device_name: str, app_name: str) -> Config:
        """Forget one saved app of a device.

        Raises:
            DeviceNotFound: No device of that name is saved.
            AppNotFound: The device has no app of that name.
            ConfigConflict: That app was edited on disk since last read.
            ConfigError: The file on disk is invalid or cannot be written.
        """
        return self._remove_item("app", device_name, app_name, lambda d: d.apps, AppNotFound)

    def _save_item(self, kind: str, device_name: str, item: Any) -> Config:
        """Save a device's tunnel or app (an entry keyed by its name), replacing one of that name."""

        def change(theirs: Config, base: Config) -> dict[Entry, Any]:
            _require_device(theirs, device_name)
            return {(kind, device_name, item.name): item}

        return self._change(change)

    def _remove_item(self, kind: str, device_name: str, item_name: str, items_of, not_found: type[Exception]) -> Config:
        """Forget a device's tunnel or app by name; ``not_found`` (listing the others) if it has none."""

        def change(theirs: Config, base: Config) -> dict[Entry, Any]:
            items = items_of(_require_device(theirs, device_name))
            if all(i.name != item_name for i in items):
                names = ", ".join(i.name for i in items) or "none"
                raise not_found(f"{device_name} has no {kind} named {item_name!r}", f"its {kind}s: {names}")
            return {(kind, device_name, item_name): ABSENT}

        return self._change(change)

    def set_setting(self, key: str, value: Any) -> Config:
        """Change one ``[settings]`` value (``theme``, ``telemetry_interval``, ...).

        Raises:
            InvalidProfile: Unknown setting or invalid value.
            ConfigConflict: That setting was edited on disk since last read.
            ConfigError: The file on disk is invalid or cannot be written.
        """
        parsed = _checked(lambda: schema.parse_setting(key, schema.setting_to_plain(value)))
        return self._change(lambda theirs, base: {("setting", key): parsed})

    def set_key(self, binding_id: str, keys: str | None) -> Config:
        """Bind keys to a binding id in ``[settings.keys]``; ``None`` removes the binding.

        Raises:
            InvalidProfile: Invalid binding id or key list.
            ConfigConflict: That binding was edited on disk since last read.
            ConfigError: The file on disk is invalid or cannot be written.
        """
        _checked(lambda: schema.check_binding_id(binding_id))
        value = ABSENT if keys is None else _checked(lambda: schema.parse_binding(binding_id, keys))
        return self._change(lambda theirs, base: {("key", binding_id): value})

    @classmethod
    def create_seeded(cls, path: str | os.PathLike[str], config: Config, *, overwrite: bool = False) -> ProfileStore:
        """Write a fresh profile file holding ``config`` (the demo uses this) and return its store.

        Raises:
            InvalidProfile: A value in ``config`` breaks the schema.
            ConfigError: The file exists and ``overwrite`` is false, or it cannot be written.
        """
        store = cls(path)
        target: dict[Entry, Any] = {}
        for device in config.devices:
            checked = _checked(lambda device=device: schema.check_profile(device))
            target.update(entries.device_target(checked, known_tunnels=set()))  # apps come with it
        for key in schema.SETTING_KEYS:
            value = getattr(config.settings, key)
            target[("setting", key)] = _checked(lambda key=key, value=value: schema.parse_setting(key, schema.setting_to_plain(value)))
        for binding, keys in config.settings.keys.items():
            target[("key", binding)] = _checked(lambda binding=binding, keys=keys: schema.parse_binding(binding, keys))
        with disk.locked(store._real):
            if store._real.exists() and not overwrite:
                raise ConfigError(str(store.path), "already exists", hint="pick a new path or pass overwrite=True")
            empty = ProfileText("", None, Config(), None)
            nothing = entries.entries_of(Config())
            store._commit(empty, entries.three_way(nothing, nothing, target))
        return store

    # --- internals -------------------------------------------------------------------------

    @property
    def _real(self) -> Path:
        return disk.real_path(self.path)

    def _remember(self, config: Config, signature: disk.Signature | None) -> None:
        self._seen = config
        self._signature = signature
        self._bad_signature = None

    def _stat(self) -> disk.Signature | None:
        try:
            return disk.signature_of(os.stat(self.path))
        except FileNotFoundError:
            return None
        except OSError as error:
            raise self._error(f"cannot read: {error.strerror}", hint="check the file's permissions") from None

    def _change(self, change: Callable[[Config, Config], dict[Entry, Any]]) -> Config:
        with self._lock():
            snapshot = self._read(editable=True)
            base = self._seen if self._seen is not None else snapshot.config
            target = change(snapshot.config, base)
            try:
                changes = entries.three_way(entries.entries_of(base), entries.entries_of(snapshot.config), target)
            except entries.EntryConflict as conflict:
                raise self._conflict(snapshot, conflict.entry) from None
            return self._commit(snapshot, changes)

    def _commit(self, snapshot: ProfileText, changes: dict[Entry, Any]) -> Config:
        """Write ``changes`` into the file (under the lock) and remember the result."""
        expected = entries.apply_changes(snapshot.config, changes)
        if not changes and snapshot.signature is not None:
            with contextlib.suppress(OSError):
                os.chmod(self._real, disk.PRIVATE)  # "0600 after every save", even a no-op one
            self._remember(expected, snapshot.signature)
            return expected
        if snapshot.doc is None and snapshot.signature is not None:  # never rebuild an existing file
            raise RuntimeError("profile file was not read for editing")
        from spark_tui.config import document  # tomlkit: loaded by the first save, not by start-up

        doc = snapshot.doc if snapshot.doc is not None else document.new_document()
        document.apply_to_document(doc, snapshot.config, changes)
        text = doc.as_string()
        try:
            written = schema.parse_config(tomllib.loads(text))
        except (tomllib.TOMLDecodeError, SchemaProblem) as error:
            written = error
        if written != expected:
            raise self._error(
                "spark-tui could not merge the change into this file's layout; the file is unchanged",
                hint="write the device as a [devices.NAME] table (see the header of a new profile file) or edit by hand",
            )
        disk.remove_stale_temp_files(self._real)
        try:
            signature = disk.write_atomically(self._real, text.encode("utf-8"))
        except OSError as error:
            raise self._error(f"cannot save: {error.strerror or error}", hint="check free space and the folder's permissions") from None
        self._remember(expected, signature)
        return expected

    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        stack = contextlib.ExitStack()
        try:
            stack.enter_context(disk.locked(self._real))
        except OSError as error:
            hint = getattr(error, "hint", "check the folder's permissions")
            raise self._error(f"cannot lock for writing: {error.strerror or error}", hint=hint) from None
        with stack:
            yield

    def _read(self, *, editable: bool = False) -> ProfileText:
        return read_profile_file(self.path, editable=editable)

    def _error(self, message: str, *, line: int | None = None, field: str | None = None, hint: str = "") -> ConfigError:
        return ConfigError(str(self.path), message, line=line, field=field, hint=hint)

    def _conflict(self, snapshot: ProfileText, entry: Entry) -> ConfigConflict:
        if entry[0] == "device":
            where: tuple[str | int, ...] = ("devices", entry[1])
            what = f"device {entry[1]!r}"
        elif entry[0] in ("tunnel", "app"):
            device = snapshot.config.device(entry[1])
            children = (device.tunnels if entry[0] == "tunnel" else device.apps) if device else ()
            index = next((i for i, t in enumerate(children) if t.name == entry[2]), None)
            where = ("devices", entry[1], entry[0] + "s") + ((index,) if index is not None else ())
            what = f"{entry[0]} {entry[2]!r} of {entry[1]!r}"
        elif entry[0] == "setting":
            where, what = ("settings", entry[1]), f"setting {entry[1]!r}"
        else:
            where, what = ("settings", "keys", entry[1]), f"key binding {entry[1]!r}"
        return ConfigConflict(
            str(self.path),
            f"{what} was changed in the file since spark-tui last read it; not overwriting that edit",
            line=line_of(snapshot.text, where),
            field=format_field(where),
            hint="the file keeps your edit: reload it and make this change again, or undo the edit",
        )


def _checked(check: Callable[[], Any]) -> Any:
    try:
        return check()
    except SchemaProblem as problem:
        raise InvalidProfile(problem.field, problem.message, problem.hint) from None


def _require_device(config: Config, name: str) -> DeviceProfile:
    device = config.device(name)
    if device is None:
        names = ", ".join(d.name for d in config.devices) or "none yet"
        raise DeviceNotFound(f"no saved device named {name!r}", f"saved devices: {names}")
    return device


def _app_names(device_name: str, *configs: Config) -> frozenset[str]:
    return frozenset(a.name for config in configs if config.device(device_name) for a in config.device(device_name).apps)


def _tunnel_names(device_name: str, *configs: Config) -> set[str]:
    names: set[str] = set()
    for config in configs:
        device = config.device(device_name)
        if device is not None:
            names.update(t.name for t in device.tunnels)
    return names
