"""Edit the user's TOML document in place, key by key, so what they wrote survives a save.

Rules (the same for every table):

* a value that did not change is not touched (its spelling, comment and place stay);
* a changed value is replaced where it stands, keeping the comment after it;
* a new value is added after the table's last value (before trailing blank lines/comments);
* a value that became absent (``None``) is removed; a default value is never *added*
  (``port = 22`` is not written for a new device, but an existing ``port = 22`` is kept);
* a removed table hands the comments at its end, which describe whatever follows, to that
  following item, so a comment written above the next device stays above it.

The store re-reads the rendered text and compares it with the intended ``Config`` before it
writes anything, so a layout these rules cannot edit is refused, never written wrong.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

import tomlkit
from tomlkit.container import Container
from tomlkit.items import AoT, Comment, InlineTable, Item, Null, Table, Whitespace
from tomlkit.toml_document import TOMLDocument

from spark_tui.config import app_schema, schema
from spark_tui.config.entries import ABSENT, Entry
from spark_tui.core.models import Config, DeviceProfile

HEADER = """\
# spark-tui profiles: saved devices, their tunnels, and app settings.
# Edit freely, also while spark-tui runs: it keeps your comments and order, notices changes,
# and refuses to overwrite an entry you changed by hand. Keep this file private (mode 0600).
# [settings]: theme, telemetry_interval, discovery_interfaces, discovery_types, discovery_sweep,
# log_level;
# [settings.keys]: binding id = "key(s)". [devices.NAME]: host, user, port, identity_file,
# jump_host, tags, ports; [[devices.NAME.tunnels]]: name, remote_port, local_port, kind, ...
"""


def new_document() -> TOMLDocument:
    """An empty profile document that starts with the explanatory header."""
    return tomlkit.parse(HEADER + "\n")


def apply_to_document(doc: TOMLDocument, theirs: Config, changes: Mapping[Entry, Any]) -> None:
    """Make ``changes`` (see ``entries``) in ``doc``, which currently holds ``theirs``."""
    removed = {e[1] for e, v in changes.items() if e[0] == "device" and v is ABSENT}
    for name in removed:
        _drop_leading_comments(doc, _devices(doc)[name])
        _delete_keeping_trailer(_devices(doc), name)
    for entry, value in changes.items():
        if entry[0] == "device" and value is not ABSENT:
            old = theirs.device(entry[1])
            if old is None:
                _add_device(doc, value)
            else:
                _merge(_devices(doc)[entry[1]], schema.device_to_plain(old, with_tunnels=False),
                       schema.device_to_plain(value, with_tunnels=False), schema.DEVICE_DEFAULTS)
    for entry, value in changes.items():
        if entry[0] in ("tunnel", "app") and entry[1] not in removed:
            old_device = theirs.device(entry[1])
            if entry[0] == "tunnel":
                old = next((t for t in old_device.tunnels if t.name == entry[2]), None) if old_device else None
                plain, defaults = schema.tunnel_to_plain, schema.TUNNEL_DEFAULTS
            else:
                old = next((a for a in old_device.apps if a.name == entry[2]), None) if old_device else None
                plain, defaults = app_schema.app_to_plain, app_schema.APP_DEFAULTS
            _change_child(doc, _devices(doc)[entry[1]], entry[0] + "s", entry[2], old, value, plain, defaults)
    for entry, value in changes.items():
        if entry[0] == "setting":
            table = _settings(doc)
            old_plain = {entry[1]: schema.setting_to_plain(getattr(theirs.settings, entry[1]))}
            _merge(table, old_plain, {entry[1]: schema.setting_to_plain(value)}, schema.SETTING_DEFAULTS)
        elif entry[0] == "key":
            settings = _settings(doc)
            if "keys" not in settings:
                _append_child(settings, "keys", tomlkit.table())
            keys = settings["keys"]
            if value is ABSENT:
                if entry[1] in keys:
                    del keys[entry[1]]
            elif entry[1] in keys:
                keys[entry[1]] = value
            else:
                _insert_value(keys, entry[1], value)


def _devices(doc: TOMLDocument) -> Any:
    if "devices" not in doc:
        doc.append("devices", tomlkit.table(is_super_table=True))
    return doc["devices"]


def _settings(doc: TOMLDocument) -> Any:
    if "settings" not in doc:
        table = tomlkit.table()
        table.append(None, tomlkit.nl())
        first_table = next((i for i, (k, v) in enumerate(doc.body) if isinstance(v, (Table, AoT))), None)
        if first_table is None:
            doc.append("settings", table)
        else:
            doc._insert_at(first_table, "settings", table)  # above the devices, where people look
    return doc["settings"]


def _add_device(doc: TOMLDocument, profile: DeviceProfile) -> None:
    table = tomlkit.table()
    _merge(table, None, schema.device_to_plain(profile, with_tunnels=False), schema.DEVICE_DEFAULTS)
    devices = _devices(doc)
    fragments = [v for k, v in doc.body if k is not None and k.key == "devices" and isinstance(v, Table)]
    if len(fragments) > 1:  # [devices.x] tables on both sides of another table: add to the last group
        devices = fragments[-1]
    _ensure_final_newline(doc)
    if doc.as_string().strip() and not doc.as_string().endswith("\n\n"):
        table.trivia.indent = "\n"
    devices[profile.name] = table


def _change_child(
    doc: TOMLDocument, device: Any, key: str, name: str, old: Any, new: Any,
    to_plain: Callable[[Any], dict[str, Any]], defaults: Mapping[str, Any],
) -> None:
    """Add, change or remove the entry ``name`` of a device's array of tables ``key`` (tunnels, apps)."""
    tunnels = device.get(key) if key in device else None
    index = None
    if tunnels is not None:
        index = next((i for i, t in enumerate(tunnels) if t.get("name") == name), None)
    if new is ABSENT:
        if index is None:
            return
        _drop_leading_comments(doc, tunnels[index])
        if len(tunnels) == 1:
            _delete_keeping_trailer(device, key)
        else:
            _delete_aot_element(tunnels, index)
        return
    new_plain = to_plain(new)
    if index is not None:
        old_plain = to_plain(old) if old is not None else None
        _merge(tunnels[index], old_plain, new_plain, defaults)
        return
    if tunnels is None or isinstance(tunnels, AoT):
        table = tomlkit.table()
        _merge(table, None, new_plain, defaults)
        if tunnels is None:
            aot = tomlkit.aot()
            aot.append(table)
            _append_child(device, key, aot)
        else:
            trailer = _pop_trailer(tunnels)
            _ensure_ends_in_newline(tunnels[-1].value.body)
            previous_text = tunnels[-1].as_string()
            tunnels.append(table)
            table.trivia.indent = "" if previous_text.endswith("\n\n") else "\n"
            _attach_trailer(table, trailer)
    else:  # an inline array of inline tables, as some people write it
        inline = tomlkit.inline_table()
        _merge(inline, None, new_plain, defaults)
        tunnels.append(inline)


