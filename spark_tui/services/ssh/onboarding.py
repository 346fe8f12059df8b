"""Key onboarding as NVIDIA Sync does it: one password login, install a key, forget the password.

``onboard`` logs in once with the password (after the host key was reviewed), installs an
ed25519 public key in the device's ``~/.ssh/authorized_keys`` over SFTP (never duplicating a line,
never touching other lines), proves the key works with a second, key-only login and returns the
profile with ``identity_file`` set. The caller saves the profile only when this succeeds.
``revoke`` removes exactly our key's line again.

The password is only ever handed to asyncssh for that one login; it is not logged, stored, or
put into any error text, and our reference to it is dropped as soon as the login is done.
"""

from __future__ import annotations

import dataclasses
import posixpath
import re
import socket
from collections.abc import Callable
from pathlib import Path

import asyncssh

from spark_tui.config import locations
from spark_tui.core.errors import ConnectError, HostKeyChanged, OnboardingFailed
from spark_tui.core.models import DeviceProfile
from spark_tui.core.secret import Secret
from spark_tui.services.ssh.connection import dial, load_identity
from spark_tui.services.ssh.known_hosts import ConfirmHostKey, KnownHosts, fingerprint, write_private_file

StepReporter = Callable[[str, str], None]
STEPS = ("connect", "host-key", "key", "install", "verify")


