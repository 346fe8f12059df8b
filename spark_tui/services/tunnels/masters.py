"""Which devices can have an OpenSSH master, and the master for one.

Nothing here imports asyncssh: a copy builds its master with :func:`direct_master` and starts it
while asyncssh is still loading (the two logins overlap instead of following each other).
"""

from __future__ import annotations

import getpass
import ipaddress
import os
import shutil
from pathlib import Path

from spark_tui.core.models import DeviceProfile
from spark_tui.services.ssh import OpenSSHMaster, host_pattern  # the face is lazy: neither loads asyncssh
from spark_tui.services.tunnels.counters import counters_supported

CARRIER_ENV = "SPARK_TUI_TUNNEL_CARRIER"
"""``asyncssh`` here keeps every tunnel byte on asyncssh (no ssh process is started)."""


def ssh_for_masters() -> str | None:
    """The ``ssh`` program masters run, or ``None`` when there are none here: no ``ssh``, off
    Linux (no per-socket byte counters: tunnel bytes would go uncounted), or
    ``SPARK_TUI_TUNNEL_CARRIER=asyncssh``."""
    if os.environ.get(CARRIER_ENV, "openssh").strip().lower() == "asyncssh":
        return None
    ssh = shutil.which("ssh")
    return ssh if ssh is not None and counters_supported() else None


def master_for(device: DeviceProfile, address: str, port: int, known_hosts: Path, ssh: str) -> OpenSSHMaster | None:
    """An unstarted master dialling ``address:port`` for ``device``, or ``None`` when the device
    cannot have one (behind a jump host or a proxy command: the master would need its own route;
    several keys: the master offers one). Trust is only the key stored for the profile's host
    in ``known_hosts``, whatever address is dialled."""
    if device.jump_host or device.proxy_command or device.extra_identity_files:
        return None
    return OpenSSHMaster(
        address, port, device.user or getpass.getuser(),
        host_key_alias=host_pattern(device.host, device.port), known_hosts=known_hosts,
        identity_file=device.identity_file or None, ssh=ssh,
    )


def direct_master(device: DeviceProfile, known_hosts: Path) -> OpenSSHMaster | None:
    """A master that can start before any asyncssh login, or ``None``.

    Only for a device with a key of its own (an onboarded device: no password prompt a master
    could not answer, no failed login to leave in the device's log) at an address OpenSSH
    resolves like we do: an IP address, or a name outside ``.local`` (ours go through our own
    mDNS resolver, which ``ssh`` does not have).
    """
    ssh = ssh_for_masters()
    if ssh is None or not device.identity_file:
        return None
    host = device.host.strip("[]")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        if host.rstrip(".").lower().endswith(".local"):
            return None
    return master_for(device, host, device.port, known_hosts, ssh)