def _append_child(parent: Any, key: str, child: Table | AoT) -> None:
    """Add a sub-table after ``parent``'s text; comments that ended ``parent`` move after it."""
    trailer = _pop_trailer(parent)
    _end_with_blank_line(parent)
    parent.append(key, child)
    _attach_trailer(child, trailer)


def _attach_trailer(item: Table | AoT, trailer: str) -> None:
    if not trailer:
        return
    last = item.body[-1] if isinstance(item, AoT) else item
    last.append(None, Whitespace("\n" + _without_leading_blank_lines(trailer)))


def _without_leading_blank_lines(text: str) -> str:
    return re.sub(r"\A(?:[ \t]*\n)+", "", text)


def _merge(table: Any, old: Mapping[str, Any] | None, new: Mapping[str, Any], defaults: Mapping[str, Any]) -> None:
    order = list(new)
    for key, value in new.items():
        present = key in table
        if value is None:
            if present:
                del table[key]
        elif present:
            if old is None or old.get(key) != value:
                table[key] = _value(value)
        elif value != defaults.get(key):
            before = next((k for k in reversed(order[: order.index(key)]) if k in table), None)
            _insert_value(table, key, value, after=before)


def _value(value: Any) -> Item:
    if isinstance(value, str) and "\n" in value:  # a start script: keep it readable in the file
        return tomlkit.string(value, multiline=True)
    if isinstance(value, dict):
        inline = tomlkit.inline_table()
        for key, item in value.items():
            inline[key] = _value(item)
        return inline
    return tomlkit.item(value)


def _insert_value(table: Any, key: str, value: Any, *, after: str | None = None) -> None:
    """Add ``key`` after the value ``after`` (default: after the table's last plain value)."""
    if isinstance(table, InlineTable) or not isinstance(table, Table):
        table[key] = _value(value)
        return
    body = table.value.body
    values = [i for i, (k, v) in enumerate(body) if k is not None and not isinstance(v, (Table, AoT))]
    last = max(values, default=-1)
    if after is not None:
        last = next((i for i in values if body[i][0].key == after), last)
    if last + 1 >= len(body):
        _ensure_ends_in_newline(body)
        table.append(key, _value(value))
    else:
        table.value._insert_at(last + 1, key, _value(value))


