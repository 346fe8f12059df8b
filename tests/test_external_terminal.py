"""Which terminal the external shell opens in, and the ssh config it uses."""

import os
import stat
import subprocess

import pytest

from spark_tui.core.errors import SparkError
from spark_tui.core.models import DeviceProfile
from spark_tui.services.shell.external_terminal import terminal_command, write_terminal_config

SSH = ["ssh", "-F", "/cfg", "lab"]


def test_inside_tmux_the_shell_opens_in_a_new_tmux_window_named_after_the_device():
    assert terminal_command("lab", SSH, {"TMUX": "/tmp/tmux-0/default,1,0"})[:4] == ["tmux", "new-window", "-n", "lab"]


def test_terminal_from_the_environment_wins_outside_tmux():
    assert terminal_command("lab", SSH, {"TERMINAL": "foot --app-id spark"}) == ["foot", "--app-id", "spark", "-e", *SSH]


def test_without_any_terminal_the_error_says_how_to_name_one():
    with pytest.raises(SparkError) as caught:
        terminal_command("lab", SSH, {})
    assert "$TERMINAL" in caught.value.hint


def test_the_terminal_config_checks_host_keys_against_our_known_hosts_and_is_private(sshd):
    profile = DeviceProfile(name="lab", host=sshd.host, port=sshd.port, user=sshd.user, identity_file=str(sshd.client_key), demo=True)
    from spark_tui.config import locations

    locations.known_hosts_path().write_bytes(sshd.known_hosts.read_bytes())
    path = write_terminal_config([profile])
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    text = path.read_text()
    assert "StrictHostKeyChecking yes" in text and str(locations.known_hosts_path()) in text
    # The very command the terminal runs, minus the terminal: OpenSSH logs in with it.
    out = subprocess.run(["ssh", "-F", str(path), "-o", "BatchMode=yes", "lab", "echo", "ok"], capture_output=True, text=True, timeout=30)
    assert out.stdout.strip() == "ok", out.stderr
