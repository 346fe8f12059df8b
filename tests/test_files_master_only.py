"""New folders, and single files, up through the early OpenSSH master alone: no asyncssh login at all.

Real ``ssh`` and ``sshd``: a copy that can go this way never calls ``connect``; one that cannot
(the target exists, a big file inside, a path to normalise) logs in as before; a master killed
mid-stream leaves the rest to a new login, which continues the staging folder. ``rsync -a`` of
the same source is the judge of what the device must hold.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest

from spark_tui.config import locations
from spark_tui.config.store import ProfileStore
from spark_tui.core.files import Place
from spark_tui.services.files import Transfer, gnu_tar
from spark_tui.services.files.master_only import relative
from spark_tui.services.ssh import ConnectionService
from spark_tui.services.tunnels import direct_master, master_factory
from tests.files_helpers import RemoteFolder, make_tree, tree_listing, trust_and_save


@pytest.fixture
def remote(sshd):
    profile = trust_and_save(sshd)
    folder = RemoteFolder(sshd)
    folder.profile = profile
    folder.sshd = sshd
    yield folder
    folder.remove()


async def _copy(sources: list[Path], dest: str, *, on_master=None) -> tuple[int, Transfer]:
    """Copy ``sources`` up to ``dev:dest`` with an early master; returns how often ``connect`` was called."""
    config = ProfileStore(locations.config_path()).load()
    profile = config.device("dev")
    service = ConnectionService(profiles=config.device)
    logins = []

    def connect():
        logins.append(1)
        return service.connect(profile)

    early = direct_master(profile, locations.known_hosts_path())
    assert early is not None
    if on_master is not None:
        on_master(early)
    job = Transfer([Place(None, str(s)) for s in sources], Place("dev", dest), connect=connect, recursive=True,
                   make_master=master_factory(lambda: profile, locations.known_hosts_path()), early_master=early)
    try:
        await job.run()
    finally:
        await service.close()
    return len(logins), job


def _rsync_to(remote: RemoteFolder, src: Path, name: str) -> Path:
    """``rsync -a`` of ``src`` into the device's folder as ``name``: the reference."""
    sshd = remote.sshd
    ssh = (f"ssh -F /dev/null -p {sshd.port} -i {sshd.client_key} -o UserKnownHostsFile={sshd.known_hosts} "
           f"-o BatchMode=yes -o IdentitiesOnly=yes")
    subprocess.run(["rsync", "-a", "-e", ssh, f"{src}/", f"{sshd.user}@127.0.0.1:{remote.name}/{name}/"], check=True)
    return remote.local / name


def _top(path: Path) -> tuple:
    st = path.lstat()
    return oct(st.st_mode & 0o7777), int(st.st_mtime)


def _model(root: Path) -> Path:
    make_tree(root)
    root.chmod(0o750)
    os.utime(root, (1_400_000_000, 1_400_000_000))
    return root


async def test_a_new_folder_goes_up_with_no_login_and_lands_as_rsync_puts_it(remote, tmp_path: Path):
    src = _model(tmp_path / "model")
    logins, job = await _copy([src], remote.name)
    assert logins == 0, "the early master did everything: asyncssh never logged in"
    assert job.files_by_openssh >= 1
    reference = _rsync_to(remote, src, "reference")
    assert tree_listing(remote.local / "model") == tree_listing(reference) == tree_listing(src)
    assert _top(remote.local / "model") == _top(reference) == ("0o750", 1_400_000_000)
    assert [p.name for p in remote.local.iterdir() if "spark-tui" in p.name] == [], "no staging folder left"


@pytest.mark.parametrize("writer", ["GNU tar", "python"])
async def test_a_read_only_folder_with_a_folder_inside_lands_as_rsync_puts_it(remote, tmp_path: Path, monkeypatch,
                                                                               writer: str):
    src = _model(tmp_path / "model")
    inner = src / "a-locked" / "inner"  # read-only, a folder inside it, siblings after it
    inner.mkdir(parents=True)
    (inner / "note.txt").write_text("n\n")
    (src / "a-locked").chmod(0o555)
    os.utime(src / "a-locked", (1_300_000_000, 1_300_000_000))
    if writer == "python":  # as on a computer without GNU tar
        monkeypatch.setattr(gnu_tar, "_known", {shutil.which("tar"): None})
    try:
        logins, _ = await _copy([src], f"{remote.name}/renamed")
        assert logins == 0
        reference = _rsync_to(remote, src, "reference")
        assert tree_listing(remote.local / "renamed") == tree_listing(reference) == tree_listing(src)
        assert _top(remote.local / "renamed") == _top(reference)
    finally:
        for made in (remote.local / "renamed", remote.local / "reference"):
            if (made / "a-locked").exists():
                (made / "a-locked").chmod(0o755)  # the device's user removes it next


