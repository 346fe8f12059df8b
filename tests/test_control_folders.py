"""OpenSSH masters' control folders: a spark-tui killed hard leaves one, the next master sweeps it;
folders of live processes, of other users and not made by us stay."""

from __future__ import annotations

import os
import pwd
import signal
import subprocess
import sys
from pathlib import Path

from spark_tui.services.ssh import control_folders

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
    ours = control_folders.make_control_folder()  # what the next OpenSSHMaster does
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
