"""Files another local user controls are never trusted, and nothing we create is open to them.

The tests run as root (as CI does) and stand for "another user" with ``nobody``: a file or
folder chowned to it is one that user could change or swap.
"""

from __future__ import annotations

import fcntl
import os
import pwd
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from spark_tui.config import locations
from spark_tui.config.store import ProfileStore
from spark_tui.core.errors import ConfigError, ConnectError
from spark_tui.core.models import Config, DeviceProfile

REPO = Path(__file__).resolve().parents[1]
NOBODY = pwd.getpwnam("nobody").pw_uid

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="chown to another user needs root (CI runs as root)")


def _profile(path: Path) -> Path:
    ProfileStore.create_seeded(path, Config(devices=(DeviceProfile("spark", "127.0.0.1", user="me"),)))
    return path


def _spark_tui(*argv: str, umask: int | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    before = (lambda: os.umask(umask)) if umask is not None else None
    return subprocess.run([sys.executable, "-m", "spark_tui", *argv], capture_output=True, text=True,
                          timeout=timeout, env=env, cwd=REPO, preexec_fn=before)


def test_a_profile_owned_by_another_user_is_refused_even_when_only_its_owner_can_write_it(tmp_path) -> None:
    path = _profile(tmp_path / "cfg" / "profiles.toml")
    os.chmod(path, 0o644)
    os.chown(path, NOBODY, -1)

    with pytest.raises(ConfigError) as refused:
        ProfileStore(path).load()

    assert str(path) in refused.value.message and "owned by another user (nobody)" in refused.value.message
    assert refused.value.hint == f"fix it with: chown root {path}"


@pytest.mark.parametrize("mode", [0o777, 0o775, 0o757], ids=["0777", "0775", "0757"])
def test_a_profile_in_a_folder_others_can_write_is_refused_naming_the_folder_and_the_chmod(tmp_path, mode) -> None:
    folder = tmp_path / "shared"
    path = _profile(folder / "profiles.toml")
    os.chmod(folder, mode)  # another user could rename ours away and put theirs in its place

    with pytest.raises(ConfigError) as refused:
        ProfileStore(path).load()

    assert f"its folder {folder} is writable by other users" in refused.value.message
    assert refused.value.hint == f"fix it with: chmod go-w {folder}"


def test_a_profile_in_a_folder_owned_by_another_user_is_refused(tmp_path) -> None:
    folder = tmp_path / "theirs"
    path = _profile(folder / "sub" / "profiles.toml")
    os.chown(folder, NOBODY, -1)

    with pytest.raises(ConfigError) as refused:
        ProfileStore(path).load()

    assert f"its folder {folder} is owned by another user" in refused.value.message and "chown root" in refused.value.hint


def test_a_profile_reached_through_a_symlink_into_a_folder_others_control_is_refused(tmp_path) -> None:
    theirs = tmp_path / "theirs"
    target = _profile(theirs / "profiles.toml")
    os.chown(theirs, NOBODY, -1)
    mine = tmp_path / "mine"
    mine.mkdir(mode=0o700)
    (mine / "profiles.toml").symlink_to(target)

    with pytest.raises(ConfigError):
        ProfileStore(mine / "profiles.toml").load()


def test_a_folder_owned_by_root_with_the_sticky_bit_like_tmp_is_accepted(tmp_path) -> None:
    sticky = tmp_path / "sticky"
    sticky.mkdir()
    os.chmod(sticky, 0o1777)
    mine = sticky / "mine"
    path = _profile(mine / "profiles.toml")

    assert ProfileStore(path).load().device("spark") is not None


def test_known_hosts_owned_by_another_user_is_refused_with_the_chown_that_fixes_it(tmp_path) -> None:
    from spark_tui.services.ssh.known_hosts import KnownHosts

    path = tmp_path / "data" / "known_hosts"
    path.parent.mkdir(mode=0o700)
    path.write_text("")
    os.chmod(path, 0o600)
    os.chown(path, NOBODY, -1)  # they planted their host key here

    with pytest.raises(ConnectError) as refused:
        KnownHosts(path).entries()

    assert "owned by another user" in refused.value.message and f"chown root {path}" in refused.value.hint


def test_known_hosts_in_a_folder_others_can_write_is_refused(tmp_path) -> None:
    from spark_tui.services.ssh.known_hosts import KnownHosts

    folder = tmp_path / "data"
    folder.mkdir()
    os.chmod(folder, 0o777)
    (folder / "known_hosts").write_text("")
    os.chmod(folder / "known_hosts", 0o600)

    with pytest.raises(ConnectError) as refused:
        KnownHosts(folder / "known_hosts").entries()

    assert f"chmod go-w {folder}" in refused.value.hint


def test_a_private_key_owned_by_another_user_or_in_their_folder_is_refused(tmp_path) -> None:
    from spark_tui.services.ssh.connection import load_identity

    keys = tmp_path / "keys"
    keys.mkdir(mode=0o700)
    key = keys / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    assert load_identity(str(key)) is not None
    os.chown(key, NOBODY, -1)
    with pytest.raises(ConnectError) as owned:
        load_identity(str(key))
    os.chown(key, 0, -1)
    os.chown(keys, NOBODY, -1)
    with pytest.raises(ConnectError) as folder:
        load_identity(str(key))

    assert "owned by another user" in owned.value.message and f"chown root {key}" in owned.value.hint
    assert str(keys) in folder.value.message


def test_under_umask_000_every_folder_we_create_is_0700(tmp_path) -> None:
    home = tmp_path / "xdg"
    config = home / "config" / "deep" / "spark-tui" / "profiles.toml"

    added = _spark_tui("--config", str(config), "device", "add", "spark", "--host", "127.0.0.1", umask=0)
    # known_hosts, keys and the log's folders too: a demo-free path that creates them all.
    env_probe = subprocess.run(
        [sys.executable, "-c", "import os; os.umask(0); from spark_tui.config import locations as l;"
         "from spark_tui.services.ssh.known_hosts import write_private_file as w;"
         "l.keys_dir(); l.state_dir(); w(l.known_hosts_path(), b'')"],
        env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True, text=True, timeout=60, cwd=REPO,
    )

    assert added.returncode == 0, added.stderr
    assert env_probe.returncode == 0, env_probe.stderr
    created = [p for p in home.rglob("*") if p.is_dir()] + [home]
    assert len(created) >= 6
    loose = {str(p): oct(stat.S_IMODE(p.stat().st_mode)) for p in created if stat.S_IMODE(p.stat().st_mode) != 0o700}
    assert loose == {}
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    assert stat.S_IMODE(locations.known_hosts_path().stat().st_mode) == 0o600


def test_a_lock_file_planted_by_another_user_is_refused_at_once_with_a_clear_message(tmp_path) -> None:
    path = _profile(tmp_path / "cfg" / "profiles.toml")
    lock = path.with_name("profiles.toml.lock")
    lock.unlink(missing_ok=True)
    lock.write_text("")
    os.chown(lock, NOBODY, -1)

    started = time.monotonic()
    done = _spark_tui("--config", str(path), "device", "add", "other", "--host", "127.0.0.2")

    assert done.returncode == 1 and time.monotonic() - started < 30
    assert f"{lock} is not a file of ours" in done.stderr and f"rm {lock}" in done.stderr
    assert ProfileStore(path).load().device("other") is None


def test_a_symlinked_lock_file_is_not_followed(tmp_path) -> None:
    path = _profile(tmp_path / "cfg" / "profiles.toml")
    victim = tmp_path / "victim"
    victim.write_text("precious")
    os.chmod(victim, 0o644)
    lock = path.with_name("profiles.toml.lock")
    lock.unlink(missing_ok=True)
    lock.symlink_to(victim)

    done = _spark_tui("--config", str(path), "device", "add", "other", "--host", "127.0.0.2")

    assert done.returncode == 1 and "symbolic link" in done.stderr
    assert victim.read_text() == "precious" and stat.S_IMODE(victim.stat().st_mode) == 0o644


def test_a_lock_held_by_another_program_makes_device_add_give_up_after_a_few_seconds(tmp_path) -> None:
    path = _profile(tmp_path / "cfg" / "profiles.toml")
    lock = path.with_name("profiles.toml.lock")
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)  # a stuck writer
    try:
        started = time.monotonic()
        try:
            done = _spark_tui("--config", str(path), "device", "add", "other", "--host", "127.0.0.2", timeout=30)
        except subprocess.TimeoutExpired:
            pytest.fail("device add waited for the lock for 30 s")
        waited = time.monotonic() - started
    finally:
        os.close(fd)

    assert done.returncode == 1 and 2 < waited < 25
    assert "held the writers' lock" in done.stderr and done.stderr.count("\n") == 1


