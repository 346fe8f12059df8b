"""A copy's OpenSSH master started before the device's asyncssh login, and its streams balanced.

The early master (``direct_master``) is a real ``ssh`` logging in to the test sshd: used when it
starts, replaced by one made from the live connection when it cannot, and never left behind.
"""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest

from spark_tui.config import locations
from spark_tui.core.files import EntryKind, FileEntry, Place
from spark_tui.services.files import bundle
from spark_tui.services.files.tree import Item
from spark_tui.services.tunnels import direct_master, master_factory
from tests.files_helpers import RemoteFolder, make_tree, tree_listing, trust_and_save
from tests.test_files_faults import transfer


@pytest.fixture
def remote(sshd):
    profile = trust_and_save(sshd)
    folder = RemoteFolder(sshd)
    folder.profile = profile
    yield folder
    folder.remove()


def _factory(profile, calls: list):
    make = master_factory(lambda: profile, locations.known_hosts_path())

    def counted(conn):
        calls.append(conn)
        return make(conn)

    return counted


def _folder_of(master) -> Path:
    return Path(master.control_path).parent


async def test_a_folder_upload_rides_the_master_started_before_the_login(remote, tmp_path: Path):
    src = tmp_path / "data"
    make_tree(src)
    early = direct_master(remote.profile, locations.known_hosts_path())
    assert early is not None, "a trusted device on 127.0.0.1 with its own key can have an early master"
    made: list = []
    await transfer("dev", [Place(None, str(src))], Place("dev", remote.name), recursive=True,
                   make_master=_factory(remote.profile, made), early_master=early)
    assert tree_listing(remote.local / "data") == tree_listing(src)
    assert made == [], "the early master carried the stream: none was made from the connection"
    assert not _folder_of(early).exists(), "its control folder is removed with it"


async def test_an_early_master_that_cannot_log_in_gives_way_to_one_made_from_the_connection(remote, tmp_path: Path):
    stranger = tmp_path / "stranger_key"  # a key the sshd has never been told about
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(stranger)], check=True)
    early = direct_master(replace(remote.profile, identity_file=str(stranger)), locations.known_hosts_path())
    src = tmp_path / "data"
    make_tree(src)
    made: list = []
    await transfer("dev", [Place(None, str(src))], Place("dev", remote.name), recursive=True,
                   make_master=_factory(remote.profile, made), early_master=early)
    assert tree_listing(remote.local / "data") == tree_listing(src)
    assert len(made) == 1, "the refused early master was replaced once, from the live connection"
    assert not _folder_of(early).exists()


async def test_an_early_master_a_copy_does_not_need_is_never_started_and_leaves_nothing(remote, tmp_path: Path):
    src = tmp_path / "note.txt"
    src.write_bytes(os.urandom(3000))  # one small file: no stream, no big file, no master wanted
    early = direct_master(remote.profile, locations.known_hosts_path())
    made: list = []
    result, _ = await transfer("dev", [Place(None, str(src))], Place("dev", remote.name), make_master=_factory(remote.profile, made),
                               early_master=early, expect_openssh=False)
    assert (remote.local / "note.txt").read_bytes() == src.read_bytes()
    assert result.files_done == 1
    assert made == [] and not early.alive
    assert not _folder_of(early).exists()


def test_only_devices_ssh_reaches_as_we_do_with_a_key_of_their_own_get_an_early_master(sshd, monkeypatch):
    profile = trust_and_save(sshd)
    known = locations.known_hosts_path()
    made = []
    for changed in (
        replace(profile, host="spark-1a2b.local"),  # ours resolve through our own mDNS, not ssh's
        replace(profile, identity_file=None),  # a password or the agent: nothing a master could answer alone
        replace(profile, jump_host="bastion"),
        replace(profile, proxy_command="nc %h %p"),
    ):
        assert direct_master(changed, known) is None, changed
    for host in ("127.0.0.1", "::1", "[::1]", "spark.example.test"):
        master = direct_master(replace(profile, host=host), known)
        made.append(master)
        assert master is not None and master.argv[-1] == host.strip("[]")
    monkeypatch.setenv("SPARK_TUI_TUNNEL_CARRIER", "asyncssh")
    assert direct_master(profile, known) is None
    for master in made:
        asyncio.run(master.close())  # never started: its control folder is all there is
        assert not _folder_of(master).exists()


def _weight(files: list[Item]) -> int:
    return sum(i.entry.size for i in files) + bundle.PER_FILE * len(files)


def test_folder_streams_take_whole_folders_as_they_go_heaviest_first_every_folder_made_in_each():
    rng = random.Random(5)
    items: list[Item] = []
    for folder in range(40):
        path = f"/src/top/d{folder}"
        items.append(Item(path, path, FileEntry(f"d{folder}", EntryKind.FOLDER, 0, 0o755, 0.0), 1))
        sizes = [rng.choice([1000, 60_000, 2_000_000]) for _ in range(rng.randint(1, 30))]
        for index, size in enumerate(sizes):
            name = f"{path}/f{index}"
            items.append(Item(name, name, FileEntry(f"f{index}", EntryKind.FILE, size, 0o644, 0.0), 2))
    folders = [i for i in items if i.entry.kind is EntryKind.FOLDER]
    files = [i for i in items if i.entry.kind is EntryKind.FILE]
    shares = bundle.Shares(items, 3)
    assert shares.count == 3
    got: list[list[Item]] = [[] for _ in range(shares.count)]

    def writer(index: int) -> None:  # as the tar threads do: pull, then take a little while
        for item in shares.stream():
            got[index].append(item)
            time.sleep(0.0001 * (index + 1))  # the streams drain at different speeds

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(shares.count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    owners: dict[str, int] = {}
    for index, stream in enumerate(got):
        assert stream[:len(folders)] == folders, "every stream makes every folder first"
        for item in stream[len(folders):]:
            assert owners.setdefault(item.src.rsplit("/", 1)[0], index) == index, "a folder's files in one stream"
    assert sorted(i.src for s in got for i in s[len(folders):]) == sorted(i.src for i in files)
    assert len({len(s) for s in got}) > 1 and all(len(s) > len(folders) for s in got), "the faster stream took more"
    order = [item.src.rsplit("/", 1)[0] for s in got for item in s[len(folders):]]
    by_folder: dict[str, list[Item]] = {}
    for item in files:
        by_folder.setdefault(item.src.rsplit("/", 1)[0], []).append(item)
    first = got[0][len(folders)].src.rsplit("/", 1)[0]
    assert _weight(by_folder[first]) >= sorted(map(_weight, by_folder.values()))[-3], "the heaviest folders go first"
    assert set(order) == set(by_folder)


def test_a_folder_with_no_files_below_it_is_one_stream_of_folders():
    items = [Item(f"/s/d{n}", f"/s/d{n}", FileEntry(f"d{n}", EntryKind.FOLDER), 1) for n in range(3)]
    shares = bundle.Shares(items, 2)
    assert shares.count == 1 and list(shares.stream()) == items
