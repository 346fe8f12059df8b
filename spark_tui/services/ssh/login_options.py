"""What a login needs besides the address: the profile's private keys, its ProxyCommand, and the
host-key question asked with the key type when the asker takes it."""

from __future__ import annotations

import getpass
import inspect
import stat
from pathlib import Path

import asyncssh

from spark_tui.config.trust import untrusted
from spark_tui.core.errors import ConnectError
from spark_tui.core.models import DeviceProfile
from spark_tui.services.ssh.known_hosts import ConfirmHostKey


def load_identity(identity_file: str) -> asyncssh.SSHKey:
    """Read a private key, refusing one other users can read (as OpenSSH does).

    Raises:
        ConnectError: kind ``key-file`` when it is missing, unreadable, too open or encrypted.
    """
    path = Path(identity_file).expanduser()
    if not path.exists():
        raise ConnectError("key-file", f"key file {path} does not exist", "check the profile's identity_file")
    distrust = untrusted(path, private=True)  # owner and mode of the key and its folders
    if distrust is not None:
        raise ConnectError("key-file", f"key file {distrust.message('to use it')}", f"fix it with: {distrust.fix}")
    try:
        return asyncssh.read_private_key(path)
    except PermissionError:
        raise ConnectError("key-file", f"cannot read key file {path}: permission denied", f"check the owner of {path}") from None
    except (asyncssh.KeyImportError, asyncssh.KeyEncryptionError, OSError) as error:
        hint = "spark-tui does not ask for key passphrases: load the key into ssh-agent (ssh-add) and remove identity_file"
        if "assphrase" not in str(error):
            hint = "is it an OpenSSH/PEM private key? choose another with --identity"
        raise ConnectError("key-file", f"cannot load key file {path}: {error}", hint) from None


def load_identities(profile: DeviceProfile) -> list[asyncssh.SSHKey]:
    """Every private key of the profile, in order, as OpenSSH tries its ``IdentityFile`` lines.

    One key file must load. With several, missing files are skipped (OpenSSH does the same);
    other problems (too open, encrypted, unreadable) still stop the login with their hint.

    Raises:
        ConnectError: kind ``key-file`` when a key cannot be used, or none of several exists.
    """
    files = profile.identity_files
    if len(files) == 1:
        return [load_identity(files[0])]
    keys, missing = [], []
    for name in files:
        if not Path(name).expanduser().exists():
            missing.append(name)
            continue
        keys.append(load_identity(name))
    if not keys:
        raise ConnectError("key-file", f"none of the key files {', '.join(missing)} exists", "check the profile's identity_files")
    return keys


def proxy_argv(profile: DeviceProfile) -> list[str]:
    """The profile's ProxyCommand as OpenSSH runs it: tokens expanded, then ``/bin/sh -c``.

    Raises:
        ConnectError: kind ``other`` when it uses a token we do not know.
    """
    assert profile.proxy_command
    values = {"h": profile.host, "p": str(profile.port), "r": profile.user or getpass.getuser(), "n": profile.name, "%": "%"}
    out, text, i = [], profile.proxy_command, 0
    while i < len(text):
        if text[i] == "%" and i + 1 < len(text):
            token = text[i + 1]
            if token not in values:
                raise ConnectError("other", f"ProxyCommand of {profile.name} uses %{token}, which spark-tui does not expand", "use %h, %p, %r, %n or %%")
            out.append(values[token])
            i += 2
            continue
        out.append(text[i])
        i += 1
    return ["/bin/sh", "-c", "exec " + "".join(out)]


async def ask_about_key(confirm: ConfirmHostKey, host: str, fp: str, key_type: str) -> bool:
    """Ask ``confirm(host, fingerprint)``, adding ``key_type`` for callbacks that take a third argument."""
    try:
        params = inspect.signature(confirm).parameters.values()
        takes_type = sum(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in params) >= 3 or any(
            p.kind is p.VAR_POSITIONAL for p in params
        )
    except (TypeError, ValueError):
        takes_type = False
    return bool(await (confirm(host, fp, key_type) if takes_type else confirm(host, fp)))
