"""What a valid profile file holds: plain TOML data in, ``core.models.Config`` out.

The schema, by table (defaults in brackets; a default is not written back to the file):

``[settings]``
    ``theme`` (str ["spark-dark"]), ``telemetry_interval`` (number of seconds, 0.1-3600 [1.0]),
    ``discovery_interfaces`` (list of IP addresses, [] = all), ``discovery_types`` (list of
    DNS-SD types such as ``"_ssh._tcp.local."``), ``discovery_sweep`` (bool [true]: also find
    hosts that advertise no service by asking the local IPv4 subnets of the discovery
    interfaces, up to a /24 each, for their names), ``log_level`` (DEBUG, INFO, WARNING, ERROR,
    CRITICAL ["INFO"]).
``[settings.keys]``
    binding id -> key(s) as Textual writes them (``connect = "enter"``, ``quit = "ctrl+q,q"``).
``[devices.NAME]``
    ``host`` (required), ``user``, ``port`` [22], ``identity_file`` (one key) or
    ``identity_files`` (list of keys tried in order; not both), ``jump_host`` (one hop or a
    chain ``"a,b"``), ``proxy_command`` (an OpenSSH ProxyCommand), ``tags`` (list of str),
    ``ports`` (``{ allow = ["8000-9000"], deny = ["22"] }``), ``demo`` (bool [false]).
``[[devices.NAME.tunnels]]``
    ``name`` and ``remote_port`` (required; a ``dynamic`` SOCKS tunnel may give only
    ``local_port``, its remote port is then 0), ``local_port`` [= remote_port], ``remote_host``
    ["localhost"], ``bind_address`` ["127.0.0.1"], ``kind`` (local | remote | dynamic [local]),
    ``auto_start`` [false], ``browser_path`` (starts with "/").
``[[devices.NAME.apps]]``
    see :mod:`spark_tui.config.app_schema` (``name``, ``port``, ``start_script`` ...).

Unknown keys are errors, not warnings: a misspelt ``idenity_file`` silently ignored would
connect with the wrong key, so the error names the key and suggests the closest known one.
Problems are raised as :class:`SchemaProblem` with the path of the offending field; the store
turns that into a ``ConfigError`` carrying the file, the line and the dotted field name.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from spark_tui.config.fields import (
    BINDING_RE,
    CONTROL_RE,
    HOST_RE,
    JUMP_RE,
    NAME_RE,
    SERVICE_TYPE_RE,
    SchemaProblem,
    TAG_RE,
    THEME_RE,
    TUNNEL_NAME_RE,
    USER_RE,
    Where,
    array,
    boolean,
    describe,
    did_you_mean,
    file_path,
    ip_address,
    local_address,
    matching,
    no_unknown_keys,
    optional,
    port_number,
    port_rules,
    string,
    table_of,
)
from spark_tui.config.app_schema import app_to_plain, parse_app
from spark_tui.core.models import LOOPBACK, Config, DeviceProfile, PortRules, Settings, TunnelKind, TunnelSpec

DEVICE_KEYS = (
    "host", "user", "port", "identity_file", "identity_files", "jump_host", "proxy_command", "tags", "ports", "demo", "tunnels",
    "apps",
)
TUNNEL_KEYS = ("name", "remote_port", "local_port", "remote_host", "bind_address", "kind", "auto_start", "browser_path")
SETTING_KEYS = ("theme", "telemetry_interval", "discovery_interfaces", "discovery_types", "discovery_sweep", "log_level")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")

# --- file -> model ---------------------------------------------------------------------------


def parse_config(data: Mapping[str, Any]) -> Config:
    """Validate the plain data of a whole profile file.

    Args:
        data: What ``tomllib`` returned for the file.

    Returns:
        The profiles and settings.

    Raises:
        SchemaProblem: The first invalid value, in file order.
    """
    no_unknown_keys(data, ("settings", "devices"), ())
    settings = parse_settings(table_of(data.get("settings", {}), ("settings",)))
    devices_data = table_of(data.get("devices", {}), ("devices",))
    devices = tuple(parse_device(name, table_of(value, ("devices", name))) for name, value in devices_data.items())
    return Config(devices=devices, settings=settings)


def parse_settings(data: Mapping[str, Any]) -> Settings:
    """Validate the ``[settings]`` table.

    Raises:
        SchemaProblem: An unknown key or an invalid value.
    """
    no_unknown_keys(data, (*SETTING_KEYS, "keys"), ("settings",))
    values = {key: parse_setting(key, data[key]) for key in SETTING_KEYS if key in data}
    keys_data = table_of(data.get("keys", {}), ("settings", "keys"))
    keys = {}
    for binding, value in keys_data.items():
        keys[binding] = parse_binding(binding, value)
    return Settings(keys=keys, **values)


def parse_setting(key: str, value: Any) -> Any:
    """Validate one setting's value and return it as the model holds it.

    Args:
        key: One of ``SETTING_KEYS``.
        value: Plain value (from the file, or from code calling ``set_setting``).

    Raises:
        SchemaProblem: Unknown setting or invalid value.
    """
    where: Where = ("settings", key)
    if key == "theme":
        return matching(value, where, THEME_RE, "a theme name such as \"spark-dark\"")
    if key == "telemetry_interval":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise SchemaProblem(where, f"must be a number of seconds, got {describe(value)}", "e.g. telemetry_interval = 1.0")
        if not math.isfinite(value) or not 0.1 <= value <= 3600:
            raise SchemaProblem(where, f"must be between 0.1 and 3600 seconds, got {value!r}", "e.g. telemetry_interval = 1.0")
        return float(value)
    if key == "discovery_interfaces":
        return tuple(ip_address(item, (*where, i)) for i, item in enumerate(array(value, where)))
    if key == "discovery_types":
        return tuple(
            matching(item, (*where, i), SERVICE_TYPE_RE, 'a DNS-SD type such as "_ssh._tcp.local."')
            for i, item in enumerate(array(value, where))
        )
    if key == "discovery_sweep":
        return boolean(value, where)
    if key == "log_level":
        text = string(value, where)
        if text.upper() not in LOG_LEVELS:
            raise SchemaProblem(where, f"unknown log level {text!r}", "use one of " + ", ".join(LOG_LEVELS))
        return text.upper()
    raise SchemaProblem(where, f"unknown setting {key!r}", did_you_mean(key, SETTING_KEYS))


def parse_binding(binding: str, value: Any) -> str:
    """Validate one ``[settings.keys]`` entry (binding id -> keys).

    Raises:
        SchemaProblem: Invalid binding id or key list.
    """
    where: Where = ("settings", "keys", check_binding_id(binding))
    text = string(value, where)
    parts = [part.strip() for part in text.split(",")]
    if not text.strip() or any(not part or " " in part or CONTROL_RE.search(part) for part in parts):
        raise SchemaProblem(where, f"invalid key list {text!r}", 'write keys like "enter" or "ctrl+q,q"')
    return text


def check_binding_id(binding: Any) -> str:
    """Check a binding id (the ``id`` of a Textual ``Binding``).

    Raises:
        SchemaProblem: Not a usable id.
    """
    if not isinstance(binding, str) or not BINDING_RE.fullmatch(binding):
        raise SchemaProblem(("settings", "keys", str(binding)), f"invalid binding id {binding!r}", "binding ids look like connect or tunnel.open")
    return binding


def parse_device(name: str, data: Mapping[str, Any]) -> DeviceProfile:
    """Validate one ``[devices.NAME]`` table.

    Raises:
        SchemaProblem: Invalid name, unknown key or invalid value.
    """
    where: Where = ("devices", name)
    check_name(name, where)
    no_unknown_keys(data, DEVICE_KEYS, where)
    if "host" not in data:
        raise SchemaProblem(where, "missing host", f'add host = "{name}.local" (or the address) under [devices.{name}]')
    tunnels_data = array(data.get("tunnels", []), (*where, "tunnels"))
    tunnels = []
    seen: set[str] = set()
    for i, item in enumerate(tunnels_data):
        spec = parse_tunnel(table_of(item, (*where, "tunnels", i)), (*where, "tunnels", i))
        if spec.name in seen:
            raise SchemaProblem((*where, "tunnels", i, "name"), f"a second tunnel is named {spec.name!r}", "tunnel names must differ within a device")
        seen.add(spec.name)
        tunnels.append(spec)
    apps = []
    for i, item in enumerate(array(data.get("apps", []), (*where, "apps"))):
        app = parse_app(table_of(item, (*where, "apps", i)), (*where, "apps", i))
        if any(a.name == app.name for a in apps):
            raise SchemaProblem((*where, "apps", i, "name"), f"a second app is named {app.name!r}", "app names must differ within a device")
        apps.append(app)
    tags = tuple(matching(t, (*where, "tags", i), TAG_RE, "a tag such as \"lab\"") for i, t in enumerate(array(data.get("tags", []), (*where, "tags"))))
    duplicate = next((t for i, t in enumerate(tags) if t in tags[:i]), None)
    if duplicate is not None:
        raise SchemaProblem((*where, "tags"), f"tag {duplicate!r} is listed twice", "list each tag once")
    identities = _identity_files(data, where)
    return DeviceProfile(
        name=name,
        host=matching(data["host"], (*where, "host"), HOST_RE, "a host name or address such as spark-1a2b.local"),
        user=optional(data, "user", where, lambda v, w: matching(v, w, USER_RE, "a login name")),
        port=port_number(data.get("port", 22), (*where, "port")),
        identity_file=identities[0] if identities else None,
        jump_host=optional(data, "jump_host", where, _jump_chain),
        tags=tags,
        tunnels=tuple(tunnels),
        ports=port_rules(data.get("ports", {}), (*where, "ports")),
        demo=boolean(data.get("demo", False), (*where, "demo")),
        extra_identity_files=identities[1:],
        proxy_command=optional(data, "proxy_command", where, _proxy_command),
        apps=tuple(apps),
    )


def _identity_files(data: Mapping[str, Any], where: Where) -> tuple[str, ...]:
    """``identity_file`` (one) or ``identity_files`` (several, in order); never both."""
    if "identity_file" in data and "identity_files" in data:
        raise SchemaProblem((*where, "identity_files"), "both identity_file and identity_files are set", "keep one: identity_files = [\"~/.ssh/a\", \"~/.ssh/b\"]")
    if "identity_files" in data:
        items = array(data["identity_files"], (*where, "identity_files"))
        files = tuple(file_path(item, (*where, "identity_files", i)) for i, item in enumerate(items))
        if not files:
            raise SchemaProblem((*where, "identity_files"), "is empty", "remove it to use ssh-agent and the default keys")
        return files
    single = optional(data, "identity_file", where, file_path)
    return (single,) if single else ()


def _jump_chain(value: Any, where: Where) -> str:
    """One jump hop or a comma-separated chain, each ``[user@]host[:port]`` or a device name."""
    text = matching(value, where, JUMP_RE, "user@host:port, a device name, or a chain a,b")
    if any(not hop for hop in text.split(",")):
        raise SchemaProblem(where, f"empty hop in jump chain {text!r}", "write hops as a,b with nothing empty")
    return text


def _proxy_command(value: Any, where: Where) -> str:
    text = string(value, where)
    if not text.strip() or len(text) > 4096 or CONTROL_RE.search(text):
        raise SchemaProblem(where, "invalid proxy command", 'e.g. "nc %h %p"')
    return text


def parse_tunnel(data: Mapping[str, Any], where: Where) -> TunnelSpec:
    """Validate one ``[[devices.NAME.tunnels]]`` entry.

    Raises:
        SchemaProblem: Unknown key or invalid value.
    """
    no_unknown_keys(data, TUNNEL_KEYS, where)
    kind_text = string(data.get("kind", "local"), (*where, "kind"))
    try:
        kind = TunnelKind(kind_text)
    except ValueError:
        raise SchemaProblem((*where, "kind"), f"unknown tunnel kind {kind_text!r}", "use local, remote or dynamic") from None
    if "name" not in data:
        raise SchemaProblem(where, "tunnel is missing name", 'a tunnel needs at least name = "..." and remote_port = N')
    # A dynamic (SOCKS) tunnel has no remote port (0 in the model); its port is local_port.
    if kind is TunnelKind.DYNAMIC and "local_port" not in data and "remote_port" not in data:
        raise SchemaProblem(where, "dynamic tunnel is missing local_port", "give the SOCKS port: local_port = 1080")
    if kind is not TunnelKind.DYNAMIC and "remote_port" not in data:
        raise SchemaProblem(where, "tunnel is missing remote_port", 'a tunnel needs at least name = "..." and remote_port = N')
    browser_path = optional(data, "browser_path", where, string)
    if browser_path is not None and (not browser_path.startswith("/") or CONTROL_RE.search(browser_path) or " " in browser_path or len(browser_path) > 2048):
        raise SchemaProblem((*where, "browser_path"), f"invalid browser path {browser_path!r}", 'a URL path starting with "/", e.g. "/lab"')
    return TunnelSpec(
        name=matching(data["name"], (*where, "name"), TUNNEL_NAME_RE, 'a short name such as "dashboard"'),
        remote_port=port_number(data["remote_port"], (*where, "remote_port")) if "remote_port" in data else 0,
        local_port=optional(data, "local_port", where, port_number),
        remote_host=matching(data.get("remote_host", "localhost"), (*where, "remote_host"), HOST_RE, "a host name, usually localhost"),
        bind_address=local_address(data.get("bind_address", LOOPBACK), (*where, "bind_address")),
        kind=kind,
        auto_start=boolean(data.get("auto_start", False), (*where, "auto_start")),
        browser_path=browser_path,
    )


def check_name(name: Any, where: Where) -> str:
    """Check a device name: letters, digits, ``.``, ``_``, ``-``; starts with a letter or digit.

    Raises:
        SchemaProblem: The name is not usable (also as an ssh alias and inventory name).
    """
    if not isinstance(name, str) or not NAME_RE.fullmatch(name):
        raise SchemaProblem(
            where,
            f"invalid device name {name!r}",
            "use up to 63 letters, digits, '.', '_' or '-', starting with a letter or digit",
        )
    return name


# --- model -> plain --------------------------------------------------------------------------


def device_to_plain(profile: DeviceProfile, *, with_tunnels: bool = True) -> dict[str, Any]:
    """Every field of a profile as plain TOML values (``None`` = absent), in file order."""
    plain: dict[str, Any] = {
        "host": profile.host,
        "user": profile.user,
        "port": profile.port,
        "identity_file": None if profile.extra_identity_files else profile.identity_file,
        "identity_files": list(profile.identity_files) if profile.extra_identity_files else None,
        "jump_host": profile.jump_host,
        "proxy_command": profile.proxy_command,
        "tags": list(profile.tags),
        "ports": rules_to_plain(profile.ports),
        "demo": profile.demo,
    }
    if with_tunnels:
        plain["tunnels"] = [tunnel_to_plain(t) for t in profile.tunnels]
        plain["apps"] = [app_to_plain(a) for a in profile.apps]
    return plain


def tunnel_to_plain(spec: TunnelSpec) -> dict[str, Any]:
    """Every field of a tunnel as plain TOML values (``None`` = absent), in file order."""
    return {
        "name": spec.name,
        "remote_port": None if TunnelKind(spec.kind) is TunnelKind.DYNAMIC and spec.remote_port == 0 else spec.remote_port,
        "local_port": spec.local_port,
        "remote_host": spec.remote_host,
        "bind_address": spec.bind_address,
        "kind": TunnelKind(spec.kind).value,
        "auto_start": spec.auto_start,
        "browser_path": spec.browser_path,
    }


def rules_to_plain(rules: PortRules) -> dict[str, list[str]] | None:
    """Port rules as an inline-table value, ``None`` when there are none."""
    plain = {key: list(values) for key, values in (("allow", rules.allow), ("deny", rules.deny)) if values}
    return plain or None


def setting_to_plain(value: Any) -> Any:
    """A settings value as a TOML value (tuples become arrays)."""
    return list(value) if isinstance(value, tuple) else value


# Values not written for a new entry. Required keys (host, name, remote_port) have none.
DEVICE_DEFAULTS = {k: v for k, v in device_to_plain(DeviceProfile(name="x", host="x"), with_tunnels=False).items() if k != "host"}
TUNNEL_DEFAULTS = {k: v for k, v in tunnel_to_plain(TunnelSpec(name="x", remote_port=1)).items() if k not in ("name", "remote_port")}
SETTING_DEFAULTS = {key: setting_to_plain(getattr(Settings(), key)) for key in SETTING_KEYS}


def check_profile(profile: DeviceProfile) -> DeviceProfile:
    """Validate a profile built in code (CLI, dialogs) by the same rules as the file.

    Returns:
        The profile as the file would give it back (normalised, e.g. ports as strings).

    Raises:
        SchemaProblem: The first invalid field.
    """
    check_name(profile.name, ("devices", profile.name))
    plain = _present(device_to_plain(profile))
    plain["tunnels"] = [_present(t) for t in plain.get("tunnels", [])]
    plain["apps"] = [_present(a) for a in plain.get("apps", [])]
    return parse_device(profile.name, plain)


def check_tunnel(device_name: str, spec: TunnelSpec) -> TunnelSpec:
    """Validate a tunnel built in code.

    Raises:
        SchemaProblem: The first invalid field.
    """
    return parse_tunnel(_present(tunnel_to_plain(spec)), ("devices", device_name, "tunnels", spec.name))


def _present(plain: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in plain.items() if value is not None}


