"""Folders going up as one tar stream: a staging folder renamed at the end, resumed, started over, refused."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from spark_tui.core.files import Place, part_name
from spark_tui.services.files import CopyOptions
from tests.files_helpers import RemoteFolder, kill_copy_when, make_tree, run_cli, tree_listing, trust_and_save
from tests.test_files_faults import transfer

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def remote(sshd):
    trust_and_save(sshd)
    folder = RemoteFolder(sshd)
    yield folder
    folder.remove()


def many_files(root: Path, count: int, size: int) -> None:
    for index in range(count):
        folder = root / f"d{index % 7}" / f"e{index % 3}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"f{index:05d}.bin").write_bytes(os.urandom(size))
        os.utime(folder / f"f{index:05d}.bin", (1_600_000_000 + index, 1_600_000_000 + index))


@pytest.mark.parametrize("openssh", [False, True], ids=["asyncssh", "openssh-master"])
async def test_a_resumed_folder_stream_sends_only_the_files_its_staging_folder_lacks(remote, tmp_path: Path, openssh: bool):
    src = tmp_path / "data"
    many_files(src, 40, 10_000)
    make_tree(src / "model")
    staging = remote.local / part_name("data")
    shutil.copytree(src, staging, symlinks=True)  # what an interrupted stream left: most files complete
    complete = sorted(staging.rglob("f*.bin"))
    for missing in complete[:10]:
        missing.unlink()
    half = complete[10]
    half.write_bytes(half.read_bytes()[:5_000])  # cut off mid-file: short, and tar had not set its time
    remote.own(staging)

    result, _ = await transfer("dev", [Place(None, str(src))], Place("dev", remote.name), recursive=True,
                               options=CopyOptions(resume=True), openssh=openssh)
    assert tree_listing(remote.local / "data") == tree_listing(src)
    assert not staging.exists()
    assert result.sent == 11 * 10_000  # the ten missing files and the cut one, nothing else
    assert result.files_done == result.files_total


async def test_without_resume_a_staging_folder_left_behind_is_started_over(remote, tmp_path: Path):
    src = tmp_path / "data"
    many_files(src, 12, 1_000)
    staging = remote.local / part_name("data")
    (staging / "d0" / "e0").mkdir(parents=True)
    (staging / "d0" / "e0" / "stale.bin").write_bytes(b"from an older copy")
    remote.own(staging)
    result, _ = await transfer("dev", [Place(None, str(src))], Place("dev", remote.name), recursive=True)
    assert tree_listing(remote.local / "data") == tree_listing(src)
    assert result.sent == 12 * 1_000


def test_a_folder_copy_killed_mid_stream_leaves_nothing_under_its_name_and_resume_completes_it(
        remote, tmp_path: Path, monkeypatch, capsys):
    src = tmp_path / "data"
    many_files(src, 2_000, 48 << 10)
    staging = remote.local / part_name("data")
    child = subprocess.Popen(
        [sys.executable, "-m", "spark_tui", "copy", "--quiet", "-r", str(src), remote.spec()],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    kill_copy_when(child, lambda: staging.exists() and sum(1 for _ in staging.rglob("*.bin")) > 100, poll=0.005)
    assert not (remote.local / "data").exists()
    assert staging.is_dir()

    code, _, err = run_cli(["copy", "-r", "--resume", "--quiet", str(src), remote.spec()], monkeypatch, capsys)
    assert code == 0, err
    assert tree_listing(remote.local / "data") == tree_listing(src)
    assert not staging.exists()


def test_a_folder_sent_where_the_device_user_may_not_write_says_permission_denied(remote, tmp_path: Path, monkeypatch, capsys):
    src = tmp_path / "model"
    make_tree(src)
    locked = remote.local / "locked"
    locked.mkdir(mode=0o555)  # root-owned, read-only for the device user
    code, _, err = run_cli(["copy", "-r", str(src), remote.spec(sub="locked/")], monkeypatch, capsys)
    assert code == 1
    assert f"{remote.name}/locked/model: permission denied" in err and err.count("\n") == 1
    assert list(locked.iterdir()) == []


@pytest.mark.parametrize("openssh", [False, True], ids=["asyncssh", "openssh-master"])
async def test_a_folder_stream_goes_on_after_the_sshd_is_restarted_under_it(sshd_factory, tmp_path: Path, openssh: bool):
    from spark_tui.core.files import TransferState

    server = sshd_factory()
    trust_and_save(server)
    folder = RemoteFolder(server)
    try:
        src = tmp_path / "data"
        many_files(src, 3_000, 48 << 10)
        total = 3_000 * (48 << 10)
        restarted = []

        def restart_once(progress) -> None:
            if not restarted and progress.done > 16 << 20:  # progress comes 10 times a second: well before the end
                restarted.append(progress.done)
                server.restart()  # blocks the loop meanwhile: the kill lands mid-stream for sure

        result, seen = await transfer("dev", [Place(None, str(src))], Place("dev", folder.name), recursive=True,
                                      on_progress=restart_once, openssh=openssh)
        assert restarted
        assert any(p.state is TransferState.RECONNECTING for p in seen)
        assert result.state is TransferState.DONE
        assert tree_listing(folder.local / "data") == tree_listing(src)
        assert not (folder.local / part_name("data")).exists()
        assert result.done == total and result.files_done == result.files_total == 3_000
        # Continued from what the staging folder held (again: only what was in flight, a few MiB),
        # not started over (again: everything sent before the restart).
        assert result.sent < total + restarted[0] * 3 // 4
    finally:
        folder.remove()


@pytest.mark.parametrize("openssh", [False, True], ids=["asyncssh", "openssh-master"])
async def test_a_big_file_inside_a_streamed_folder_goes_by_itself_into_the_staging_folder(remote, tmp_path: Path, openssh: bool):
    src = tmp_path / "model"
    make_tree(src)
    weights = src / "snapshots" / "abc123" / "deep" / "weights.safetensors"
    weights.write_bytes(os.urandom(9 << 20))
    weights.chmod(0o600)
    os.utime(weights, (1_700_000_000, 1_700_000_000))
    result, _ = await transfer("dev", [Place(None, str(src))], Place("dev", remote.name), recursive=True, openssh=openssh)
    assert tree_listing(remote.local / "model") == tree_listing(src)
    assert not (remote.local / part_name("model")).exists()
    assert result.files_done == result.files_total


@pytest.mark.parametrize("openssh", [False, True], ids=["asyncssh", "openssh-master"])
async def test_a_device_without_tar_gets_the_folder_file_by_file(remote, tmp_path: Path, monkeypatch, openssh: bool):
    from spark_tui.services.files import bundle

    monkeypatch.setattr(bundle, "TAR", "exec spark-tui-no-such-tar -x -f -")
    src = tmp_path / "model"
    make_tree(src)
    (src / "blobs" / "big").write_bytes(os.urandom(9 << 20))
    result, _ = await transfer("dev", [Place(None, str(src))], Place("dev", remote.name), recursive=True, openssh=openssh)
    assert tree_listing(remote.local / "model") == tree_listing(src)
    assert not (remote.local / part_name("model")).exists()
    assert result.files_done == result.files_total
