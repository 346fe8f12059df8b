"""``device trust``: fetch a device's host key without logging in, and trust it once reviewed."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import asyncssh

from spark_tui.core.errors import ConnectError, HostKeyChanged
from spark_tui.core.models import DeviceProfile
from spark_tui.services.ssh.connection import ConnectionService, translate_error
from spark_tui.services.ssh.login_options import ask_about_key, proxy_argv
from spark_tui.services.ssh.host_key_order import host_key_algorithms
from spark_tui.services.ssh.known_hosts import ConfirmHostKey, fingerprint, host_pattern


@dataclass(frozen=True)
class TrustOutcome:
    """What ``trust_device`` found.

    Attributes:
        fingerprint: The offered key's SHA256 fingerprint (of the certified key for a certificate).
        key_type: Its algorithm (``ssh-ed25519``...).
        status: ``"added"``, ``"already"`` (already trusted) or ``"certified"`` (a certificate
            signed by a CA our known_hosts trusts: nothing to add).
    """

    fingerprint: str
    key_type: str
    status: str


async def trust_device(service: ConnectionService, profile: DeviceProfile, confirm: ConfirmHostKey, *, timeout: float = 15.0) -> TrustOutcome:
    """Ask the device for its host key (the type OpenSSH would pick), then store it if ``confirm`` says yes.

    Jump hops are dialled (and their keys asked about) through ``service``; no login happens on
    the device itself.

    Raises:
        HostKeyChanged: a different key is trusted for the host.
        ConnectError: the key is revoked, was not accepted, or the device cannot be reached.
    """
    known = service.known_hosts
    name = host_pattern(profile.host, profile.port)
    entries = [e for e in known.entries() if e.matches(name)]
    authorities = [e.key for e in entries if e.marker == "@cert-authority"]
    algorithms = host_key_algorithms([e.key.algorithm.decode() for e in entries if not e.marker],
                                     with_certificates=bool(authorities))
    tunnel = await service.jump_tunnel(profile)
    route: dict = {"tunnel": tunnel} if tunnel is not None else (
        {"proxy_command": proxy_argv(profile)} if profile.proxy_command else {})
    try:
        offered = await asyncio.wait_for(
            asyncssh.get_server_host_key(profile.host, profile.port, server_host_key_algs=algorithms, **route), timeout
        )
    except (OSError, asyncssh.Error, asyncio.TimeoutError) as error:
        raise translate_error(error, profile) from None
    if offered is None:
        raise ConnectError("other", f"{name} did not present a host key", "")
    if isinstance(offered, asyncssh.SSHCertificate):
        if offered.signing_key in authorities and offered.key not in [e.key for e in entries if e.marker == "@revoked"]:
            return TrustOutcome(fingerprint(offered.key), offered.algorithm.decode(), "certified")
        offered = offered.key
    fp, kind = fingerprint(offered), offered.algorithm.decode()
    if known.is_revoked(profile.host, profile.port, offered):
        raise ConnectError("host-key-changed", f"host key {fp} of {name} is revoked",
                           f"it is marked @revoked in {known.path}; do not connect until you know why")
    trusted = known.keys_for(profile.host, profile.port)
    if any(k.public_data == offered.public_data for k in trusted):
        return TrustOutcome(fp, kind, "already")
    same_type = [k for k in trusted if k.algorithm == offered.algorithm]
    if same_type:
        raise HostKeyChanged(name, fingerprint(same_type[0]), fp, str(known.path))
    if not await ask_about_key(confirm, name, fp, kind):
        raise ConnectError("host-key-unknown", f"host key {fp} of {name} was not trusted", "nothing was saved")
    known.add(profile.host, profile.port, offered)
    return TrustOutcome(fp, kind, "added")
