"""A small LAN of network namespaces with real avahi-daemon on it, for discovery tests and the bench.

Layout: one *browser* namespace holding a bridge ``br0`` (198.18.0.1/24) and, per device, one
namespace joined to that bridge by a veth pair per link (``eth0``, ``eth1``, ...), addresses
198.18.0.10 and up. Every device namespace runs its own ``avahi-daemon`` (Debian's package) with
its own config (``enable-dbus=no``, ``allow-interfaces``, ``host-name``), started with
``--no-drop-root --no-chroot`` inside a private mount namespace where ``/run`` (so its pid file)
and ``/etc/avahi/services`` are folders of a temp dir: daemons never see each other's files or
the host's. spark-tui runs in the browser namespace (``Lan.python``), so all multicast stays on
the bridge. Names start with ``disc`` (the discovery worktree's prefix); :meth:`Lan.close` stops
each daemon by its pid and deletes each namespace by name.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

AVAHI = "/usr/sbin/avahi-daemon"
SSH_SERVICE = Path("/usr/share/doc/avahi-daemon/examples/ssh.service")
BROWSER_IP = "198.18.0.1"
PREFIX = 24

CONFIG = """\
[server]
host-name={host}
domain-name=local
use-ipv4=yes
use-ipv6=yes
allow-interfaces={interfaces}
enable-dbus=no
ratelimit-interval-usec=1000000
ratelimit-burst=1000

[wide-area]
enable-wide-area=no

[publish]
publish-hinfo=no
publish-workstation=no

[reflector]