def _ensure_ends_in_newline(body: list[tuple[Any, Item]]) -> None:
    for key, item in reversed(body):
        if isinstance(item, Null):
            continue
        if key is not None and not isinstance(item, (Table, AoT)) and "\n" not in item.trivia.trail:
            item.trivia.trail += "\n"
        return


def _delete_keeping_trailer(parent: Any, key: str) -> None:
    """Remove ``parent[key]``; comments at its end stay where it was (they introduce what follows)."""
    container = parent.value if isinstance(parent, Table) else parent
    trailer = _pop_trailer(parent[key]) if isinstance(container, Container) else ""
    slots = [i for i, (k, _) in enumerate(container.body) if k is not None and k.key == key] if isinstance(container, Container) else []
    del parent[key]
    trailer = _without_leading_blank_lines(trailer)
    if trailer and slots:
        container.body[slots[-1]] = (None, Whitespace(trailer))


def _drop_leading_comments(doc: TOMLDocument, target: Any) -> None:
    """Remove the comment lines written directly above ``target``'s header (no blank line between).

    By convention such a comment describes the table below it, so it goes when the table goes;
    a comment separated by a blank line is left alone.
    """
    if not isinstance(target, Table):
        return
    seen: list[tuple[list[Any], int, Any]] = []
    for body, index, item in _in_render_order(doc.body):
        if item is target:
            break
        seen.append((body, index, item))
    else:
        return
    for body, index, item in reversed(seen):
        if isinstance(item, (Null, AoT)) or (isinstance(item, Table) and item.is_super_table()):
            continue  # renders no text of its own
        if isinstance(item, Table) or body[index][0] is not None or not isinstance(item, Comment):
            return  # a header, a value or a blank line ends the comment block
        body[index] = (None, Null())


def _in_render_order(body: list[tuple[Any, Item]]) -> Any:
    """Every (body, index, item) of a document, in the order its text is rendered."""
    for index, (_, item) in enumerate(body):
        yield body, index, item
        if isinstance(item, Table):
            yield from _in_render_order(item.value.body)
        elif isinstance(item, AoT):
            for table in item.body:
                yield [], -1, table  # an array's tables are not (key, item) pairs; never edited here
                yield from _in_render_order(table.value.body)


def _delete_aot_element(tunnels: Any, index: int) -> None:
    trailer = _pop_trailer(tunnels[index])
    del tunnels[index]
    trailer = _without_leading_blank_lines(trailer)
    if not trailer:
        return
    if index < len(tunnels):
        following = tunnels[index]
        following.trivia.indent = trailer + following.trivia.indent.lstrip("\n")
    else:
        tunnels[index - 1].append(None, Whitespace(trailer))


def _pop_trailer(item: Any) -> str:
    """Cut the trailing blank lines and comments off ``item`` (a table or array of tables)."""
    if isinstance(item, AoT):
        return _pop_trailer(item.body[-1]) if item.body else ""
    if not isinstance(item, Table):
        return ""
    body = item.value.body
    last = len(body) - 1
    while last >= 0 and isinstance(body[last][1], Null):
        last -= 1
    if last >= 0 and isinstance(body[last][1], (Table, AoT)):
        return _pop_trailer(body[last][1])
    parts: list[str] = []
    while last >= 0 and body[last][0] is None and isinstance(body[last][1], (Whitespace, Comment, Null)):
        parts.append(body[last][1].as_string())
        body[last] = (None, Null())
        last -= 1
    return "".join(reversed(parts))


def _end_with_blank_line(table: Any) -> None:
    """Make the text of ``table`` end with an empty line before something is appended after it."""
    if isinstance(table, Table) and not table.as_string().endswith("\n\n"):
        _ensure_ends_in_newline(table.value.body)
        if not table.as_string().endswith("\n\n"):
            table.append(None, tomlkit.nl())


def _ensure_final_newline(doc: TOMLDocument) -> None:
    if doc.as_string() and not doc.as_string().endswith("\n"):
        target: Any = doc
        while True:
            body = target.body if isinstance(target, Container) else target.value.body
            items = [v for k, v in body if not isinstance(v, Null)]
            last = items[-1] if items else None
            if isinstance(last, AoT):
                target = last.body[-1]
            elif isinstance(last, Table):
                target = last
            else:
                break
        target.append(None, tomlkit.nl())