def _load_in_a_process(path: Path, timeout: float = 20) -> tuple[subprocess.CompletedProcess, float]:
    started = time.monotonic()
    try:
        done = _spark_tui("--config", str(path), "device", "list", timeout=timeout)
    except subprocess.TimeoutExpired:
        pytest.fail(f"reading the profile took more than {timeout} s")
    return done, time.monotonic() - started


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("one 64 KiB dotted key", "x" + ".x" * 32_000 + " = 1\n"),
        ("512 KiB of dotted keys", "".join(f"devices.k{i}.host = \"h\"\n" for i in range(22_000))),
        ("200 KiB of deep dotted keys", "".join("a" + ".b" * 8 + f".k{i} = 1\n" for i in range(8_000))),
        ("200 KiB of dotted keys in inline tables", "".join(f"t{i} = {{a.b = 1, a.c = 2, a.d = 3}}\n" for i in range(7_000))),
        ("200 KiB of table headers", "".join(f"[devices.h{i}]\n" for i in range(12_000))),
    ],
    ids=lambda value: value if len(value) < 60 else "",
)
def test_a_profile_too_big_in_shape_is_refused_before_parsing_with_a_clear_error(tmp_path, name, text) -> None:
    path = tmp_path / "cfg" / "profiles.toml"
    path.parent.mkdir(mode=0o700)
    path.write_text(text)
    os.chmod(path, 0o600)

    done, took = _load_in_a_process(path)

    assert done.returncode == 1 and done.stderr.startswith(f"spark-tui: error: {path}"), done.stderr
    assert done.stderr.count("\n") == 1 and "this is not a profile file" in done.stderr or "dotted keys" in done.stderr
    assert took < 15  # the process itself, not the parse, is most of this