async def test_a_folder_copied_to_a_new_name_and_several_into_a_folder(remote, tmp_path: Path):
    one, two = _model(tmp_path / "one"), _model(tmp_path / "two")
    (two / "extra.txt").write_text("two\n")
    logins, _ = await _copy([one], f"~/{remote.name}/renamed")
    assert logins == 0 and tree_listing(remote.local / "renamed") == tree_listing(one)
    (remote.local / "into").mkdir()
    remote.own(remote.local / "into")
    logins, _ = await _copy([one, two], f"{remote.name}/into/")
    assert logins == 0
    assert tree_listing(remote.local / "into" / "one") == tree_listing(one)
    assert tree_listing(remote.local / "into" / "two") == tree_listing(two)


async def test_a_destination_with_quotes_spaces_and_a_newline_is_used_literally(remote, tmp_path: Path):
    src = _model(tmp_path / "model")
    odd = "it's a \"dir\" $(touch pwned)\nnext"
    (remote.local / odd).mkdir()
    remote.own(remote.local / odd)
    logins, _ = await _copy([src], f"{remote.name}/{odd}")
    assert logins == 0
    assert tree_listing(remote.local / odd / "model") == tree_listing(src)
    assert not (remote.local / "pwned").exists() and not Path(remote.sshd.home, "pwned").exists()


@pytest.mark.parametrize("case", ["target exists", "big file", "path to normalise"])
async def test_what_the_master_alone_cannot_do_goes_over_the_login(remote, tmp_path: Path, case: str):
    src = _model(tmp_path / "model")
    dest = remote.name
    if case == "target exists":
        (remote.local / "model").mkdir()
        (remote.local / "model" / "kept.txt").write_text("mine\n")
        remote.own(remote.local / "model")
    elif case == "big file":
        (src / "blobs" / "weights.bin").write_bytes(os.urandom(9 << 20))
    else:
        dest = f"{remote.name}/sub/.."
    logins, _ = await _copy([src], dest)
    assert logins == 1, f"{case}: the general path logged in"
    copied = tree_listing(remote.local / "model")
    copied.pop("kept.txt", None)
    assert copied == tree_listing(src)


async def test_a_master_killed_mid_stream_leaves_the_rest_to_a_new_login(remote, tmp_path: Path):
    src = tmp_path / "many"
    for index in range(1500):
        folder = src / f"d{index % 15}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"f{index}.bin").write_bytes(os.urandom(20_000))
    masters = []
    staging = remote.local / ".many.spark-tui-part"
    killed = threading.Event()

    def killer() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if masters and masters[0]._process is not None and staging.is_dir() \
                    and sum(1 for _ in staging.rglob("*.bin")) >= 100:
                masters[0]._process.kill()
                killed.set()
                return
            time.sleep(0.002)

    watcher = threading.Thread(target=killer, daemon=True)
    watcher.start()
    logins, _ = await _copy([src], remote.name, on_master=masters.append)
    await asyncio.to_thread(watcher.join, 5)
    assert killed.is_set(), "the master was killed while its streams ran"
    assert logins == 1, "the copy went on over a new login"
    assert tree_listing(remote.local / "many") == tree_listing(src)
    assert not staging.exists()


def test_which_device_paths_are_taken_as_they_are():
    assert relative("~") == relative(".") == relative("") == relative("~/") == ""
    assert relative("data/models/") == "data/models"
    assert relative("/srv/x") == "/srv/x"
    for needs_normalising in ("/", "a/../b", "./a", "a//b", "~/a/./b", "/srv/.."):
        assert relative(needs_normalising) is None, needs_normalising


