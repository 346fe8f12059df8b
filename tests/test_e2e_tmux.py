"""spark-tui tried as a new user would: the real program in a real terminal (tmux), keys typed,
the screen read back. Uses the built-in demo device and the real sshd; all on loopback."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

SPARK_TUI = str(Path(sys.executable).parent / "spark-tui")


class Terminal:
    """A tmux server of our own (its own socket) running one program in one pane."""

    def __init__(self, command: str, env: dict[str, str], cols: int = 140, rows: int = 42) -> None:
        if not shutil.which("tmux"):
            pytest.fail("tmux is needed for the end-to-end tests: apt-get install -y tmux", pytrace=False)
        self.socket = f"spark-e2e-{os.getpid()}-{time.monotonic_ns()}"
        self.env = env
        self.started = time.monotonic()
        self._tmux("new-session", "-d", "-s", "t", "-x", str(cols), "-y", str(rows), command)

    def _tmux(self, *args: str) -> str:
        return subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True, text=True, env=self.env, timeout=20).stdout

    def screen(self) -> str:
        return self._tmux("capture-pane", "-p", "-t", "t")

    def keys(self, *keys: str) -> None:
        self._tmux("send-keys", "-t", "t", *keys)

    def type(self, text: str) -> None:
        self._tmux("send-keys", "-t", "t", "-l", text)

    def resize(self, cols: int, rows: int) -> None:
        self._tmux("resize-window", "-t", "t", "-x", str(cols), "-y", str(rows))

    def wait_for(self, test: str | Callable[[str], object], timeout: float = 30.0) -> str:
        """Wait until the screen contains ``test`` (or ``test(screen)`` is true); return the screen."""
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen()
            if (test in screen) if isinstance(test, str) else test(screen):
                return screen
            time.sleep(0.1)
        raise AssertionError(f"screen never showed {test!r}; last screen:\n{screen}")

    def close(self) -> None:
        self._tmux("kill-server")


@pytest.fixture
def terminal_env(tmp_path) -> dict[str, str]:
    home = tmp_path / "xdg"
    return dict(
        os.environ,
        TERM="xterm-256color",
        XDG_CONFIG_HOME=str(home / "config"),
        XDG_DATA_HOME=str(home / "data"),
        XDG_STATE_HOME=str(home / "state"),
    )


@pytest.fixture
def demo(terminal_env):
    term = Terminal(f"{SPARK_TUI} demo", terminal_env)
    yield term
    term.close()


def shell_lines(screen: str) -> list[str]:
    """The lines of the Shell pane (the terminal starts after the pane's left border)."""
    return [m.group(1).rstrip() for m in re.finditer(r"│ ([^│]*)│$", screen, re.M)]


def left_pane_text(screen: str) -> str:
    """The left column's text as one line (a detail wrapped over several rows reads whole)."""
    cells = [line.split("│")[1] for line in screen.splitlines() if line.count("│") >= 2]
    return " ".join(" ".join(cells).replace("▊", " ").split())


def stty_sizes(screen: str) -> list[tuple[int, int]]:
    return [(int(m.group(1)), int(m.group(2))) for line in shell_lines(screen) if (m := re.fullmatch(r"(\d+) (\d+)", line))]


def test_the_demo_spark_appears_by_discovery_connects_and_shows_live_telemetry(demo):
    # The demo connects its device at start; it is also advertised over mDNS on loopback, and
    # its saved row says discovery saw it.
    demo.wait_for("connected · demo: this computer")
    demo.wait_for(lambda s: "saved · seen on the network" in left_pane_text(s))
    first = demo.wait_for(lambda s: re.search(r"GPU 0\s+\d+%", s))
    gpu = re.search(r"GPU 0\s+(\d+%\s+\d+°\s+\d+W)", first).group(1)
    # The nvidia-smi stand-in varies its numbers: the card must update on screen.
    demo.wait_for(lambda s: (m := re.search(r"GPU 0\s+(\d+%\s+\d+°\s+\d+W)", s)) and m.group(1) != gpu, timeout=20)


def test_the_demo_is_live_at_once_gpu_telemetry_and_its_dashboard_tunnel_with_no_key_pressed(demo):
    # A first-time user types `spark-tui demo` and waits: nothing to know, nothing to press.
    try:
        screen = demo.wait_for(lambda s: re.search(r"GPU 0\s+\d+%", s), timeout=15.0 - (time.monotonic() - demo.started))
        assert "connected · demo: this computer" in screen
        demo.wait_for(re.compile(r"● up\s+spark-demo/dashboard").search, timeout=10)
        # The Shell pane's empty state says which key opens a shell.
        assert "press t" in screen
    finally:
        demo._tmux("kill-session", "-t", "t")


def test_a_shell_tab_runs_a_command_and_follows_the_terminal_size(demo):
    demo.wait_for("spark-demo")
    demo.keys("Enter")
    demo.wait_for("connected · demo")
    demo.keys("t")
    demo.wait_for(lambda s: any(line.endswith(("$", "#")) for line in shell_lines(s)))
    demo.type("echo hel''lo")
    demo.keys("Enter")
    demo.wait_for(lambda s: "hello" in shell_lines(s))
    demo.type("stty size")
    demo.keys("Enter")
    before = demo.wait_for(lambda s: stty_sizes(s))
    demo.resize(180, 50)
    time.sleep(1.0)
    demo.type("clear; stty size")
    demo.keys("Enter")
    after = demo.wait_for(lambda s: stty_sizes(s) and stty_sizes(s)[-1] != stty_sizes(before)[-1])
    (rows0, cols0), (rows1, cols1) = stty_sizes(before)[-1], stty_sizes(after)[-1]
    assert rows1 > rows0 and cols1 > cols0


def test_the_command_palette_connects_to_a_device(demo):
    # The demo connects its device at start; disconnect it first so the palette has a
    # "Connect to" command to offer (connected devices get none).
    demo.wait_for("connected · demo")
    demo.keys("x")
    demo.wait_for(lambda screen: "connected · demo" not in screen)
    demo.keys("C-p")
    demo.wait_for("Search for commands")
    demo.type("connect to spark-demo")
    demo.wait_for("Connect to spark-demo")
    demo.keys("Enter")
    demo.wait_for("connected · demo")


def test_a_key_rebound_in_the_profile_file_works_after_a_restart(tmp_path, terminal_env):
    from spark_tui.config.store import ProfileStore

    config = tmp_path / "profiles.toml"
    store = ProfileStore(config)
    store.set_setting("discovery_interfaces", ["127.0.0.1"])  # network rule: loopback only
    store.set_key("app.help", "f1")
    command = f"{SPARK_TUI} --config {config}"
    term = Terminal(command, terminal_env)
    try:
        term.wait_for("Devices")
        term.keys("?")
        time.sleep(1.0)
        assert "Binding id" not in term.screen()  # ? no longer opens the keys screen
        term.keys("F1")
        term.wait_for("Binding id")
    finally:
        term.close()


def test_shift_t_opens_the_device_in_a_new_tmux_window_with_openssh(demo):
    demo.wait_for("spark-demo")
    demo.keys("T")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and "spark-demo" not in demo._tmux("list-windows", "-F", "#{window_name}"):
        time.sleep(0.1)
    assert "spark-demo" in demo._tmux("list-windows", "-F", "#{window_name}")
    # OpenSSH logged in with our key and known_hosts (StrictHostKeyChecking yes): run a command.
    demo._tmux("send-keys", "-t", "t:spark-demo", "-l", "echo via-open''ssh")
    demo._tmux("send-keys", "-t", "t:spark-demo", "Enter")
    deadline = time.monotonic() + 20
    screen = ""
    while time.monotonic() < deadline:
        screen = demo._tmux("capture-pane", "-p", "-t", "t:spark-demo")
        if re.search(r"^via-openssh$", screen, re.M):
            break
        time.sleep(0.1)
    assert re.search(r"^via-openssh$", screen, re.M), screen


def test_spark_tui_shell_name_opens_straight_into_a_shell_on_that_device(tmp_path, terminal_env, sshd):
    from spark_tui.config.store import ProfileStore
    from spark_tui.core.models import DeviceProfile

    config = tmp_path / "profiles.toml"
    store = ProfileStore(config)
    store.set_setting("discovery_interfaces", ["127.0.0.1"])
    store.add_device(DeviceProfile(name="lab", host=sshd.host, port=sshd.port, user=sshd.user, identity_file=str(sshd.client_key)))
    known = Path(terminal_env["XDG_DATA_HOME"]) / "spark-tui" / "known_hosts"
    known.parent.mkdir(parents=True, exist_ok=True)
    known.write_bytes(sshd.known_hosts.read_bytes())
    term = Terminal(f"{SPARK_TUI} --config {config} shell lab", terminal_env)
    try:
        term.wait_for(lambda s: any(line.endswith(("$", "#")) for line in shell_lines(s)))
        term.type("echo shell-$((6*7))")
        term.keys("Enter")
        term.wait_for(lambda s: "shell-42" in shell_lines(s))
    finally:
        term.close()


def test_copy_mode_copies_what_the_shell_shows_to_the_outer_terminals_clipboard(demo):
    # tmux is the outer terminal here: with set-clipboard on it takes the app's OSC 52 copy into
    # its paste buffer, which is the user's clipboard as far as spark-tui can know.
    demo._tmux("set", "-g", "set-clipboard", "on")
    demo.wait_for("connected · demo")
    demo.keys("t")
    demo.wait_for(lambda s: any(line.endswith(("$", "#")) for line in shell_lines(s)))
    demo.type("clear; printf 'one   \\n日本語 two\\n'; printf 'x%.0s' $(seq 150); echo")
    demo.keys("Enter")
    demo.wait_for(lambda s: "日本語 two" in shell_lines(s))
    demo.keys("-H", *"1b 5b 33 32 3b 36 75".split())  # ctrl+shift+space as the kitty protocol sends it
    demo.wait_for("Copy  / Search")  # the footer lists copy mode's keys
    demo.keys("g", "V", "j", "j", "j", "y")
    deadline = time.monotonic() + 10
    while (copied := demo._tmux("show-buffer")) == "" and time.monotonic() < deadline:
        time.sleep(0.1)
    assert copied == "one\n日本語 two\n" + "x" * 150  # trailing blanks cut, the wrapped line whole
    # shift+pageup then v is the way in where ctrl+shift+space does not arrive.
    demo.keys("S-PPage", "v")
    demo.wait_for("V Lines")
    demo.keys("Escape")
    demo.wait_for("ctrl+shift+space Copy mode")  # the footer's, not the "Copied" toast's title
    demo.type("echo after")
    demo.keys("Enter")
    demo.wait_for(lambda s: "after" in shell_lines(s))
