"""Who may log in to the demo device: the local user, by demo key, installed key or password."""

from __future__ import annotations

import hmac
import ipaddress
import os
from dataclasses import dataclass, field
from pathlib import Path

import asyncssh

MAX_PASSWORD_FAILURES = 5
"""Wrong passwords (any user) after which password login is off for the rest of the run."""
FAILURE_DELAY = 1.0
"""Seconds a wrong password is answered late, so guessing costs time."""


@dataclass
class DemoLogin:
    """Who may log in to the demo device, and what their sessions look like.

    Attributes:
        user: The only login name accepted (the local user's).
        shell: Program run for shells and ``-c`` commands.
        home: ``HOME`` of demo sessions; its ``.ssh/authorized_keys`` is honoured too, so
            onboarding can install a key there and use it.
        bin_dir: Put first on ``PATH`` (holds the ``nvidia-smi`` stand-in).
        client_keys: Public keys accepted without reading any file.
        password: The demo password, or ``None`` when password login is off (used up, given
            up after :data:`MAX_PASSWORD_FAILURES` wrong tries, or dropped once an installed
            key logged in).
        single_use_password: Forget the password after its first successful login.
        failures: Wrong passwords so far.
    """

    user: str
    shell: str
    home: Path
    bin_dir: Path
    client_keys: list[asyncssh.SSHKey] = field(default_factory=list)
    password: str | None = None
    single_use_password: bool = False
    failures: int = 0

    def check_password(self, username: str, password: str) -> bool:
        """True when ``password`` is the demo password for ``username`` (constant-time compare).

        A wrong one counts; after :data:`MAX_PASSWORD_FAILURES` the password is dropped.
        """
        expected = self.password
        if expected is None:
            return False
        ok = username == self.user and hmac.compare_digest(password.encode(), expected.encode())
        if not ok:
            self.failures += 1
            if self.failures >= MAX_PASSWORD_FAILURES:
                self.password = None
        elif self.single_use_password:
            self.password = None
        return ok

    def accepts_key(self, username: str, key: asyncssh.SSHKey) -> bool:
        """True when ``key`` may log in as ``username``: a demo client key or one listed in
        the demo home's ``~/.ssh/authorized_keys`` (read afresh each time)."""
        if username != self.user:
            return False
        wanted = key.public_data
        if any(k.public_data == wanted for k in self.client_keys):
            return True
        try:
            lines = (self.home / ".ssh" / "authorized_keys").read_text(errors="replace").splitlines()
        except OSError:
            return False
        for line in lines:
            words = line.split()
            # Skip comments; allow a leading options field by trying from each key-type word.
            for i, word in enumerate(words[:3]):
                if word.startswith(("ssh-", "ecdsa-", "sk-")) and i + 1 < len(words):
                    try:
                        if asyncssh.import_public_key(f"{word} {words[i + 1]}").public_data == wanted:
                            self.password = None  # the installed key works: the password is done
                            return True
                    except (asyncssh.KeyImportError, ValueError):
                        pass
                    break
        return False

    def environment(self, term: str | None, client_env: dict[str, str]) -> dict[str, str]:
        """The environment of a demo session, built afresh like sshd does (not inherited)."""
        env = {
            "HOME": str(self.home),
            "USER": self.user,
            "LOGNAME": self.user,
            "SHELL": self.shell,
            "PATH": f"{self.bin_dir}{os.pathsep}{os.environ.get('PATH', '/usr/local/bin:/usr/bin:/bin')}",
            "SPARK_TUI_DEMO": "1",
        }
        for name in ("LANG", "LC_ALL", "TZ"):
            if name in os.environ:
                env[name] = os.environ[name]
        # Like OpenSSH's default AcceptEnv: only locale variables from the client.
        env.update({k: v for k, v in client_env.items() if k == "LANG" or k.startswith("LC_")})
        if term:
            env["TERM"] = term
        return env


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (``127.0.0.0/8``, ``::1``)."""
    if host.lower() in ("localhost", "localhost.", "ip6-localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
