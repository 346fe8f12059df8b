"""``spark-tui device list | add | remove | trust``: saved devices from the command line.

``device list`` prints a table (NAME HOST USER PORT TAGS TUNNELS). ``device list --json``
prints a JSON array, one object per device in file order. This format is a contract for
scripts; fields are only ever added, never renamed or removed::

    [
      {
        "name": "spark-1a2b",            // the profile name
        "host": "spark-1a2b.local",
        "user": "me",                    // null: the local user name is used
        "port": 22,
        "identity_file": "~/.ssh/id",    // null: ssh-agent / default keys; "~" is not expanded
        "identity_files": ["~/.ssh/id"], // every key tried, in order (identity_file is the first)
        "jump_host": null,               // null, "user@host:port" / another device's name, or a chain "a,b"
        "proxy_command": null,           // null or an OpenSSH ProxyCommand
        "tags": ["lab"],
        "tunnels": [
          {
            "name": "dashboard",
            "remote_port": 11000,
            "local_port": 11000,         // always a number: the port bound on this computer
            "remote_host": "localhost",
            "bind_address": "127.0.0.1",
            "kind": "local",             // "local" | "remote" | "dynamic"
            "auto_start": true,
            "browser_path": "/"          // null: not a web app
          }
        ]
      }
    ]
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

from spark_tui.core.errors import DeviceNotFound, SparkError
from spark_tui.core.models import DeviceProfile, TunnelKind, TunnelSpec

COLUMNS = ("NAME", "HOST", "USER", "PORT", "TAGS", "TUNNELS")


def list_devices(args: argparse.Namespace, ctx: Any) -> int:
    """Print the saved devices as a table, or as JSON with ``--json``.

    Raises:
        ConfigError: The profile file is invalid.
    """
    config = ctx.store().load()
    if getattr(args, "json", False):
        json.dump([device_as_json(d) for d in config.devices], ctx.stdout, indent=2)
        ctx.stdout.write("\n")
        return 0
    if not config.devices:
        print(f"No saved devices in {ctx.config_path}.", file=ctx.stdout)
        print("Add one with: spark-tui device add NAME --host HOST", file=ctx.stdout)
        return 0
    rows = [COLUMNS] + [
        (d.name, d.host, d.user or "-", str(d.port), ",".join(d.tags) or "-", ",".join(t.name for t in d.tunnels) or "-")
        for d in config.devices
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip(), file=ctx.stdout)
    return 0


def add_device(args: argparse.Namespace, ctx: Any) -> int:
    """Save a device from the command line, or hand over to key setup with ``--setup-key``.

    Raises:
        InvalidProfile: A given value breaks the profile rules.
        DeviceExists: The name is taken.
        SparkError: The identity file does not exist.
        ConfigError: The profile file is invalid or cannot be written.
    """
    if getattr(args, "setup_key", False):
        from spark_tui.commands import onboarding

        return onboarding.setup_key(args, ctx)
    if getattr(args, "trust", None):
        print("spark-tui device add: error: --trust only applies with --setup-key", file=ctx.stderr)
        return 2
    identity = _identity_file(args.identity) if args.identity else None
    profile = DeviceProfile(
        name=args.name,
        host=args.host,
        user=args.user or None,
        port=args.port,
        identity_file=identity,
        jump_host=args.jump or None,
        tags=tuple(args.tag or ()),
    )
    ctx.store().add_device(profile)
    login = f"{profile.user}@{profile.host}" if profile.user else profile.host
    print(f"saved {profile.name} ({login}:{profile.port}) in {ctx.config_path}", file=ctx.stdout)
    return 0


def remove_device(args: argparse.Namespace, ctx: Any) -> int:
    """Forget a saved device; with ``--revoke`` first remove our key from the device.

    Raises:
        DeviceNotFound: No device of that name is saved.
        ConfigConflict: The device was edited in the file while revoking.
        ConfigError: The profile file is invalid or cannot be written.
    """
    store = ctx.store()
    config = store.load()
    profile = config.device(args.name)
    if profile is None:
        names = ", ".join(d.name for d in config.devices) or "none yet"
        raise DeviceNotFound(f"no saved device named {args.name!r}", f"saved devices: {names}")
    if getattr(args, "revoke", False):
        from spark_tui.commands import onboarding

        code = onboarding.revoke(args, ctx, profile)
        if code:
            return code
    store.remove_device(args.name)
    print(f"removed {args.name} from {ctx.config_path}", file=ctx.stdout)
    return 0


def device_as_json(profile: DeviceProfile) -> dict[str, Any]:
    """One device in the ``device list --json`` format (see the module docstring)."""
    return {
        "name": profile.name,
        "host": profile.host,
        "user": profile.user,
        "port": profile.port,
        "identity_file": profile.identity_file,
        "identity_files": list(profile.identity_files),
        "jump_host": profile.jump_host,
        "proxy_command": profile.proxy_command,
        "tags": list(profile.tags),
        "tunnels": [_tunnel_as_json(t) for t in profile.tunnels],
    }


def _tunnel_as_json(spec: TunnelSpec) -> dict[str, Any]:
    return {
        "name": spec.name,
        "remote_port": spec.remote_port,
        "local_port": spec.effective_local_port,
        "remote_host": spec.remote_host,
        "bind_address": spec.bind_address,
        "kind": TunnelKind(spec.kind).value,
        "auto_start": spec.auto_start,
        "browser_path": spec.browser_path,
    }


def _identity_file(value: str) -> str:
    """Keep ``~/...`` as typed (portable), make other relative paths absolute, require the file."""
    path = Path(value).expanduser()
    if not path.is_file():
        raise SparkError(f"identity file {value} does not exist", "give the path of a private key, e.g. ~/.ssh/id_ed25519")
    return value if value.startswith("~") else os.path.abspath(value)


def trust_device(args: argparse.Namespace, ctx: Any) -> int:
    """``spark-tui device trust NAME [--fingerprint SHA256:...]``: review and trust the host key.

    Asks the device for its host key (no login), shows it as OpenSSH does and stores it in our
    known_hosts after a ``yes`` on the terminal, or when it has the ``--fingerprint`` given.

    Raises:
        DeviceNotFound: No device of that name is saved.
        HostKeyChanged: A different key is already trusted for the device.
        ConnectError: The key was refused, is revoked, or the device cannot be reached.
    """
    import asyncio

    from spark_tui.commands.host_trust import confirm_host_key, key_kind
    from spark_tui.services.ssh import ConnectionService, trust_device as fetch_and_trust

    config = ctx.store().load()
    profile = config.device(args.name)
    if profile is None:
        raise DeviceNotFound(f"no saved device named {args.name!r}", "see: spark-tui device list")
    confirm = confirm_host_key(ctx, trust=args.fingerprint, device=profile.name, flag="--fingerprint")

    async def run():
        service = ConnectionService(profiles=config.device, confirm_host_key=confirm)
        try:
            return await fetch_and_trust(service, profile, confirm)
        finally:
            await service.close()

    outcome = asyncio.run(run())
    kind = key_kind(outcome.key_type)
    if outcome.status == "added":
        print(f"trusted {profile.name}: {kind} key {outcome.fingerprint}", file=ctx.stdout)
    elif outcome.status == "already":
        print(f"{profile.name}: {kind} key {outcome.fingerprint} was already trusted", file=ctx.stdout)
    else:
        print(f"{profile.name}: presents a certificate ({kind} key {outcome.fingerprint}) signed by a CA you trust", file=ctx.stdout)
    return 0
