"""How long a coloured log takes to drain through the Shell pane, against OpenSSH, both in tmux.

Run (as root, for the test sshd):  .venv/bin/python -m benchmarks.bench_shell_drain [--quick]

A real OpenSSH sshd on 127.0.0.1; a log of ``\\x1b[32m...\\x1b[0m`` lines (10 MB; 2 MB with
--quick). In a 120x40 tmux pane, once with ``spark-tui shell lab`` and once with ``ssh`` to the
same server, the same command is typed: ``cat LOG; echo DRAIN-$((1+1))``. The time from Enter
until ``DRAIN-2`` shows on tmux's screen is the drain time (best of N, alternating). The ratio
is ssh's time over ours: >= 1.0 means the Shell pane keeps up with ssh in a terminal.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SPARK_TUI = str(Path(sys.executable).parent / "spark-tui")


class Pane:
    """One tmux server of our own running one program in a 120x40 pane."""

    def __init__(self, command: str, env: dict[str, str]) -> None:
        self.socket = f"spark-tui-drain-{os.getpid()}-{time.monotonic_ns()}"
        self.env = env
        self._tmux("new-session", "-d", "-s", "t", "-x", "120", "-y", "40", command)

    def _tmux(self, *args: str) -> str:
        return subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True, text=True, env=self.env, timeout=30).stdout

    def screen(self) -> str:
        return self._tmux("capture-pane", "-p", "-t", "t")

    def wait_for(self, text: str, timeout: float = 120.0, poll: float = 0.02) -> float:
        """Seconds until ``text`` is on the screen."""
        started = time.perf_counter()
        while time.perf_counter() - started < timeout:
            if text in self.screen():
                return time.perf_counter() - started
            time.sleep(poll)
        raise SystemExit(f"bench_shell_drain: the screen never showed {text!r}:\n{self.screen()}")

    def run(self, command: str) -> float:
        """Type ``command`` and Enter; seconds until DRAIN-2 shows."""
        self._tmux("send-keys", "-t", "t", "-l", command)
        time.sleep(0.3)
        self._tmux("send-keys", "-t", "t", "Enter")
        return self.wait_for("DRAIN-2")

    def close(self) -> None:
        self._tmux("kill-server")


def write_log(path: Path, megabytes: float) -> None:
    line = b"\x1b[32m2026-11-25T09:00:00.000Z INFO  [worker-3] request path=/api/v1/items status=200 in 1.25ms\x1b[0m\n"
    path.write_bytes(line * int(megabytes * 1e6 / len(line)))
    path.chmod(0o644)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a 2 MB log and one round")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if not shutil.which("tmux") or not shutil.which("ssh"):
        raise SystemExit("bench_shell_drain: needs tmux and ssh (apt-get install -y tmux openssh-client)")
    megabytes = 2.0 if args.quick else 10.0
    rounds = 1 if args.quick else args.rounds

    from spark_tui.config.store import ProfileStore
    from spark_tui.core.models import DeviceProfile
    from tests.sshd_server import Sshd

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        tmp.chmod(0o755)
        log = tmp / "coloured.log"
        write_log(log, megabytes)
        server = Sshd(tmp / "sshd")
        server.start()
        try:
            env = dict(os.environ, TERM="xterm-256color", XDG_CONFIG_HOME=str(tmp / "config"),
                       XDG_DATA_HOME=str(tmp / "data"), XDG_STATE_HOME=str(tmp / "state"))
            env.pop("TMUX", None)
            config = tmp / "profiles.toml"
            store = ProfileStore(config)
            store.set_setting("discovery_interfaces", ["127.0.0.1"])
            store.add_device(DeviceProfile(name="lab", host=server.host, port=server.port, user=server.user,
                                           identity_file=str(server.client_key)))
            known = tmp / "data" / "spark-tui" / "known_hosts"
            known.parent.mkdir(parents=True, exist_ok=True)
            known.write_bytes(server.known_hosts.read_bytes())
            clients = {
                "ssh": (
                    f"ssh -F /dev/null -i {server.client_key} -p {server.port} -o IdentitiesOnly=yes "
                    f"-o UserKnownHostsFile={server.known_hosts} -o StrictHostKeyChecking=yes {server.user}@{server.host}"
                ),
                "spark-tui shell": f"{SPARK_TUI} --config {config} shell lab",
            }
            best = {name: float("inf") for name in clients}
            command = f"PS1='$ '; cat {log}; echo DRAIN-$((1+1))"
            for _ in range(rounds):
                for name, launch in clients.items():
                    pane = Pane(launch, env)
                    try:
                        time.sleep(1.0)
                        pane.wait_for("$", timeout=60)
                        time.sleep(1.0)  # let the dashboard settle (first paint, connection)
                        best[name] = min(best[name], pane.run(command))
                    finally:
                        pane.close()
        finally:
            server.close()
    ours, theirs = best["spark-tui shell"], best["ssh"]
    print(f"{megabytes:.0f} MB coloured log drained in a 120x40 tmux pane, best of {rounds}:")
    print(f"  ssh in tmux:             {theirs:6.2f} s  ({megabytes / theirs:5.1f} MB/s)")
    print(f"  spark-tui shell in tmux: {ours:6.2f} s  ({megabytes / ours:5.1f} MB/s)")
    print(f"  ratio (ssh time / ours): {theirs / ours:.2f}  (>= 1.0: the Shell pane keeps up with ssh)")


if __name__ == "__main__":
    main()