def key_path_for(device_name: str) -> Path:
    """Where the key generated for ``device_name`` lives (one key per device, in ``keys_dir()``)."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", device_name) or "device"
    return locations.keys_dir() / f"{safe}_ed25519"


def key_comment() -> str:
    """The comment our public keys carry, so a user can tell them apart on the device."""
    return f"spark-tui@{socket.gethostname()}"


def _ensure_key(path: Path) -> tuple[asyncssh.SSHKey, bool]:
    """Load the key at ``path`` or, when there is none, generate one there (0600).

    Returns:
        The private key and whether it was created now.

    Raises:
        ConnectError: kind ``key-file`` when an existing key cannot be used.
    """
    if path.exists():
        return load_identity(str(path)), False
    key = asyncssh.generate_private_key("ssh-ed25519", comment=key_comment())
    write_private_file(path, key.export_private_key("openssh"))
    write_private_file(Path(f"{path}.pub"), key.export_public_key("openssh"))
    return key, True


def _public_line(key: asyncssh.SSHKey) -> tuple[str, str]:
    """Our authorized_keys line and the base64 blob that identifies the key in any line."""
    line = key.export_public_key("openssh").decode().strip()
    if len(line.split()) < 3:
        line = f"{line} {key_comment()}"
    return line, line.split()[1]


def _has_key(text: bytes, blob: str) -> bool:
    return any(blob.encode() in line.split() for line in text.splitlines())


async def _authorized_keys(sftp: asyncssh.SFTPClient) -> tuple[str, str]:
    home = await sftp.realpath(".")
    ssh_dir = posixpath.join(home, ".ssh")
    return ssh_dir, posixpath.join(ssh_dir, "authorized_keys")


async def install_key(conn: asyncssh.SSHClientConnection, line: str, blob: str) -> bool:
    """Append ``line`` to the remote ``~/.ssh/authorized_keys`` unless the key is already there.

    Creates ``~/.ssh`` (0700) and the file (0600) when missing; existing lines stay byte for byte.

    Returns:
        True when the line was added, False when the key was already present.

    Raises:
        asyncssh.SFTPError: the device refused a file operation.
    """
    async with conn.start_sftp_client() as sftp:
        ssh_dir, path = await _authorized_keys(sftp)
        if not await sftp.exists(ssh_dir):
            await sftp.mkdir(ssh_dir, asyncssh.SFTPAttrs(permissions=0o700))
            await sftp.chmod(ssh_dir, 0o700)
        existing = b""
        created = not await sftp.exists(path)
        if not created:
            async with sftp.open(path, "rb") as handle:
                existing = await handle.read()
            if _has_key(existing, blob):
                return False
        prefix = b"\n" if existing and not existing.endswith(b"\n") else b""
        async with sftp.open(path, "ab", asyncssh.SFTPAttrs(permissions=0o600)) as handle:
            await handle.write(prefix + line.encode() + b"\n")
        if created:
            await sftp.chmod(path, 0o600)
        return True


async def remove_key(conn: asyncssh.SSHClientConnection, blob: str) -> bool:
    """Remove every remote authorized_keys line holding key ``blob``; other lines stay as they were.

    The new content goes to a temporary file next to the old one, with the old one's permissions,
    and is renamed over it, so the device never sees half a file.

    Returns:
        True when a line was removed.

    Raises:
        asyncssh.SFTPError: the device refused a file operation.
    """
    async with conn.start_sftp_client() as sftp:
        _, path = await _authorized_keys(sftp)
        if not await sftp.exists(path):
            return False
        async with sftp.open(path, "rb") as handle:
            existing = await handle.read()
        lines = existing.splitlines(keepends=True)
        kept = [line for line in lines if blob.encode() not in line.split()]
        if len(kept) == len(lines):
            return False
        mode = (await sftp.stat(path)).permissions or 0o600
        tmp = f"{path}.spark-tui-tmp"
        async with sftp.open(tmp, "wb", asyncssh.SFTPAttrs(permissions=0o600)) as handle:
            await handle.write(b"".join(kept))
        await sftp.chmod(tmp, mode & 0o7777)
        await sftp.posix_rename(tmp, path)
        return True


def _step_error(step: str, error: ConnectError) -> ConnectError:
    if isinstance(error, HostKeyChanged):
        return error
    hint = "check the user name and password" if error.kind == "auth" and step == "connect" else error.hint
    return OnboardingFailed(step, error.kind, error.message, hint)


def disable_core_dumps() -> None:
    """Set the process's core-file limit to 0, so a crash never writes a password to disk.

    Left at 0 for the rest of the run: freed memory may still hold pieces of the password.
    """
    try:
        import resource

        _, hard = resource.getrlimit(resource.RLIMIT_CORE)
        resource.setrlimit(resource.RLIMIT_CORE, (0, hard))
    except (ImportError, ValueError, OSError):  # pragma: no cover - not on this platform
        pass


async def onboard(
    profile: DeviceProfile,
    password: str | Secret,
    *,
    key: Path | None = None,
    confirm_host_key: ConfirmHostKey | None,
    on_step: StepReporter,
    known_hosts: Path | None = None,
    connect_timeout: float = 15.0,
) -> DeviceProfile:
    """Log in once with ``password``, install a key, prove it works, return the keyed profile.

    Args:
        profile: The device to onboard (``identity_file`` is ignored and replaced).
        password: The login password; used for one login, then wiped (a :class:`Secret`
            is overwritten in place; a ``str`` is first copied into one). Core dumps are
            turned off for the process from here on, so its memory never lands in a core file.
        key: A private key the user picked; ``None`` generates (or reuses) this device's key
            in ``locations.keys_dir()``.
        confirm_host_key: Asked ``(host, fingerprint)`` when the host key is new.
        on_step: Called ``(step_id, text)`` for steps connect, host-key, key, install, verify.
        known_hosts: Our known_hosts file (default ``locations.known_hosts_path()``).
        connect_timeout: Seconds allowed for each login.

    Returns:
        ``profile`` with ``identity_file`` set to the key now authorised on the device.

    Raises:
        HostKeyChanged: the device's host key differs from the one trusted before.
        OnboardingFailed: any step failed (``.step`` names it; a ``ConnectError``). Nothing is left
            behind: a key generated now is deleted and a line installed now is removed.
    """
    store = KnownHosts(known_hosts or locations.known_hosts_path())
    asked: list[str] = []

    async def confirm(host: str, fp: str) -> bool:
        asked.append(fp)
        on_step("host-key", f"{host} offers the new host key {fp}")
        return bool(confirm_host_key and await confirm_host_key(host, fp))

    secret = password if isinstance(password, Secret) else Secret(password)
    del password
    disable_core_dumps()
    login = dataclasses.replace(profile, identity_file=None)
    user = profile.user or "your local user"
    on_step("connect", f"logging in to {user}@{profile.host}:{profile.port} with the password")
    try:
        conn, _ = await dial(login, known_hosts=store, confirm_host_key=confirm, password=secret.text(), connect_timeout=connect_timeout)
    except ConnectError as error:
        raise _step_error("host-key" if error.kind.startswith("host-key") else "connect", error) from None
    finally:
        secret.wipe()  # asyncssh's transient copy goes with the connection below
    generated = False
    key_file = Path(key).expanduser() if key else key_path_for(profile.name)
    added = False
    step = "host-key"
    try:
        server_key = conn.get_server_host_key()
        fp = fingerprint(server_key) if server_key else "?"
        on_step("host-key", f"host key {fp} {'trusted now' if asked else 'already trusted'}")
        step = "key"
        try:
            private, generated = _ensure_key(key_file)
        except OSError as error:
            raise ConnectError("key-file", f"cannot write {key_file}: {error.strerror}", "check the folder's permissions") from None
        line, blob = _public_line(private)
        on_step("key", f"{'generated' if generated else 'using'} {key_file}")
        step = "install"
        try:
            added = await install_key(conn, line, blob)
        except (asyncssh.Error, OSError) as error:
            raise ConnectError("other", f"cannot update ~/.ssh/authorized_keys: {error}", "check the home folder on the device") from None
        on_step("install", "added the key to ~/.ssh/authorized_keys" if added else "the key was already in ~/.ssh/authorized_keys")
        step = "verify"
        keyed = dataclasses.replace(profile, identity_file=str(key_file))
        proof, _ = await dial(keyed, known_hosts=store, connect_timeout=connect_timeout)
        proof.close()
        await proof.wait_closed()
        on_step("verify", "logged in with the key, no password needed")
        return keyed
    except ConnectError as error:
        await _undo(conn, blob if added else None, key_file if generated else None)
        raise _step_error(step, error) from None
    except BaseException:
        await _undo(conn, blob if added else None, key_file if generated else None)
        raise
    finally:
        conn.close()
        await conn.wait_closed()


async def _undo(conn: asyncssh.SSHClientConnection, blob: str | None, key_file: Path | None) -> None:
    """Take back what a failed onboarding did: the remote line, then the generated key."""
    if blob is not None:
        try:
            await remove_key(conn, blob)
        except (asyncssh.Error, OSError):
            pass
    if key_file is not None:
        for path in (key_file, Path(f"{key_file}.pub")):
            path.unlink(missing_ok=True)


async def revoke(
    profile: DeviceProfile,
    *,
    known_hosts: Path | None = None,
    connection: asyncssh.SSHClientConnection | None = None,
    forget_key: bool = True,
    connect_timeout: float = 15.0,
) -> bool:
    """Remove exactly our key's line from the device's ``~/.ssh/authorized_keys``.

    Args:
        profile: The device; its ``identity_file`` names the key to remove.
        known_hosts: Our known_hosts file (default ``locations.known_hosts_path()``).
        connection: An open connection to reuse; otherwise one is made with the key itself.
        forget_key: Also delete the local key files when spark-tui generated them
            (they live in ``locations.keys_dir()``); a key the user picked is never deleted.
        connect_timeout: Seconds allowed for the login.

    Returns:
        True when a line was removed, False when the key was not there.

    Raises:
        ConnectError: no identity_file, the key cannot be read, or the device cannot be reached
            (an unknown host key is refused, never asked about here).
    """
    if not profile.identity_file:
        raise ConnectError("key-file", f"device {profile.name} has no identity_file to revoke", "nothing to do")
    key_file = Path(profile.identity_file).expanduser()
    _, blob = _public_line(load_identity(str(key_file)))
    conn = connection
    if conn is None:
        conn, _ = await dial(profile, known_hosts=KnownHosts(known_hosts or locations.known_hosts_path()), connect_timeout=connect_timeout)
    try:
        removed = await remove_key(conn, blob)
    except (asyncssh.Error, OSError) as error:
        raise ConnectError("other", f"cannot update ~/.ssh/authorized_keys on {profile.host}: {error}", "") from None
    finally:
        if connection is None:
            conn.close()
            await conn.wait_closed()
    if forget_key and key_file.resolve().parent == locations.keys_dir().resolve():
        for path in (key_file, Path(f"{key_file}.pub")):
            path.unlink(missing_ok=True)
    return removed
