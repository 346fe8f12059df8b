"""``spark-tui export ansible``: hand fleet-wide work to Ansible instead of reinventing it here.

The inventory is written as JSON, which is also valid YAML (YAML 1.2 is a superset of JSON), so
Ansible's ``yaml`` inventory plugin reads it as ``inventory.yml`` and scripts can read it with any
JSON parser. Every device is under ``all.hosts``; each tag becomes a group under ``all.children``
(named by ``group_name``: ``nvidia-sync`` -> ``nvidia_sync``, ``all`` -> ``tag_all``).
Connection settings point at spark-tui's own key and known_hosts, with strict host key checking.
"""

from __future__ import annotations

import json
import keyword
import re
import shlex
from pathlib import Path

from spark_tui.cli import CliContext
from spark_tui.config import locations
from spark_tui.core.models import Config, DeviceProfile


RESERVED_GROUPS = ("all", "ungrouped")


def group_name(tag: str) -> str:
    """The Ansible group for a tag: a valid Python-style identifier Ansible accepts without warning.

    Every character other than a letter, digit or ``_`` becomes ``_`` (``nvidia-sync`` ->
    ``nvidia_sync``, ``lab.2`` -> ``lab_2``); a name that then starts with a digit, or is one
    of Ansible's own groups (``all``, ``ungrouped``), gets the prefix ``tag_`` (``all`` ->
    ``tag_all``, ``2nd`` -> ``tag_2nd``). Tags that map to the same name share the group.
    """
    name = re.sub(r"[^A-Za-z0-9_]", "_", tag)
    if name[:1].isdigit() or name.lower() in RESERVED_GROUPS or keyword.iskeyword(name):
        name = f"tag_{name}"
    return name


def ssh_common_args(device: DeviceProfile, config: Config, known_hosts: Path) -> str:
    """``ansible_ssh_common_args`` for a device: our known_hosts, strict checking, its keys and
    jump hops, quoted for both Ansible's shlex split and OpenSSH's own word splitting."""
    from spark_tui.services.ssh import jump_hops, openssh_word, proxy_command

    args = ["-o", f"UserKnownHostsFile={openssh_word(str(known_hosts))}", "-o", "StrictHostKeyChecking=yes"]
    for identity in device.identity_files:
        args += ["-o", f"IdentityFile={openssh_word(identity)}"]
    if device.identity_files:
        args += ["-o", "IdentitiesOnly=yes"]
    hops = jump_hops(device, config.device)
    if hops:
        args += ["-o", f"ProxyCommand={proxy_command(hops, known_hosts)}"]
    elif device.proxy_command:
        args += ["-o", f"ProxyCommand={device.proxy_command}"]
    return shlex.join(args)


def inventory(config: Config, known_hosts: str) -> dict:
    """The Ansible inventory for ``config``'s devices, as plain data.

    Every device is a host under ``all``; each tag is a group named by ``group_name``. Keys go
    in ``ansible_ssh_common_args`` as ``-o IdentityFile=...`` (not ``ansible_ssh_private_key_file``,
    which Ansible wraps in quotes of its own that a ``"`` in the path would break).
    """
    hosts: dict[str, dict] = {}
    groups: dict[str, dict] = {}
    for device in config.devices:
        host = {
            "ansible_host": device.host,
            "ansible_port": device.port,
            "ansible_ssh_common_args": ssh_common_args(device, config, Path(known_hosts)),
        }
        if device.user:
            host["ansible_user"] = device.user
        hosts[device.name] = host
        for tag in device.tags:
            groups.setdefault(group_name(tag), {"hosts": {}})["hosts"][device.name] = {}
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
    from spark_tui.config.disk import write_atomically

    write_atomically(Path(args.output), text.encode())
    print(f"wrote {args.output}: {len(config.devices)} device(s); use it with: ansible -i {args.output} all -m ping", file=ctx.stdout)
    return 0
