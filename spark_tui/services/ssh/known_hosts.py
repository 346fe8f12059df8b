"""Our own known_hosts file: OpenSSH format, trust on first use, changed keys refused.

The file lives at ``locations.known_hosts_path()`` (never ``~/.ssh/known_hosts``), so OpenSSH can
use it too (``ssh -o UserKnownHostsFile=FILE``, ``ssh-keygen -F HOST -f FILE``). Entries are keyed
by the host NAME of a profile (``spark-1a2b.local``), not by whatever address it resolved to, so a
device whose DHCP address changed still matches. Port 22 entries are written as a plain ``host``,
other ports as ``[host]:port``, as OpenSSH does.

Nothing discovered by mDNS is trusted automatically: a key is only stored after
``confirm_host_key(host, fingerprint)`` said yes (or the user passed the fingerprint they expect).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import asyncssh

from spark_tui.config.trust import make_private_folder, untrusted
from spark_tui.core.errors import ConnectError
from spark_tui.services.ssh.openssh_words import host_pattern

# (host, fingerprint) -> True to trust the key and store it.
ConfirmHostKey = Callable[[str, str], Awaitable[bool]]


def fingerprint(key: asyncssh.SSHKey) -> str:
    """The key's SHA256 fingerprint exactly as OpenSSH prints it (``SHA256:`` + unpadded base64)."""
    return key.get_fingerprint("sha256")


class OfferedFingerprint(str):
    """A fingerprint (``SHA256:...``) that also knows its key's type, as OpenSSH names it.

    It is a plain ``str`` for everything that compares or prints fingerprints; a dialog can
    read ``key_type`` (``ED25519``, ``ECDSA``, ``RSA`` ...) to say which key it shows.
    """

    key_type: str

    def __new__(cls, key: asyncssh.SSHKey) -> OfferedFingerprint:
        made = super().__new__(cls, fingerprint(key))
        made.key_type = key_type_name(key)
        return made


def key_type_name(key: asyncssh.SSHKey) -> str:
    """The key's type as ``ssh-keygen -l`` prints it: ``ED25519``, ``ECDSA``, ``RSA``, ``ED25519-SK`` ..."""
    algorithm = key.get_algorithm()
    algorithm = algorithm.decode("ascii", "replace") if isinstance(algorithm, bytes) else str(algorithm)
    base = algorithm.split("@", 1)[0].removesuffix("-cert-v01")
    names = {"ssh-ed25519": "ED25519", "ssh-ed448": "ED448", "ssh-rsa": "RSA", "ssh-dss": "DSA", "sk-ssh-ed25519": "ED25519-SK"}
    if base in names:
        return names[base]
    if base.startswith("sk-ecdsa-"):
        return "ECDSA-SK"
    if base.startswith("ecdsa-"):
        return "ECDSA"
    return base.upper()


@dataclass(frozen=True)
class KnownHostEntry:
    """One key line of the file.

    Attributes:
        marker: ``""``, ``"@revoked"`` or ``"@cert-authority"``.
        hosts: The comma-separated host patterns as written (may be hashed ``|1|salt|hash``).
        key: The public key.
    """

    marker: str
    hosts: str
    key: asyncssh.SSHKey

    def matches(self, name: str) -> bool:
        """True when ``name`` (``host`` or ``[host]:port``) matches this entry's patterns."""
        if self.hosts.startswith("|1|"):
            return _hashed_match(self.hosts, name)
        matched = False
        for pattern in self.hosts.split(","):
            negated = pattern.startswith("!")
            if _wildcard_match(name.lower(), pattern.lstrip("!").lower()):
                if negated:
                    return False
                matched = True
        return matched


