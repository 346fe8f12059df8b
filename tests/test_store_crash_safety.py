"""Saves survive SIGKILL at any moment, and concurrent writers never lose each other's change.

These tests use real child processes (``os.fork``) and real ``SIGKILL``s. A child saves in a
loop and reports on a pipe "s K" before and "d K" after each save K; the parent kills it after
a random delay. Whatever the moment, the file must then parse and hold the last finished save
or the one in flight, never a mix, still 0600, with the user's comment.
"""

from __future__ import annotations

import os
import random
import signal
import stat
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from spark_tui.config.store import ProfileStore
from spark_tui.core.errors import ConfigConflict
from spark_tui.core.models import DeviceProfile

SEED = """\
# hand-written, must survive every crash
[devices.keep]   # never touched by the test
host = "keep.local"

[devices.box]
host = "h0.example"
"""


def box(k: int) -> DeviceProfile:
    """Save number ``k``: the box's fields all encode ``k`` so a mix of two saves is visible."""
    return DeviceProfile("box", host=f"h{k}.example", port=1000 + k % 60000, tags=(f"t{k}",), user=f"u{k}")


def state_on_disk(path: Path) -> int:
    """Which save the file holds, after checking it is whole and consistent."""
    config = ProfileStore(path).load()  # raises if the file is torn or invalid
    assert [d.name for d in config.devices] == ["keep", "box"]
    found = config.device("box")
    k = int(found.host[1:].split(".")[0])
    if k:  # written by a save (the seed, k == 0, may still be the user's 0644 file)
        assert found == box(k), f"fields from different saves: {found}"
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "# hand-written, must survive every crash" in path.read_text()
    return k


def in_child(body: Callable[[int], None]) -> tuple[int, int]:
    """Fork; the child runs ``body(write_fd)`` and exits. Returns (pid, read_fd)."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        code = 0
        try:
            os.close(read_fd)
            body(write_fd)
        except BaseException:  # noqa: BLE001
            code = 1
        finally:
            os._exit(code)
    os.close(write_fd)
    return pid, read_fd


def read_all(fd: int) -> str:
    chunks = []
    while chunk := os.read(fd, 65536):
        chunks.append(chunk)
    os.close(fd)
    return b"".join(chunks).decode()


def saver(path: Path, start: int) -> Callable[[int], None]:
    def body(progress: int) -> None:
        store = ProfileStore(path)
        store.load()
        k = start
        while True:
            k += 1
            os.write(progress, f"s {k}\n".encode())
            store.update_device(box(k))
            os.write(progress, f"d {k}\n".encode())

    return body


def kill_randomly(path: Path, kills: int, seconds: float) -> dict[str, int]:
    """SIGKILL a saving child ``kills`` times (or until ``seconds`` pass); check after each."""
    path.write_text(SEED)
    os.chmod(path, 0o644)
    rng = random.Random(1234)
    state = 0
    counts = {"kills": 0, "in_flight": 0, "new_on_disk": 0}
    deadline = time.monotonic() + seconds
    while counts["kills"] < kills and time.monotonic() < deadline:
        pid, progress = in_child(saver(path, state))
        time.sleep(rng.uniform(0, 0.04))
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        lines = read_all(progress).split()
        events = list(zip(lines[::2], map(int, lines[1::2])))
        done = [k for what, k in events if what == "d"]
        last_done = done[-1] if done else state
        on_disk = state_on_disk(path)
        assert on_disk in (last_done, last_done + 1), f"disk holds save {on_disk}, last finished {last_done}"
        counts["kills"] += 1
        counts["in_flight"] += bool(events) and events[-1][0] == "s"
        counts["new_on_disk"] += on_disk == last_done + 1
        state = on_disk
    return counts


def test_a_save_killed_at_random_moments_leaves_the_old_or_the_new_file(tmp_path: Path) -> None:
    path = tmp_path / "profiles.toml"

    counts = kill_randomly(path, kills=400, seconds=20)

    print(f"crash points: {counts}")
    assert counts["kills"] >= 100 and counts["in_flight"] >= 50
    ProfileStore(path).update_device(box(10**6))  # the next save tidies the dead writers' temp files
    assert sorted(p.name for p in tmp_path.iterdir()) == ["profiles.toml", "profiles.toml.lock"]


@pytest.mark.slow
def test_thousands_of_random_kills_leave_the_old_or_the_new_file(tmp_path: Path) -> None:
    counts = kill_randomly(tmp_path / "profiles.toml", kills=3000, seconds=300)

    print(f"crash points: {counts}")
    assert counts["kills"] >= 1000


@pytest.mark.parametrize("step", ["before_fsync", "before_replace", "after_replace"])
def test_a_crash_at_each_step_of_a_save_leaves_the_old_or_the_new_file(tmp_path: Path, step: str) -> None:
    path = tmp_path / "profiles.toml"
    path.write_text(SEED)
    os.chmod(path, 0o600)

    def crash_at_step(progress: int) -> None:
        real_fsync, real_replace = os.fsync, os.replace

        def fsync(fd: int) -> None:
            if step == "before_fsync":
                os._exit(9)
            real_fsync(fd)

        def replace(src: str, dst: str) -> None:
            if step == "before_replace":
                os._exit(9)
            real_replace(src, dst)
            if step == "after_replace":
                os._exit(9)

        os.fsync, os.replace = fsync, replace
        ProfileStore(path).update_device(box(1))

    pid, progress = in_child(crash_at_step)
    _, status = os.waitpid(pid, 0)
    read_all(progress)

    assert os.waitstatus_to_exitcode(status) == 9
    assert state_on_disk(path) == (1 if step == "after_replace" else 0)
    ProfileStore(path).update_device(box(2))
    assert state_on_disk(path) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["profiles.toml", "profiles.toml.lock"]


def adder(path: Path, prefix: str, count: int) -> Callable[[int], None]:
    def body(progress: int) -> None:
        store = ProfileStore(path)
        store.load()
        for i in range(count):
            store.add_device(DeviceProfile(f"{prefix}-{i}", host=f"{prefix}{i}.local"))
        os.write(progress, b"ok")

    return body


def test_two_processes_adding_devices_at_once_lose_neither_change(tmp_path: Path) -> None:
    path = tmp_path / "profiles.toml"
    path.write_text(SEED)
    children = [in_child(adder(path, prefix, 40)) for prefix in ("left", "right")]

    results = []
    for pid, progress in children:
        _, status = os.waitpid(pid, 0)
        results.append((os.waitstatus_to_exitcode(status), read_all(progress)))

    assert results == [(0, "ok"), (0, "ok")]
    names = {d.name for d in ProfileStore(path).load().devices}
    assert names == {"keep", "box"} | {f"{p}-{i}" for p in ("left", "right") for i in range(40)}
    assert "# hand-written, must survive every crash" in path.read_text()


def test_two_processes_changing_the_same_device_either_both_land_or_one_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "profiles.toml"
    path.write_text(SEED)
    first, second = ProfileStore(path), ProfileStore(path)
    first.load()
    second.load()

    first.update_device(box(1))
    with pytest.raises(ConfigConflict) as caught:
        second.update_device(box(2))

    assert caught.value.field == "devices.box" and state_on_disk(path) == 1
    second.reload_if_changed()
    second.update_device(box(2))
    assert state_on_disk(path) == 2
