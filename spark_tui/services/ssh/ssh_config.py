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
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import asyncssh
from asyncssh.config import SSHClientConfig

from spark_tui.core.errors import ConfigError, ConnectError
from spark_tui.core.models import DeviceProfile
from spark_tui.services.ssh.openssh_words import openssh_word

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
    return openssh_word(text, tokens=False)


def jump_hops(profile: DeviceProfile, lookup: Callable[[str], DeviceProfile | None]) -> list[DeviceProfile]:
    """The hops to ``profile``, first dialled first: saved devices by name (with their own jump
    hosts before them), ``[user@]host[:port]`` hops as ad-hoc profiles.

    Raises:
        ConnectError: a hop's port is bad, or the jump hosts loop.
    """
    hops: list[DeviceProfile] = []

    def expand(chain: str, seen: tuple[str, ...]) -> None:
        for text in (hop.strip() for hop in chain.split(",")):
            saved = lookup(text)
            if saved is None:
                # A bare user@host:port hop has no key of its own: offer the target's keys too
                # (after the agent's and the default ones, as IdentitiesOnly is not set for it).
                hop = parse_jump(text)
                hops.append(replace(hop, identity_file=profile.identity_file, extra_identity_files=profile.extra_identity_files))
                continue
            if saved.name in seen:
                raise ConnectError("other", f"jump hosts of {profile.name} loop through {saved.name}", "fix jump_host")
            if saved.jump_host:
                expand(saved.jump_host, (*seen, saved.name))
            hops.append(saved)

    if profile.jump_host:
        expand(profile.jump_host, (profile.name,))
    return hops


def _ssh_options(profile: DeviceProfile, known_hosts: Path) -> list[str]:
    """``-o`` options that make plain ``ssh`` log in to ``profile`` as spark-tui does."""
    options = [
        "-o", f"UserKnownHostsFile={openssh_word(str(known_hosts))}",
        "-o", "StrictHostKeyChecking=yes",
    ]
    for identity in profile.identity_files:
        options += ["-o", f"IdentityFile={openssh_word(identity)}"]
    if profile.identity_files and not profile.name.startswith("jump:"):
        options += ["-o", "IdentitiesOnly=yes"]
    return options


_TARGET = "\0target\0"  # stands for the %h:%p the level above expands


def proxy_command(hops: list[DeviceProfile], known_hosts: Path) -> str:
    """An OpenSSH ``ProxyCommand`` that reaches ``%h:%p`` through ``hops`` (first dialled first).

    Each hop is a plain ``ssh -W`` given the same host-key and key options as the target, so a
    ``user@host:port`` hop is checked against our known_hosts too (``-J`` would not pass ``-o``
    options on to the hops). Earlier hops nest as the hop's own ProxyCommand; ``%`` is doubled
    once per level so every token is expanded by the ssh it is meant for.
    """
    *before, last = hops
    argv = ["ssh", *_ssh_options(last, known_hosts), "-W", _TARGET, "-p", str(last.port)]
    if last.proxy_command and not before:
        argv += ["-o", f"ProxyCommand={last.proxy_command}"]
    if before:
        argv += ["-o", f"ProxyCommand={proxy_command(before, known_hosts)}"]
    if last.user:
        argv += ["-l", last.user]
    argv += ["--", last.host]
    return shlex.join(argv).replace("%", "%%").replace(_TARGET, "%h:%p")


def render_config(profiles: list[DeviceProfile], settings: ExportSettings, *, include_demo: bool = False) -> str:
    """An OpenSSH client config with one ``Host`` block per profile.

    Demo devices are left out unless ``include_demo`` (their port changes every run, so they
    have no place in a file a user ``Include``s; the dashboard's own terminal file is rewritten
    each time it is used).

    A jump chain of saved devices becomes ``ProxyJump`` (their blocks are in the same file); a
    chain with a ``user@host:port`` hop becomes a ``ProxyCommand`` that checks that hop against
    our known_hosts too. ``%`` is escaped and paths are quoted so ``ssh -G`` reads back exactly
    the profile's values.
    """
    names = {p.name: p for p in profiles}
    lines = [
        "# Written by spark-tui from its profiles. Do not edit: run `spark-tui ssh-config -o FILE` again.",
        "# Use it with this line at the TOP of ~/.ssh/config (after it, Host * defaults already matched):",
        "#   Include " + _value("<this file>"),
        "",
    ]
    for profile in profiles:
        if profile.demo and not include_demo:
            continue
        lines.append(f"Host {profile.name}")
        lines.append(f"    HostName {openssh_word(profile.host)}")
        if profile.user:
            lines.append(f"    User {_value(profile.user)}")
        lines.append(f"    Port {profile.port}")
        for identity in profile.identity_files:
            lines.append(f"    IdentityFile {openssh_word(identity)}")
        if profile.identity_files:
            lines.append("    IdentitiesOnly yes")
        if profile.jump_host:
            hops = [hop.strip() for hop in profile.jump_host.split(",")]
            if all(hop in names for hop in hops):
                lines.append(f"    ProxyJump {','.join(hops)}")
            else:
                lines.append(f"    ProxyCommand {proxy_command(jump_hops(profile, names.get), settings.known_hosts)}")
        elif profile.proxy_command:
            lines.append(f"    ProxyCommand {profile.proxy_command}")
        lines.append(f"    UserKnownHostsFile {openssh_word(str(settings.known_hosts))}")
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