def _wildcard_match(name: str, pattern: str) -> bool:
    """OpenSSH pattern matching: ``*`` and ``?`` are wildcards, everything else (``[``) literal."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, name) is not None


def _hashed_match(hashed: str, name: str) -> bool:
    try:
        _, _, salt, digest = hashed.split("|", 3)
        expected = base64.b64decode(digest)
        mac = hmac.new(base64.b64decode(salt), name.encode(), hashlib.sha1).digest()
    except (ValueError, binascii.Error):
        return False
    return hmac.compare_digest(mac, expected)


class KnownHosts:
    """The trusted host keys in one OpenSSH-format file.

    Args:
        path: The file; it need not exist yet (created 0600 on the first trusted key).
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def check_permissions(self) -> None:
        """Refuse a file others could have written to (OpenSSH's StrictModes, applied to us).

        Raises:
            ConnectError: kind ``host-key-unknown`` when the file is group- or world-writable.
        """
        distrust = untrusted(self.path)  # the file and its folders up to home: owner and mode
        if distrust is not None:
            raise ConnectError(
                "host-key-unknown",
                f"refusing to trust {self.path}: {distrust.path} {distrust.reason}",
                f"fix it with: {distrust.fix}",
            )

    def entries(self) -> list[KnownHostEntry]:
        """Every parseable key line; comments, blank and unreadable lines are skipped.

        Raises:
            ConnectError: the file is group/world-writable (see ``check_permissions``).
        """
        self.check_permissions()
        try:
            text = self.path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return []
        found = []
        for line in text.splitlines():
            parts = line.split()
            if not parts or parts[0].startswith("#"):
                continue
            marker = parts.pop(0) if parts[0].startswith("@") else ""
            if len(parts) < 3:
                continue
            try:
                key = asyncssh.import_public_key(f"{parts[1]} {parts[2]}")
            except (asyncssh.KeyImportError, ValueError):
                continue
            found.append(KnownHostEntry(marker, parts[0], key))
        return found

    def keys_for(self, host: str, port: int) -> list[asyncssh.SSHKey]:
        """The plain (non-CA) keys trusted for ``host`` on ``port``, revoked ones removed.

        Raises:
            ConnectError: the file is group/world-writable.
        """
        name = host_pattern(host, port)
        entries = [e for e in self.entries() if e.matches(name)]
        revoked = {e.key.public_data for e in entries if e.marker == "@revoked"}
        return [e.key for e in entries if not e.marker and e.key.public_data not in revoked]

    def is_revoked(self, host: str, port: int, key: asyncssh.SSHKey) -> bool:
        """True when ``key`` is marked ``@revoked`` for ``host`` (or for everyone)."""
        name = host_pattern(host, port)
        return any(e.marker == "@revoked" and e.key.public_data == key.public_data and e.matches(name) for e in self.entries())

    def add(self, host: str, port: int, key: asyncssh.SSHKey) -> None:
        """Trust ``key`` for ``host:port``: append one line, keep every other line as it was.

        Writes a temporary file in the same folder and renames it over the old one, so a crash
        never leaves half a file. The result is 0600.

        Raises:
            ConnectError: the existing file is group/world-writable.
            OSError: the folder cannot be written.
        """
        self.check_permissions()
        if any(known.public_data == key.public_data for known in self.keys_for(host, port)):
            return
        try:
            old = self.path.read_bytes()
        except FileNotFoundError:
            old = b""
        if old and not old.endswith(b"\n"):
            old += b"\n"
        algorithm, blob = key.export_public_key("openssh").decode().split()[:2]
        line = f"{host_pattern(host, port)} {algorithm} {blob}\n".encode()
        write_private_file(self.path, old + line)


def write_private_file(path: Path, data: bytes) -> None:
    """Atomically replace ``path`` with ``data``, mode 0600 (temp file in the same folder + rename).

    Raises:
        OSError: the folder cannot be written.
    """
    make_private_folder(path.parent)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), 0o600)  # the file we made, never a path someone swapped in
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class HostKeyCheck(asyncssh.SSHClient):
    """asyncssh client hook that remembers the key a server offered when it was not trusted.

    asyncssh first matches the offered key against the ``known_hosts`` we give it; only a key
    outside that set reaches ``validate_host_public_key``. We never accept it there (the decision
    needs an ``await``): we note it, fail the handshake before any authentication, and the caller
    decides between "changed" (refuse) and "unknown" (ask, store, retry).
    """

    def __init__(self, trusted_key: asyncssh.SSHKey | None = None) -> None:
        self.trusted_key = trusted_key
        self.offered_key: asyncssh.SSHKey | None = None
        self.lost_callback: Callable[[Exception | None], None] | None = None

    def validate_host_public_key(self, host: str, addr: str, port: int, key: asyncssh.SSHKey) -> bool:
        """Accept only the key the user just confirmed; remember any other for the error."""
        if self.trusted_key is not None and key == self.trusted_key:
            return True
        self.offered_key = key
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        """Forward the end of the connection to whoever watches it (the connection service)."""
        if self.lost_callback is not None:
            self.lost_callback(exc)


def unknown_host_error(host: str, port: int, offered: str, rejected: bool) -> ConnectError:
    """The error for a host key nobody has trusted yet (``host-key-unknown``)."""
    where = host_pattern(host, port)
    if rejected:
        return ConnectError("host-key-unknown", f"host key {offered} of {where} was not trusted", "nothing was saved")
    return ConnectError(
        "host-key-unknown",
        f"host key {offered} of {where} is not known yet",
        "run `spark-tui device add NAME --host H --setup-key` or connect once from the dashboard to review and trust it",
    )
