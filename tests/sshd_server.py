"""A real OpenSSH ``sshd`` on 127.0.0.1 with a throwaway config, for tests and benchmarks.

The daemon runs as root (needed for password logins of another user) with its own host key,
its own port and ``UsePAM no``, so it neither reads nor changes the machine's real sshd set-up.
Logins go to a throwaway local account, ``spark-tui-test``, created on first use with a random
password that then stays the same (kept root-only in /etc), so parallel runs agree on it.
"""

from __future__ import annotations

import fcntl
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

SSHD = shutil.which("sshd") or "/usr/sbin/sshd"
TEST_USER = "spark-tui-test"
INSTALL_HINT = "install OpenSSH's server with: apt-get install -y openssh-server"


class SshdUnavailable(RuntimeError):
    """sshd cannot run here; the message says how to fix that."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(*cmd: str) -> str:
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout


def _kill(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def _descendants(root: int) -> list[int]:
    """Every live process below ``root`` in the parent tree, read from /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


PASSWORD_FILE = Path("/etc/spark-tui-test.password")  # root-only; the account is a throwaway


def ensure_test_user() -> tuple[pwd.struct_passwd, str]:
    """Create the throwaway login once, with a random password kept for every later run.

    The password never changes after creation, so test runs in parallel processes cannot
    invalidate each other's password logins.

    Returns:
        The account entry and its password.
    """
    with open(PASSWORD_FILE.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            entry = pwd.getpwnam(TEST_USER)
        except KeyError:
            _run("useradd", "--create-home", "--shell", "/bin/bash", TEST_USER)
            entry = pwd.getpwnam(TEST_USER)
            PASSWORD_FILE.unlink(missing_ok=True)
        if not PASSWORD_FILE.exists():
            password = "pw-" + secrets.token_urlsafe(12)
            subprocess.run(["chpasswd"], input=f"{TEST_USER}:{password}\n", text=True, check=True)
            PASSWORD_FILE.write_text(password)
            PASSWORD_FILE.chmod(0o600)
        return entry, PASSWORD_FILE.read_text().strip()


@dataclass
class Sshd:
    """One sshd instance. ``start()`` it, use ``host``/``port``/``user``, ``stop()`` it.

    Attributes:
        root: Folder holding the config, host key, client key and logs.
        port: TCP port on 127.0.0.1 (kept across restarts).
        password: The test user's password for this run.
        client_key: Private key (ed25519) authorised for the test user via the config's own
            authorized-keys file (not the user's ``~/.ssh/authorized_keys``).
        known_hosts: A known_hosts file that trusts this sshd's current host key.
    """

    root: Path
    password: str = ""
    port: int = field(default_factory=free_port)
    host: str = "127.0.0.1"
    user: str = TEST_USER
    extra_config: str = ""
    process: subprocess.Popen | None = None

    def __post_init__(self) -> None:
        if not os.path.exists(SSHD):
            raise SshdUnavailable(f"OpenSSH sshd not found at {SSHD}: {INSTALL_HINT}")
        if os.geteuid() != 0:
            raise SshdUnavailable("the sshd fixture needs root (password logins of a test user); run the tests as root, as CI does")
        self.root.mkdir(parents=True, exist_ok=True)
        self.entry, self.password = ensure_test_user()
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # privilege-separation dir sshd insists on
        self.host_key = self.root / "ssh_host_ed25519_key"
        self.client_key = self.root / "client_ed25519"
        self.known_hosts = self.root / "known_hosts"
        self.log = self.root / "sshd.log"
        self.regenerate_host_key()
        _run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "spark-tui-test-client", "-f", str(self.client_key))
        # sshd reads this file as the test user, who cannot enter pytest's 0700 tmp folders.
        keys_dir = Path(tempfile.mkdtemp(prefix="spark-tui-sshd-keys-"))
        keys_dir.chmod(0o755)
        self.authorized_keys_dir = keys_dir
        (keys_dir / TEST_USER).write_text((self.root / "client_ed25519.pub").read_text())
        self.config = self.root / "sshd_config"
        self.write_config()

    @property
    def home(self) -> Path:
        """The test user's home folder (where onboarding installs keys)."""
        return Path(self.entry.pw_dir)

    def write_config(self) -> None:
        """(Re)write sshd_config; call before start() after changing ``extra_config``."""
        self.config.write_text(
            f"""\
Port {self.port}
ListenAddress 127.0.0.1
HostKey {self.host_key}
PidFile {self.root}/sshd.pid
AuthorizedKeysFile {self.authorized_keys_dir}/%u .ssh/authorized_keys
PasswordAuthentication yes
KbdInteractiveAuthentication no
PubkeyAuthentication yes
UsePAM no
PermitRootLogin no
StrictModes no
AllowTcpForwarding yes
GatewayPorts no
PermitTTY yes
X11Forwarding no
PrintMotd no
MaxStartups 1000:30:2000
MaxSessions 200
MaxAuthTries 10
LoginGraceTime 30
ClientAliveInterval 0
LogLevel VERBOSE
Subsystem sftp internal-sftp
{self.extra_config}
"""
        )

    def regenerate_host_key(self) -> str:
        """Give the server a brand-new host key (as a reinstalled device would have).

        Returns:
            The new key's OpenSSH SHA256 fingerprint.
        """
        for suffix in ("", ".pub"):
            Path(f"{self.host_key}{suffix}").unlink(missing_ok=True)
        _run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(self.host_key))
        pub = Path(f"{self.host_key}.pub").read_text().split()
        self.known_hosts.write_text(f"[{self.host}]:{self.port} {pub[0]} {pub[1]}\n")
        return self.fingerprint()

    def fingerprint(self) -> str:
        """The host key's fingerprint exactly as ``ssh-keygen -lf`` prints it (``SHA256:...``)."""
        return _run("ssh-keygen", "-lf", f"{self.host_key}.pub").split()[1]

    def start(self, timeout: float = 10.0) -> None:
        """Start sshd and wait until it accepts connections.

        Raises:
            SshdUnavailable: sshd exited or never listened; the message quotes its log.
        """
        with self.log.open("ab") as log:  # the child keeps its own copy of the descriptor
            self.process = subprocess.Popen(
                [SSHD, "-D", "-e", "-f", str(self.config)],
                stdout=subprocess.DEVNULL,
                stderr=log,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SshdUnavailable(f"sshd exited with {self.process.returncode}: {self.log.read_text()[-2000:]}")
            try:
                with socket.create_connection((self.host, self.port), timeout=0.5) as s:
                    if s.recv(64).startswith(b"SSH-"):
                        return
            except OSError:
                time.sleep(0.02)
        self.stop()
        raise SshdUnavailable(f"sshd did not listen on {self.port} within {timeout}s: {self.log.read_text()[-2000:]}")

    def stop(self) -> None:
        """Stop the listener and every session it forked (a real outage, not a polite close)."""
        if self.process is None:
            return
        # Connection handlers call setsid(), so they are not in the listener's process group:
        # find them as descendants. Freeze the tree first (a stopped process cannot fork),
        # until no new process appears, then kill every one of them.
        root = self.process.pid
        frozen: set[int] = set()
        for _ in range(50):
            found = {root, *_descendants(root)}
            if found <= frozen:
                break
            for pid in found - frozen:
                _kill(pid, signal.SIGSTOP)
            frozen |= found
        for pid in frozen:
            _kill(pid, signal.SIGKILL)
        self.process.wait()
        self.process = None


    def close(self) -> None:
        """Stop for good and remove the authorized-keys folder kept outside tmp_path."""
        self.stop()
        shutil.rmtree(self.authorized_keys_dir, ignore_errors=True)

    def restart(self) -> None:
        """Kill and start again on the same port."""
        self.stop()
        self.start()

    def pause(self) -> None:
        """SIGSTOP the listener and its sessions (a frozen host: keepalives go unanswered)."""
        self._signal_all(signal.SIGSTOP)

    def resume(self) -> None:
        """SIGCONT what ``pause`` stopped."""
        self._signal_all(signal.SIGCONT)

    def _signal_all(self, sig: int) -> None:
        assert self.process is not None
        for pid in [self.process.pid, *_descendants(self.process.pid)]:
            _kill(pid, sig)

    def ssh_command(self, *remote: str, key: Path | None = None) -> list[str]:
        """An OpenSSH client command line that logs in with ``key`` (default: the client key)."""
        return [
            "ssh",
            "-F", "/dev/null",
            "-i", str(key or self.client_key),
            "-p", str(self.port),
            "-o", f"UserKnownHostsFile={self.known_hosts}",
            "-o", "StrictHostKeyChecking=yes",
            "-o", "BatchMode=yes",
            "-o", "IdentitiesOnly=yes",
            f"{self.user}@{self.host}",
            *remote,
        ]

    def clear_user_keys(self) -> None:
        """Empty the test user's own ``~/.ssh`` (onboarding tests start from nothing)."""
        shutil.rmtree(self.home / ".ssh", ignore_errors=True)
