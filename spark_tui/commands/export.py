"""``spark-tui export ansible``: hand fleet-wide work to Ansible instead of reinventing it here.

The inventory is written as JSON, which is also valid YAML (YAML 1.2 is a superset of JSON), so
Ansible's ``yaml`` inventory plugin reads it as ``inventory.yml`` and scripts can read it with any
JSON parser. Every device is under ``all.hosts``; each tag becomes a group under ``all.children``.
Connection settings point at spark-tui's own key and known_hosts, with strict host key checking.
"""

from __future__ import annotations

import json
import shlex

from spark_tui.cli import CliContext
from spark_tui.config import locations
from spark_tui.core.models import Config


def inventory(config: Config, known_hosts: str) -> dict:
    """The Ansible inventory for ``config``'s devices, as plain data."""
    hosts: dict[str, dict] = {}
    groups: dict[str, dict] = {}
    for device in config.devices:
        ssh_args = ["-o", f"UserKnownHostsFile={known_hosts}", "-o", "StrictHostKeyChecking=yes"]
        if device.jump_host:
            ssh_args += ["-J", device.jump_host]
        host = {"ansible_host": device.host, "ansible_port": device.port, "ansible_ssh_common_args": shlex.join(ssh_args)}
        if device.user:
            host["ansible_user"] = device.user
        if device.identity_file:
            host["ansible_ssh_private_key_file"] = device.identity_file
        hosts[device.name] = host
        for tag in device.tags:
            groups.setdefault(tag, {"hosts": {}})["hosts"][device.name] = {}
    top: dict = {"hosts": hosts}
    if groups:
        top["children"] = groups
    return {"all": top}


def ansible(args, ctx: CliContext) -> int:
    """Write the inventory to ``--output`` (atomically, 0600) or print it.

    Raises:
        ConfigError: the profile file is unreadable.
    """
    config = ctx.store().load()
    text = json.dumps(inventory(config, str(locations.known_hosts_path())), indent=2) + "\n"
    if not args.output:
        ctx.stdout.write(text)
        return 0
    from pathlib import Path

    from spark_tui.config.disk import write_atomically

    write_atomically(Path(args.output), text.encode())
    print(f"wrote {args.output}: {len(config.devices)} device(s); use it with: ansible -i {args.output} all -m ping", file=ctx.stdout)
    return 0
