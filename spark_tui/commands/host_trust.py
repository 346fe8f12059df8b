"""Trusting a host key from the command line, one way for every command that connects.

``confirm_host_key(ctx, ...)`` builds the callback ``ConnectionService(confirm_host_key=...)``
(and ``dial``/``onboard``) ask about a key nobody has trusted yet:

* ``--trust SHA256:...`` given: the offered key must have exactly that fingerprint;
* on a terminal: the question OpenSSH asks (host, key type, fingerprint, ``yes``/``no``), which
  is what the dashboard's dialog shows too;
* otherwise (piped, cron, CI): refused with the fingerprint and the command that trusts it.

Several devices dialled at once (``exec --all``) ask one at a time.
"""

from __future__ import annotations

import asyncio

from spark_tui.core.errors import ConnectError
from spark_tui.core.untrusted import display_safe

CHECK_HINT = "compare it with `ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` run on the device"


def key_kind(algorithm: str) -> str:
    """The name OpenSSH prints for a key type: ``ssh-ed25519`` -> ``ED25519``."""
    plain = algorithm.replace("-cert-v01@openssh.com", "")
    for prefix, kind in (("ssh-ed25519", "ED25519"), ("sk-ssh-ed25519", "ED25519-SK"), ("ecdsa-sha2", "ECDSA"),
                         ("sk-ecdsa", "ECDSA-SK"), ("ssh-rsa", "RSA"), ("rsa-sha2", "RSA"), ("ssh-dss", "DSA")):
        if plain.startswith(prefix):
            return kind
    return display_safe(plain, 40).upper()


def normalise_fingerprint(text: str) -> str:
    """``SHA256:abc`` or ``abc`` -> ``SHA256:abc`` (what ``ssh-keygen -l`` prints)."""
    text = text.strip()
    return text if text.startswith("SHA256:") else f"SHA256:{text}"


def _is_terminal(ctx) -> bool:
    return bool(getattr(ctx.stdin, "isatty", lambda: False)() and getattr(ctx.stderr, "isatty", lambda: False)())


def confirm_host_key(ctx, *, trust: str | None = None, device: str | None = None, flag: str = "--trust"):
    """The host-key question for a CLI command.

    Args:
        ctx: The CLI context (its stdin/stderr are the terminal, if any).
        trust: The fingerprint the user passed up front (``--trust``); only that key is accepted.
        device: The device's name, for the hint that says how to trust the key later.
        flag: The option of this command that passes a fingerprint.

    Returns:
        ``async confirm(host, fingerprint, key_type="") -> bool`` for ``ConnectionService``.

    Raises (from the callback):
        ConnectError: kind ``host-key-unknown`` when ``trust`` does not match, or there is no
            terminal to ask on.
    """
    lock = asyncio.Lock()
    expected = normalise_fingerprint(trust) if trust else None

    async def confirm(host: str, fingerprint: str, key_type: str = "") -> bool:
        kind = key_kind(key_type) if key_type else "host"
        if expected is not None:
            if expected != fingerprint:
                raise ConnectError(
                    "host-key-unknown",
                    f"{host} offered {kind} key {fingerprint}, not the expected {expected}",
                    CHECK_HINT,
                )
            return True
        if not _is_terminal(ctx):
            name = device or "NAME"
            raise ConnectError(
                "host-key-unknown",
                f"host key of {host} is not known yet: {kind} key fingerprint is {fingerprint}",
                f"{CHECK_HINT}, then pass {flag} {fingerprint} or run: spark-tui device trust {name} --fingerprint {fingerprint}",
            )
        async with lock:
            err = ctx.stderr
            print(f"The authenticity of host '{display_safe(host, 300)}' can't be established.", file=err)
            print(f"{kind} key fingerprint is {fingerprint}.", file=err)
            question = "Are you sure you want to continue connecting (yes/no)? "
            while True:
                print(question, end="", file=err, flush=True)
                line = await asyncio.to_thread(ctx.stdin.readline)
                answer = line.strip().lower()
                if answer in ("yes", "y"):
                    return True
                if answer in ("no", "n") or not line:  # no, or end of input
                    return False
                question = "Please type 'yes' or 'no': "

    return confirm


def confirm_for(ctx, args, device: str):
    """:func:`confirm_host_key` for a command with a ``--trust`` option (copy, app, containers ...)."""
    return confirm_host_key(ctx, trust=getattr(args, "trust", None), device=device)