async def test_a_target_that_appears_before_the_rename_is_never_replaced_or_entered(remote, tmp_path: Path):
    from spark_tui.core.files import EntryKind, FileEntry
    from spark_tui.services.files.bundle import Bundle
    from spark_tui.services.files.errors import CopyError
    from spark_tui.services.files.master_only import finish
    from spark_tui.services.files.openssh_path import OpenSSHBytes
    from spark_tui.services.files.tree import Item

    config = ProfileStore(locations.config_path()).load()
    openssh = OpenSSHBytes(lambda conn: None, early=direct_master(config.device("dev"), locations.known_hosts_path()))
    openssh.begin()
    assert await openssh.early_master() is not None
    staging, target = remote.local / ".model.spark-tui-part", remote.local / "model"
    (staging / "inner").mkdir(parents=True)
    target.mkdir()  # someone else's folder, made while the copy ran
    (target / "theirs.txt").write_text("theirs\n")
    remote.own(staging)
    remote.own(target)
    folder = FileEntry("model", EntryKind.FOLDER, 0, 0o755, 1_400_000_000)
    top = Item(str(tmp_path / "model"), str(target), folder)
    inner = Item(str(tmp_path / "model" / "inner"), str(target / "inner"), folder, 1)
    try:
        with pytest.raises(CopyError, match="something appeared there"):
            await finish(openssh, Bundle(top, [inner]), lambda path: f"dev:{path}")
    finally:
        await openssh.close()
    assert sorted(p.name for p in target.iterdir()) == ["theirs.txt"], "nothing moved into their folder"
    assert (staging / "inner").is_dir(), "the complete copy stays in its staging folder"


def _stat(path: Path) -> tuple:
    st = path.lstat()
    return oct(st.st_mode & 0o7777), int(st.st_mtime)


async def test_one_big_file_goes_up_with_no_login_keeping_mode_and_time_and_replaces_a_file_there(remote, tmp_path: Path):
    src = tmp_path / "weights.safetensors"
    src.write_bytes(os.urandom(9 << 20))  # big enough for the master (8 MiB and more)
    src.chmod(0o640)
    os.utime(src, (1_500_000_000, 1_500_000_000))
    logins, job = await _copy([src], remote.name)
    assert logins == 0, "the early master did everything"
    assert job.progress.done == job.progress.sent == src.stat().st_size and job.progress.files_done == 1
    landed = remote.local / "weights.safetensors"
    assert landed.read_bytes() == src.read_bytes() and _stat(landed) == ("0o640", 1_500_000_000)

    src.write_bytes(os.urandom(10 << 20))  # a new version over the old one, and under a new name
    logins, _ = await _copy([src], remote.name)
    assert logins == 0 and landed.read_bytes() == src.read_bytes()
    logins, _ = await _copy([src], f"~/{remote.name}/renamed.bin")
    assert logins == 0 and (remote.local / "renamed.bin").read_bytes() == src.read_bytes()
    assert [p.name for p in remote.local.iterdir() if "spark-tui" in p.name] == [], "no part left"


@pytest.mark.parametrize("case", ["a part to resume", "a symlink at the target"])
async def test_a_file_the_master_alone_should_not_place_goes_over_the_login(remote, tmp_path: Path, case: str):
    src = tmp_path / "data.bin"
    src.write_bytes(os.urandom(9 << 20))
    target = remote.local / "data.bin"
    if case == "a part to resume":
        (remote.local / ".data.bin.spark-tui-part").write_bytes(src.read_bytes()[: 3 << 20])
        remote.own(remote.local / ".data.bin.spark-tui-part")
    elif case == "a symlink at the target":
        (remote.local / "elsewhere.bin").write_bytes(b"keep me\n")
        target.symlink_to("elsewhere.bin")
        remote.own(remote.local)
    logins, _ = await _copy([src], remote.name)
    assert logins == 1, f"{case}: the general path logged in"
    assert target.read_bytes() == src.read_bytes()
    if case == "a symlink at the target":
        assert (remote.local / "elsewhere.bin").read_bytes() == b"keep me\n"


async def test_a_folder_where_the_file_would_go_is_left_alone(remote, tmp_path: Path):
    from spark_tui.services.files.errors import CopyError

    src = tmp_path / "data.bin"
    src.write_bytes(os.urandom(9 << 20))
    (remote.local / "data.bin").mkdir()  # as cp: a file never replaces a folder
    (remote.local / "data.bin" / "theirs.txt").write_text("theirs\n")
    remote.own(remote.local / "data.bin")
    with pytest.raises(CopyError, match="data.bin"):
        await _copy([src], remote.name)
    assert [p.name for p in (remote.local / "data.bin").iterdir()] == ["theirs.txt"]
