"""A copy's OpenSSH master started before the device's asyncssh login.

The early master (``direct_master``) is a real ``ssh`` logging in to the test sshd: used when it
starts, replaced by one made from the live connection when it cannot, and never left behind.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from spark_tui.config import locations
from spark_tui.core.files import Place
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


async def test_a_master_spawned_before_the_loop_is_taken_by_the_copy_and_one_never_started_is_stopped(remote, tmp_path: Path):
    src = tmp_path / "data"
    make_tree(src)
    early = direct_master(remote.profile, locations.known_hosts_path())
    early.spawn()  # as `spark-tui copy` does before asyncio loads
    pid = early._spawned.pid
    made: list = []
    await transfer("dev", [Place(None, str(src))], Place("dev", remote.name), recursive=True,
                   make_master=_factory(remote.profile, made), early_master=early)
    assert tree_listing(remote.local / "data") == tree_listing(src)
    assert made == [], "the spawned master carried the stream"
    assert not os.path.exists(f"/proc/{pid}") and not _folder_of(early).exists()

    unused = direct_master(remote.profile, locations.known_hosts_path())
    unused.spawn()
    pid = unused._spawned.pid
    await unused.close()  # the copy ended before wanting it: nothing is left running
    assert unused._spawned.returncode is not None and not os.path.exists(f"/proc/{pid}")
    assert not _folder_of(unused).exists()


def test_the_master_is_spawned_before_asyncio_loads():
    """What `spark-tui copy` runs first must not pull asyncio in (its ~20 ms would delay the login)."""
    probe = (
        "import sys\n"
        "from pathlib import Path\n"
        "from spark_tui.core.models import DeviceProfile\n"
        "from spark_tui.services.files import may_move_much\n"
        "from spark_tui.services.tunnels import direct_master\n"
        "m = direct_master(DeviceProfile('d', host='127.0.0.1', identity_file='/k'), Path('/nonexistent/kh'))\n"
        "assert m is not None\n"
        "print('asyncio' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


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
