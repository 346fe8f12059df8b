"""The Files screen driven with Pilot against the real sshd: a folder to the device and back."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from spark_tui.config import locations
from spark_tui.config.store import ProfileStore
from spark_tui.core.files import TransferState
from spark_tui.screens.files import FilesScreen
from tests.files_helpers import RemoteFolder, make_tree, tree_listing
from tests.test_app import make_app, sshd_profile, wait_for


@pytest.fixture
def remote(sshd):
    folder = RemoteFolder(sshd)
    yield folder
    folder.remove()


async def highlight(pilot, pane, name: str) -> None:
    """Move the pane's cursor to ``name`` with the arrow keys (again if a re-listing moved it)."""
    for _ in range(3):
        index = next(i for i, e in enumerate(pane.entries) if e.name == name) + 1  # row 0 is ".."
        pane.table.focus()
        await pilot.press("ctrl+home")
        for _ in range(index):
            await pilot.press("down")
        await pilot.pause(0.1)
        if pane.selected is not None and pane.selected.name == name:
            return
    raise AssertionError(f"could not highlight {name}: {pane.selected}")


async def test_the_files_screen_copies_a_folder_to_the_device_and_back(tmp_path: Path, sshd, remote, monkeypatch):
    path = tmp_path / "profiles.toml"
    ProfileStore(path).add_device(sshd_profile(sshd))
    shutil.copy(sshd.known_hosts, locations.known_hosts_path())
    work = tmp_path / "work"
    make_tree(work / "model")
    expected = tree_listing(work / "model")
    monkeypatch.chdir(work)
    app = make_app(path)
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.press("f")
        await wait_for(pilot, lambda: isinstance(app.screen, FilesScreen), what="the Files screen")
        screen: FilesScreen = app.screen
        await wait_for(pilot, lambda: screen.remote.path == str(sshd.home) and screen.local.path == str(work), what="both listings")

        await highlight(pilot, screen.remote, remote.name)
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen.remote.path.endswith(remote.name), what="the remote folder opened")

        await highlight(pilot, screen.local, "model")
        await pilot.press("c")
        await wait_for(pilot, lambda: any(p.state is TransferState.DONE for p in screen.queue.progress.values()), what="the upload")
        assert tree_listing(remote.local / "model") == expected
        await wait_for(pilot, lambda: [e.name for e in screen.remote.entries] == ["model"], what="the remote pane re-listed")

        await highlight(pilot, screen.local, "model")  # delete the local copy, with confirmation
        await pilot.press("d")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "ConfirmScreen", what="the confirmation")
        await pilot.press("y")
        await wait_for(pilot, lambda: not (work / "model").exists(), what="the local folder deleted")

        await highlight(pilot, screen.remote, "model")
        await pilot.press("c")
        await wait_for(pilot, lambda: sum(p.state is TransferState.DONE for p in screen.queue.progress.values()) == 2, what="the download")
        assert tree_listing(work / "model") == expected

        await pilot.press("n")  # a new folder on the device
        await wait_for(pilot, lambda: type(app.screen).__name__ == "NamePrompt", what="the name prompt")
        await pilot.press(*"made", "enter")
        await wait_for(pilot, lambda: (remote.local / "made").is_dir(), what="the new folder")
        await wait_for(pilot, lambda: "made" in [e.name for e in screen.remote.entries], what="the new folder listed")
        await highlight(pilot, screen.remote, "made")
        await pilot.press("r")  # rename it
        await wait_for(pilot, lambda: type(app.screen).__name__ == "NamePrompt", what="the rename prompt")
        await pilot.press(*["backspace"] * 4, *"renamed", "enter")
        await wait_for(pilot, lambda: (remote.local / "renamed").is_dir() and not (remote.local / "made").exists(), what="the rename")

        await pilot.press("escape")  # back to the dashboard; the Files screen keeps its queue
        assert not isinstance(app.screen, FilesScreen)
        await pilot.press("f")
        assert app.screen is screen and len(screen.queue.progress) == 2