[rlimits]
"""

# Private /run and services folder, then exec the daemon: the Popen pid is the daemon's pid.
LAUNCH = (
    'mount --bind "$1/run" /run && mount --bind "$1/services" /etc/avahi/services && '
    'exec {avahi} --no-drop-root --no-chroot --no-rlimits --no-proc-title -f "$1/avahi-daemon.conf"'
).format(avahi=AVAHI)


def available() -> str:
    """Why these tests cannot run here, or ``""`` when they can."""
    if os.geteuid() != 0:
        return "needs root to create network namespaces"
    for tool in ("ip", "unshare", "mount"):
        if shutil.which(tool) is None:
            return f"needs {tool}"
    if not os.path.exists(AVAHI) or not SSH_SERVICE.exists():
        return "needs Debian's avahi-daemon package (and its example ssh.service)"
    return ""


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=10)


@dataclass
class Device:
    """One namespace with an avahi-daemon."""

    ns: str
    host: str
    addresses: list[str]
    folder: Path
    links: list[str] = field(default_factory=list)
    daemon: subprocess.Popen | None = None

    @property
    def pid_file(self) -> Path:
        return self.folder / "run" / "avahi-daemon" / "pid"

    def log(self) -> str:
        path = self.folder / "avahi.log"
        return path.read_text(errors="replace") if path.exists() else ""


class Lan:
    """The browser namespace, its bridge and the devices on it (see the module docstring)."""

    def __init__(self) -> None:
        self.tag = uuid.uuid4().hex[:5]
        self.browser_ns = f"discb{self.tag}"
        self.root = Path(tempfile.mkdtemp(prefix=f"disc-{self.tag}-"))
        self.devices: list[Device] = []
        self._namespaces: list[str] = []
        self._resolv: list[Path] = []
        self._next_host = 10
        self._add_ns(self.browser_ns)
        _ip("-n", self.browser_ns, "link", "add", "br0", "type", "bridge", "mcast_snooping", "0")
        _ip("-n", self.browser_ns, "addr", "add", f"{BROWSER_IP}/{PREFIX}", "dev", "br0")
        _ip("-n", self.browser_ns, "link", "set", "br0", "up", "multicast", "on")
        _ip("-n", self.browser_ns, "route", "add", "224.0.0.0/4", "dev", "br0")

    def _add_ns(self, ns: str) -> None:
        _ip("netns", "add", ns)
        self._namespaces.append(ns)
        # `ip netns exec` mounts this over /etc/resolv.conf: no DNS query leaves the namespace.
        resolv = Path("/etc/netns") / ns
        resolv.mkdir(parents=True, exist_ok=True)
        (resolv / "resolv.conf").write_text("nameserver 127.0.0.1\n")
        self._resolv.append(resolv)
        for key in ("net.ipv6.conf.all.accept_dad", "net.ipv6.conf.default.accept_dad"):
            subprocess.run(["ip", "netns", "exec", ns, "sysctl", "-qw", f"{key}=0"], capture_output=True, timeout=10)
        _ip("-n", ns, "link", "set", "lo", "up")

    def add_device(
        self, host: str, *, links: int = 1, services: tuple[Path, ...] = (SSH_SERVICE,), start: bool = True, late_links: int = 0
    ) -> Device:
        """A namespace joined to the bridge by ``links`` veth pairs, running avahi as ``host``.

        The last ``late_links`` of them stay down until :meth:`link_up`.
        """
        index = len(self.devices)
        ns = f"discd{self.tag}{index}"
        self._add_ns(ns)
        folder = self.root / ns
        (folder / "run" / "avahi-daemon").mkdir(parents=True)
        (folder / "services").mkdir()
        for service in services:
            shutil.copy(service, folder / "services" / service.name)
        device = Device(ns, host, [], folder)
        for link in range(links):
            name, peer = f"eth{link}", f"p{index}x{link}"
            _ip("-n", ns, "link", "add", name, "type", "veth", "peer", "name", peer, "netns", self.browser_ns)
            _ip("-n", self.browser_ns, "link", "set", peer, "master", "br0")
            _ip("-n", self.browser_ns, "link", "set", peer, "up")
            address = f"198.18.0.{self._next_host}"
            self._next_host += 1
            _ip("-n", ns, "addr", "add", f"{address}/{PREFIX}", "dev", name)
            _ip("-n", ns, "link", "set", name, "multicast", "on")
            if link < links - late_links:
                _ip("-n", ns, "link", "set", name, "up")
            device.addresses.append(address)
            device.links.append(name)
        _ip("-n", ns, "route", "add", "224.0.0.0/4", "dev", "eth0")
        (folder / "avahi-daemon.conf").write_text(CONFIG.format(host=host, interfaces=",".join(device.links)))
        self.devices.append(device)
        if start:
            self.start(device)
        return device

    def start(self, device: Device) -> None:
        """Start the device's avahi-daemon and wait until it has its host name."""
        before = len(device.log())
        log = open(device.folder / "avahi.log", "ab")  # noqa: SIM115 - owned by the daemon
        try:
            device.daemon = subprocess.Popen(
                ["ip", "netns", "exec", device.ns, "unshare", "-m", "--propagation", "private",
                 "sh", "-c", LAUNCH, "launch", str(device.folder)],
                stdout=log, stderr=subprocess.STDOUT,
            )
        finally:
            log.close()
        deadline = time.monotonic() + 10
        while "Server startup complete" not in device.log()[before:]:
            if device.daemon.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"avahi-daemon in {device.ns} did not start:\n{device.log()}")
            time.sleep(0.05)

    def restart_as(self, device: Device, host: str) -> None:
        """SIGKILL the daemon and start it again under another host name (what a conflict
        rename looks like from outside: the old name's records linger in caches, no goodbye)."""
        self.kill(device)
        device.host = host
        (device.folder / "avahi-daemon.conf").write_text(CONFIG.format(host=host, interfaces=",".join(device.links)))
        self.start(device)

    def link_up(self, device: Device, link: int) -> None:
        """Bring up a link made with ``late_links``."""
        _ip("-n", device.ns, "link", "set", device.links[link], "up")

    def kill(self, device: Device, sig: int = signal.SIGKILL) -> None:
        """Stop the device's daemon by its pid (SIGKILL: no goodbye packets)."""
        daemon = device.daemon
        if daemon is not None and daemon.poll() is None:
            os.kill(daemon.pid, sig)
            daemon.wait(10)

    def command(self, *argv: str) -> list[str]:
        """``argv`` run in the browser namespace."""
        return ["ip", "netns", "exec", self.browser_ns, *argv]

    def python(self, script: str, *args: str) -> list[str]:
        """A Python script run in the browser namespace with this interpreter."""
        return self.command(sys.executable, "-c", script, *args)

    def close(self) -> None:
        """Stop every daemon by pid and delete every namespace made here, by name."""
        for device in self.devices:
            try:
                self.kill(device, signal.SIGTERM)
            except (OSError, subprocess.TimeoutExpired):
                self.kill(device, signal.SIGKILL)
        for ns in reversed(self._namespaces):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=10)
        for resolv in self._resolv:
            shutil.rmtree(resolv, ignore_errors=True)
        shutil.rmtree(self.root, ignore_errors=True)