def test_a_large_but_ordinary_profile_of_300_devices_still_loads() -> None:
    from spark_tui.config.reading import _shape_problem

    text = "".join(
        f'[devices.spark-{i}]\nhost = "10.0.{i // 250}.{i % 250}"\nuser = "me"\ntags = ["lab", "gpu"]\nport = 22\n'
        f'[[devices.spark-{i}.tunnels]]\nname = "jupyter"\nremote_port = 8888\nlocal_port = {20000 + i}\n'
        f'[[devices.spark-{i}.tunnels]]\nname = "web"\nremote_port = 80\nlocal_port = {30000 + i}\nbrowser_path = "/a.b/c.d"\n'
        for i in range(300)
    ) + "[settings]\ntelemetry_interval = 1.5\n"

    assert _shape_problem(text) is None


def test_device_import_refuses_an_ssh_config_another_user_can_change(tmp_path) -> None:
    source = tmp_path / "ssh" / "config"
    source.parent.mkdir(mode=0o700)
    source.write_text("Host lab\n  HostName 127.0.0.1\n  User me\n")
    os.chmod(source, 0o666)
    config = tmp_path / "cfg" / "profiles.toml"

    done = _spark_tui("--config", str(config), "device", "import", "--from", str(source))
    os.chmod(source, 0o600)
    fixed = _spark_tui("--config", str(config), "device", "import", "--from", str(source))

    assert done.returncode == 1 and f"chmod 600 {source}" in done.stderr
    assert fixed.returncode == 0 and "imported lab" in fixed.stdout