async def test_a_cancelled_transfer_keeps_its_part_and_retry_resumes_it(tmp_path: Path, sshd, remote, monkeypatch):
    import hashlib

    from spark_tui.core.files import part_name

    path = tmp_path / "profiles.toml"
    ProfileStore(path).add_device(sshd_profile(sshd))
    shutil.copy(sshd.known_hosts, locations.known_hosts_path())
    work = tmp_path / "work"
    work.mkdir()
    big = work / "weights.bin"
    with big.open("wb") as handle:
        for _ in range(192):
            handle.write(os.urandom(1 << 20))
    monkeypatch.chdir(work)
    app = make_app(path)
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.press("f")
        await wait_for(pilot, lambda: isinstance(app.screen, FilesScreen), what="the Files screen")
        screen: FilesScreen = app.screen
        await wait_for(pilot, lambda: screen.remote.path == str(sshd.home) and screen.local.entries, what="both listings")
        await highlight(pilot, screen.remote, remote.name)
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen.remote.path.endswith(remote.name), what="the remote folder opened")
        await highlight(pilot, screen.local, "weights.bin")
        await pilot.press("c")
        part = remote.local / part_name("weights.bin")
        await wait_for(pilot, lambda: part.exists() and part.stat().st_size > 24 << 20, what="a part of the upload")
        await pilot.press("x")
        progress = lambda: next(iter(screen.queue.progress.values()))  # noqa: E731
        await wait_for(pilot, lambda: progress().state is TransferState.CANCELLED, what="the cancel")
        await pilot.pause(0.3)
        kept = part.stat().st_size
        assert 0 < kept < big.stat().st_size and not (remote.local / "weights.bin").exists()

        await pilot.press("R")
        await pilot.press("escape")  # back on the dashboard, the retry goes on
        assert not isinstance(app.screen, FilesScreen)
        await wait_for(pilot, lambda: progress().state is TransferState.DONE, timeout=60, what="the retry")
        assert progress().sent <= big.stat().st_size - kept + (9 << 20)  # resumed, not started over
        digest = lambda p: hashlib.sha256(p.read_bytes()).hexdigest()  # noqa: E731
        assert digest(remote.local / "weights.bin") == digest(big)


async def test_the_palette_opens_the_files_screen_of_a_device(tmp_path: Path, sshd, monkeypatch):
    path = tmp_path / "profiles.toml"
    ProfileStore(path).add_device(sshd_profile(sshd))
    shutil.copy(sshd.known_hosts, locations.known_hosts_path())
    monkeypatch.chdir(tmp_path)
    app = make_app(path)
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.press("ctrl+p")
        await pilot.press(*"files on lab")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, FilesScreen), what="the Files screen")
        assert app.screen.device == "lab"
        await wait_for(pilot, lambda: app.screen.remote.path == str(sshd.home), what="the device's home listed")


@pytest.mark.parametrize("columns", [80, 120, 200])
async def test_each_pane_fits_its_width_name_size_and_time_never_cut(tmp_path: Path, sshd, monkeypatch, columns: int):
    path = tmp_path / "profiles.toml"
    ProfileStore(path).add_device(sshd_profile(sshd))
    shutil.copy(sshd.known_hosts, locations.known_hosts_path())
    work = tmp_path / ("a-long-folder-name-" * 4)
    work.mkdir()
    (work / "weights.bin").write_bytes(b"x" * 5000)
    monkeypatch.chdir(work)
    app = make_app(path)
    async with app.run_test(size=(columns, 40)) as pilot:
        await pilot.press("f")
        await wait_for(pilot, lambda: isinstance(app.screen, FilesScreen), what="the Files screen")
        screen: FilesScreen = app.screen
        await wait_for(pilot, lambda: screen.local.path == str(work) and screen.local.entries, what="the listing")
        await pilot.pause(0.2)
        pane = screen.local
        table = pane.table
        widths = sum(column.get_render_width(table) for column in table.columns.values())
        assert widths <= table.scrollable_content_region.width, "no column runs past the pane"
        labels = [str(column.label) for column in table.columns.values()]
        assert labels[:2] == ["Name", "Size"] and (labels[2:] == ["Modified"]) == (columns >= 120)
        title = str(pane.query_one(".file-pane-path").render())
        assert title.endswith(str(work)[-12:]) and len(title) <= pane.size.width, "the path keeps its end"
        assert ("\u2026" in title) == (len(str(work)) + len("This computer: ") > pane.size.width - 4)
