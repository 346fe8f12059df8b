"""OpenSSH config interop: import ``Host`` blocks as profiles, export profiles as a config to Include.

Importing reads the user's ``~/.ssh/config`` and NVIDIA Sync's own ``ssh_config`` through
asyncssh's config parser (so ``Match``, ``Include``, ``%h`` tokens and first-value-wins behave as
in OpenSSH). Only concrete aliases are imported; wildcard ``Host`` patterns only contribute
defaults to them. Exporting never edits ``~/.ssh/config``: it writes a separate file the user can
``Include``.
"""

from __future__ import annotations

import getpass
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

import asyncssh
from asyncssh.config import SSHClientConfig

from spark_tui.core.errors import ConfigError, ConnectError
from spark_tui.core.models import DeviceProfile

SYNC_TAG = "nvidia-sync"


def default_sources() -> list[Path]:
    """``~/.ssh/config`` and NVIDIA Sync's ssh config for this OS, those that exist."""
    home = Path.home()
    candidates = [home / ".ssh" / "config", home / ".config" / "NVIDIA" / "Sync" / "config" / "ssh_config"]
    if sys.platform == "darwin":
        candidates.append(home / "Library" / "Application Support" / "NVIDIA" / "Sync" / "config" / "ssh_config")
    return [path for path in candidates if path.is_file()]


def is_sync_config(path: Path) -> bool:
    """True for NVIDIA Sync's own ssh config file."""
    return "NVIDIA" in path.parts and path.name == "ssh_config"


def host_aliases(path: Path) -> list[str]:
    """Concrete aliases named on ``Host`` lines, in file order (wildcards and negations skipped).

    Only lists names: every option value comes from asyncssh's parser (``imported_profile``).

    Raises:
        ConfigError: the file cannot be read.
    """
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as error:
        raise ConfigError(str(path), f"cannot read: {error.strerror}", hint="check the path and its permissions") from None
    found: list[str] = []
    for line in text.splitlines():
        words = line.strip().replace("=", " ", 1).split(None, 1)
        if len(words) < 2 or words[0].lower() != "host":
            continue
        try:
            patterns = shlex.split(words[1], comments=True)
        except ValueError:
            continue
        for pattern in patterns:
            if not any(c in pattern for c in "*?!") and pattern not in found:
                found.append(pattern)
    return found


def imported_profile(path: Path, alias: str) -> DeviceProfile:
    """The profile OpenSSH would use for ``ssh alias`` with this config file.

    Raises:
        ConfigError: asyncssh cannot parse the file (message names the line).
    """
    try:
        config = SSHClientConfig.load(None, [path], False, False, False, getpass.getuser(), (), alias, ())
    except asyncssh.ConfigParseError as error:
        raise ConfigError(str(path), str(error), hint="fix the file, or import from another with --from") from None
    identities = config.get("IdentityFile") or []
    jump = config.get("ProxyJump")
    if isinstance(jump, str) and jump.lower() == "none":
        jump = None
    port = config.get("Port")
    return DeviceProfile(
        name=alias,
        host=str(config.get("Hostname") or alias),
        user=config.get("User") or None,
        port=int(port) if port else 22,
        identity_file=str(identities[0]) if identities else None,
        jump_host=str(jump) if jump else None,
        tags=(SYNC_TAG,) if is_sync_config(path) else (),
    )


@dataclass(frozen=True)
class ExportSettings:
    """What every exported block shares.

    Attributes:
        known_hosts: Our known_hosts file, so OpenSSH checks the keys spark-tui trusted.
    """

    known_hosts: Path


def _value(text: str) -> str:
    """An option value as OpenSSH reads it: double-quoted when it holds spaces."""
    return f'"{text}"' if any(c.isspace() for c in text) else text


def render_config(profiles: list[DeviceProfile], settings: ExportSettings, *, include_demo: bool = False) -> str:
    """An OpenSSH client config with one ``Host`` block per profile.

    Demo devices are left out unless ``include_demo`` (their port changes every run, so they
    have no place in a file a user ``Include``s; the dashboard's own terminal file is rewritten
    each time it is used).

    A ``jump_host`` naming another profile works because that profile's block is in the same
    file; ``user@host:port`` jumps pass through unchanged.
    """
    lines = [
        "# Written by spark-tui from its profiles. Do not edit: run `spark-tui ssh-config -o FILE` again.",
        "# Use it from ~/.ssh/config with:  Include " + _value("<this file>"),
        "",
    ]
    for profile in profiles:
        if profile.demo and not include_demo:
            continue
        lines.append(f"Host {profile.name}")
        lines.append(f"    HostName {profile.host}")
        if profile.user:
            lines.append(f"    User {_value(profile.user)}")
        lines.append(f"    Port {profile.port}")
        if profile.identity_file:
            lines.append(f"    IdentityFile {_value(profile.identity_file)}")
            lines.append("    IdentitiesOnly yes")
        if profile.jump_host:
            lines.append(f"    ProxyJump {profile.jump_host}")
        lines.append(f"    UserKnownHostsFile {_value(str(settings.known_hosts))}")
        lines.append("    StrictHostKeyChecking yes")
        lines.append("")
    return "\n".join(lines)


def parse_jump(jump: str) -> DeviceProfile:
    """A ``[user@]host[:port]`` jump host as an ad-hoc profile named ``jump:<text>``.

    Raises:
        ConnectError: kind ``other`` when the port is not a number.
    """
    user, _, hostport = jump.rpartition("@")
    host, port = hostport, 22
    if hostport.startswith("["):  # [v6addr]:port
        host, _, rest = hostport[1:].partition("]")
        port_text = rest.lstrip(":")
    elif hostport.count(":") == 1:
        host, port_text = hostport.split(":")
    else:
        port_text = ""
    if port_text:
        if not port_text.isdigit():
            raise ConnectError("other", f"jump host {jump!r} has a bad port", "write it as user@host:port")
        port = int(port_text)
    return DeviceProfile(name=f"jump:{jump}", host=host, user=user or None, port=port)