# Runs in the browser namespace: a DiscoveryService, its rows (merged with an optional saved
# profile) printed as one JSON line every 0.1 s and on every snapshot.
WATCH = r"""
import json, sys, threading, time
from spark_tui.core.devices import merge_devices
from spark_tui.core.models import DeviceProfile
from spark_tui.services.discovery.browser import DiscoveryService
opts = json.loads(sys.argv[1])
profiles = [DeviceProfile(name="saved", host=opts["profile"])] if opts.get("profile") else []
lock = threading.Lock()
def show(_snapshot=None):
    if service is None:
        return
    rows = merge_devices(profiles, service.snapshot(), {}, time.time(), seen=service.last_seen())
    line = json.dumps({"t": time.time(), "requeries": service.requeries, "rows": [
        {"key": r.key, "name": r.name, "host": r.host, "addresses": list(r.addresses), "port": r.port,
         "advertised": r.advertised, "name_only": r.name_only, "last_seen": r.last_seen, "model": r.model}
        for r in rows]})
    with lock:
        print(line, flush=True)
service = None
service = DiscoveryService(show, interfaces=opts.get("interfaces", []), refresh_after=opts.get("refresh_after", 60.0),
                           gone_after=opts.get("gone_after", 100.0), sweep=opts.get("sweep", False))
service.start()
print(json.dumps({"started": time.time()}), flush=True)
try:
    while True:
        time.sleep(0.1)
        show()
finally:
    service.close()
"""


class Watcher:
    """The WATCH script in the browser namespace, its lines read on a thread."""

    def __init__(self, lan: Lan, **options: object) -> None:
        import json
        import threading

        self._json = json
        self.lines: list[dict] = []
        self._cond = threading.Condition()
        self.process = subprocess.Popen(
            lan.python(WATCH, json.dumps(options)), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.started = self.wait_for(lambda line: "started" in line, 10, rows=False)["started"]

    def _read(self) -> None:
        assert self.process.stdout is not None
        for text in self.process.stdout:
            line = self._json.loads(text)
            with self._cond:
                self.lines.append(line)
                self._cond.notify_all()

    def wait_for(self, predicate, timeout: float, *, rows: bool = True) -> dict:
        """The first line (already read or still to come) that ``predicate`` accepts.

        Only lines holding rows are offered, unless ``rows`` is false.
        """
        deadline = time.monotonic() + timeout
        checked = 0
        with self._cond:
            while True:
                for line in self.lines[checked:]:
                    if (not rows or "rows" in line) and predicate(line):
                        return line
                checked = len(self.lines)
                left = deadline - time.monotonic()
                if left <= 0 or self.process.poll() is not None:
                    last = self.lines[-1] if self.lines else None
                    raise AssertionError(f"not seen within {timeout} s; last line: {last}")
                self._cond.wait(min(left, 0.5))

    def rows(self, line: dict, name_part: str = "") -> list[dict]:
        return [r for r in line.get("rows", []) if name_part in r["name"] or name_part in r["host"]]

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self._reader.join(5)
