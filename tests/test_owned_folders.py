"""Folders spark-tui makes for one run: one a killed spark-tui left (a master's control folder)
is swept by the next; folders of live processes, of other users and not made by us stay."""

from __future__ import annotations

import os
import pwd
import signal
import subprocess
import sys
from pathlib import Path

from spark_tui.services import owned_folders as control_folders

CHILD = """
import os, signal, sys
from pathlib import Path
from spark_tui.services.ssh.openssh_mux import OpenSSHMaster
master = OpenSSHMaster("127.0.0.1", 22, "nobody", host_key_alias="x", known_hosts=Path("/dev/null"))
print(Path(master.control_path).parent, flush=True)
os.kill(os.getpid(), signal.SIGKILL)  # as a copy killed with kill -9: nothing gets to clean up
"""


def _killed_owner_folder() -> Path:
    done = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, timeout=60)
    assert done.returncode == -signal.SIGKILL
    folder = Path(done.stdout.strip())
    assert folder.is_dir(), "the killed process left its folder"
    return folder


def test_a_folder_left_by_a_killed_spark_tui_is_swept_by_the_next_master():
    left = _killed_owner_folder()
    ours = control_folders.make_owned_folder()  # what the next OpenSSHMaster does
    try:
        assert not left.exists()
        assert ours.is_dir() and (ours / control_folders.OWNER).read_text().strip() == str(os.getpid())
    finally:
        control_folders.sweep_orphans()
        os.remove(ours / control_folders.OWNER)
        ours.rmdir()


def test_folders_of_running_processes_of_others_and_not_ours_are_kept(tmp_path: Path):
    root = tmp_path / "tmp"
    root.mkdir()
    sleeper = subprocess.Popen(["sleep", "30"])
    try:
        alive = root / "spark-tui-alive"
        alive.mkdir(mode=0o700)
        (alive / "owner").write_text(f"{sleeper.pid}\n")
        foreign = root / "spark-tui-foreign"  # another user's, its maker gone
        foreign.mkdir(mode=0o700)
        (foreign / "owner").write_text("999999999\n")
        nobody = pwd.getpwnam("nobody")
        os.chown(foreign, nobody.pw_uid, nobody.pw_gid)
        other = root / "spark-tui-demo-x"  # not a control folder: no owner file
        other.mkdir(mode=0o700)
        shared = root / "spark-tui-open"  # others may write into it: never ours to walk
        shared.mkdir()
        shared.chmod(0o777)
        (shared / "owner").write_text("999999999\n")
        link = root / "spark-tui-link"
        link.symlink_to(alive)
        gone = root / "spark-tui-gone"
        gone.mkdir(mode=0o700)
        (gone / "owner").write_text("999999999\n")
        (gone / "ssh.log").write_text("")
        assert control_folders.sweep_orphans(str(root)) == 1
        assert sorted(p.name for p in root.iterdir()) == [
            "spark-tui-alive", "spark-tui-demo-x", "spark-tui-foreign", "spark-tui-link", "spark-tui-open"]
    finally:
        sleeper.kill()
        sleeper.wait()


def test_the_demo_device_killed_hard_leaves_a_folder_the_next_run_removes():
    import threading

    child = subprocess.Popen([sys.executable, "-m", "spark_tui", "demo", "--serve"], stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, text=True)
    guard = threading.Timer(60, child.kill)  # a demo that never says where it lives fails, not hangs
    guard.start()
    try:
        folder = None
        for line in child.stdout:
            if line.startswith("known_hosts_file: "):
                folder = Path(line.split(": ", 1)[1].strip()).parent
                break
        assert folder is not None and folder.name.startswith("spark-tui-demo-")
    finally:
        guard.cancel()
        child.kill()  # SIGKILL: the demo's own clean-up never runs
        child.wait()
    assert folder.exists()
    fresh = control_folders.make_owned_folder()
    try:
        assert not folder.exists()
    finally:
        os.remove(fresh / control_folders.OWNER)
        fresh.rmdir()
