"""The ``[[devices.NAME.apps]]`` entries of a profile file: validation and plain values.

``[[devices.NAME.apps]]``
    ``name`` and ``port`` (required), ``start_script`` (multi-line string run on the device;
    absent = the app is just a tunnel), ``script_file`` (a local file sent as the script at each
    start, instead of ``start_script``), ``browser_path`` ["/"], ``auto_open`` [false],
    ``local_port`` [= port, or the next free one when taken].
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from spark_tui.config.fields import (
    CONTROL_RE,
    TUNNEL_NAME_RE,
    SchemaProblem,
    Where,
    boolean,
    file_path,
    matching,
    no_unknown_keys,
    optional,
    port_number,
    string,
)
from spark_tui.core.apps import AppSpec

APP_KEYS = ("name", "port", "start_script", "script_file", "browser_path", "auto_open", "local_port")
APP_NAME_RE = TUNNEL_NAME_RE
MAX_SCRIPT = 256 * 1024


def browser_path(value: Any, where: Where) -> str:
    """Check a URL path to open in a browser.

    Raises:
        SchemaProblem: Not a path starting with ``/``.
    """
    path = string(value, where)
    if not path.startswith("/") or CONTROL_RE.search(path) or " " in path or len(path) > 2048:
        raise SchemaProblem(where, f"invalid browser path {path!r}", 'a URL path starting with "/", e.g. "/lab"')
    return path


def _script(value: Any, where: Where) -> str:
    text = string(value, where)
    if "\x00" in text or len(text) > MAX_SCRIPT:
        raise SchemaProblem(where, "the start script holds a NUL byte or is longer than 256 KiB", "keep long scripts in a file: script_file = \"...\"")
    return text


def parse_app(data: Mapping[str, Any], where: Where) -> AppSpec:
    """Validate one ``[[devices.NAME.apps]]`` entry.

    Raises:
        SchemaProblem: Unknown key, missing name/port or invalid value.
    """
    no_unknown_keys(data, APP_KEYS, where)
    if "name" not in data or "port" not in data:
        raise SchemaProblem(where, "app is missing name or port", 'an app needs at least name = "..." and port = N')
    spec = AppSpec(
        name=matching(data["name"], (*where, "name"), APP_NAME_RE, 'a short name such as "open-webui"'),
        port=port_number(data["port"], (*where, "port")),
        start_script=optional(data, "start_script", where, _script),
        script_file=optional(data, "script_file", where, file_path),
        browser_path=browser_path(data.get("browser_path", "/"), (*where, "browser_path")),
        auto_open=boolean(data.get("auto_open", False), (*where, "auto_open")),
        local_port=optional(data, "local_port", where, port_number),
    )
    if spec.start_script is not None and spec.script_file is not None:
        raise SchemaProblem((*where, "script_file"), "an app has both start_script and script_file", "keep one of them")
    return spec


def app_to_plain(spec: AppSpec) -> dict[str, Any]:
    """Every field of an app as plain TOML values (``None`` = absent), in file order."""
    return {
        "name": spec.name,
        "port": spec.port,
        "start_script": spec.start_script,
        "script_file": spec.script_file,
        "browser_path": spec.browser_path,
        "auto_open": spec.auto_open,
        "local_port": spec.local_port,
    }


APP_DEFAULTS = {k: v for k, v in app_to_plain(AppSpec(name="x", port=1)).items() if k not in ("name", "port")}


def check_app(device_name: str, spec: AppSpec) -> AppSpec:
    """Validate an app built in code (CLI, dialogs) by the same rules as the file.

    Raises:
        SchemaProblem: The first invalid field.
    """
    plain = {key: value for key, value in app_to_plain(spec).items() if value is not None}
    return parse_app(plain, ("devices", device_name, "apps", spec.name))
