"""``device add --setup-key`` and ``device remove --revoke``: key onboarding from the command line.

The password is read without echo (``getpass``) from a terminal, or as one line from stdin when
stdin is not a terminal (scripts and tests pipe it). The host key fingerprint is shown and must
be accepted with ``y`` (or given up front with ``--trust SHA256:...``).
"""

from __future__ import annotations

import asyncio
import getpass
from pathlib import Path

from spark_tui.core.errors import ConnectError, SparkError
from spark_tui.core.models import DeviceProfile
from spark_tui.core.secret import Secret


def read_password(ctx, prompt: str) -> Secret:
    """The password: no-echo prompt on a terminal, else the first line of stdin, as a
    :class:`~spark_tui.core.secret.Secret` that onboarding wipes after its one login.

    Raises:
        SparkError: nothing was given.
    """
    stdin = ctx.stdin
    if stdin.isatty():
        secret = getpass.getpass(prompt, stream=ctx.stderr)
    else:
        secret = stdin.readline().rstrip("\r\n")
    if not secret:
        raise SparkError("no password given", "type the device user's password, or pipe it on stdin")
    return Secret(secret)


def _confirmer(args, ctx):
    """The host-key question for the CLI: ``--trust`` answers it, otherwise ask y/N on stdin."""

    async def confirm(host: str, fingerprint: str) -> bool:
        if args.trust:
            expected = args.trust.strip()
            if not expected.startswith("SHA256:"):
                expected = f"SHA256:{expected}"
            if expected != fingerprint:
                raise ConnectError(
                    "host-key-unknown",
                    f"{host} offered host key {fingerprint}, not the expected {expected}",
                    "check the fingerprint on the device with: ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub",
                )
            return True
        print(f"The host key of {host} is {fingerprint}", file=ctx.stderr)
        print("Trust it and continue? [y/N] ", end="", file=ctx.stderr, flush=True)
        answer = await asyncio.to_thread(ctx.stdin.readline)
        return answer.strip().lower() in ("y", "yes")

    return confirm


def _check_saveable(store, profile: DeviceProfile) -> None:
    """Refuse before touching the device what the store would refuse after (name taken, bad field).

    Raises:
        DeviceExists: a device of that name is saved.
        InvalidProfile: a field breaks the profile file's rules.
    """
    from spark_tui.config import schema
    from spark_tui.core.errors import DeviceExists, InvalidProfile

    if store.load().device(profile.name) is not None:
        raise DeviceExists(
            f"a device named {profile.name!r} already exists",
            f"choose another name, or remove it first: spark-tui device remove {profile.name}",
        )
    try:
        schema.check_profile(profile)
    except schema.SchemaProblem as problem:
        raise InvalidProfile(problem.field, problem.message, problem.hint) from None


def setup_key(args, ctx) -> int:
    """``spark-tui device add NAME --host H [--user U] --setup-key [--identity FILE] [--trust FP]``.

    Returns:
        0 when the key works and the profile is saved.

    Raises:
        ConnectError: a step failed (nothing is saved).
        HostKeyChanged: the device's host key differs from the trusted one.
        SparkError: no password, or the profile could not be saved.
    """
    from spark_tui.services.ssh import onboard

    profile = DeviceProfile(
        name=args.name,
        host=args.host,
        user=args.user or getpass.getuser(),
        port=args.port,
        jump_host=getattr(args, "jump", None),
        tags=tuple(getattr(args, "tag", None) or ()),
    )
    if profile.jump_host:
        raise SparkError("--setup-key does not go through a jump host yet", "onboard the device directly, then add --jump")
    _check_saveable(ctx.store(), profile)
    password = read_password(ctx, f"{profile.user}@{profile.host}'s password: ")

    def on_step(step: str, text: str) -> None:
        print(f"[{step}] {text}", file=ctx.stdout, flush=True)

    key = Path(args.identity) if args.identity else None
    try:
        result = asyncio.run(onboard(profile, password, key=key, confirm_host_key=_confirmer(args, ctx), on_step=on_step))
    finally:
        password.wipe()  # onboarding wiped it already; say so even when it never started
    ctx.store().add_device(result)
    print(f"saved {result.name}: logs in with {result.identity_file}", file=ctx.stdout)
    return 0


def revoke(args, ctx, profile: DeviceProfile) -> int:
    """``device remove NAME --revoke``: take our key off the device (the caller then forgets it).

    Returns:
        0 when the key line is gone (or was not there).

    Raises:
        ConnectError: the device cannot be reached or the key file cannot be read.
    """
    from spark_tui.services.ssh import revoke as revoke_key

    removed = asyncio.run(revoke_key(profile))
    if removed:
        print(f"removed our key from {profile.host}'s ~/.ssh/authorized_keys", file=ctx.stdout)
    else:
        print(f"our key was not in {profile.host}'s ~/.ssh/authorized_keys", file=ctx.stdout)
    return 0
