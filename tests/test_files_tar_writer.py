"""The tar stream a folder upload writes, judged by GNU tar unpacking it; files that change under it."""

from __future__ import annotations

import errno
import os
import subprocess
import threading
import time
from pathlib import Path

import pytest

from spark_tui.services.files import tar_writer
from spark_tui.services.files.tree import walk_here
from tests.files_helpers import make_tree, tree_listing


def _unpack(items, name_of, into: Path) -> list:
    """``items`` written by ``write_tar`` into a pipe that GNU tar unpacks into ``into``."""
    into.mkdir()
    read_fd, write_fd = os.pipe()
    tar = subprocess.Popen(["tar", "-x", "-p", "--no-same-owner", "-f", "-"], stdin=read_fd, cwd=into,
                           stderr=subprocess.PIPE)
    os.close(read_fd)
    sent: list = []
    tar_writer.write_tar(write_fd, items, name_of, sent.append)
    _, said = tar.communicate(timeout=60)
    assert tar.returncode == 0, said.decode()
    return sent


@pytest.mark.parametrize("sendfile", [True, False], ids=["sendfile", "read"])
def test_gnu_tar_unpacks_the_stream_into_the_same_tree(tmp_path: Path, monkeypatch, sendfile: bool):
    src = tmp_path / "src"
    make_tree(src)
    (src / "big.bin").write_bytes(os.urandom(3 * tar_writer.CHUNK + 17))  # more than one pass of each loop
    (src / "nothing.txt").write_bytes(b"")
    if not sendfile:
        def refused(*args):
            raise OSError(errno.EINVAL, "not into a pipe here")
        monkeypatch.setattr(os, "sendfile", refused)
    items = walk_here([str(src)], True)[0]
    top = items[0].src
    sent = _unpack(items[1:], lambda i: i.src[len(top) + 1:], tmp_path / "out")
    for item in items[1:]:
        if item.entry.kind.value == "folder":
            made = tmp_path / "out" / item.src[len(top) + 1:]  # the copy sets folders' own mode and time last
            os.chmod(made, item.entry.mode)
            os.utime(made, (item.entry.mtime, item.entry.mtime))
    assert tree_listing(tmp_path / "out") == tree_listing(src)
    assert sorted(i.src for i in sent) == sorted(i.src for i in items if i.entry.kind.value == "file")


def _write_failure(items) -> OSError:
    """The error ``write_tar`` raises for ``items``, a reader draining the pipe meanwhile."""
    read_fd, write_fd = os.pipe()
    drained = threading.Thread(target=lambda: [None for _ in iter(lambda: os.read(read_fd, 65536), b"")])
    drained.start()
    try:
        with pytest.raises(OSError) as raised:
            tar_writer.write_tar(write_fd, items, lambda i: i.entry.name, lambda i: None)
    finally:
        drained.join(10)
        os.close(read_fd)
    return raised.value


def test_a_file_that_changed_size_since_the_walk_is_named_and_nothing_follows_it(tmp_path: Path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.bin").write_bytes(b"x" * 1000)
    items = walk_here([str(src)], True)[0]
    (src / "a.bin").write_bytes(b"x" * 10)
    error = _write_failure(items[1:])
    assert error.errno == errno.ESTALE and error.filename == str(src / "a.bin")


def test_a_file_cut_short_while_it_is_sent_is_named(tmp_path: Path, monkeypatch):
    src = tmp_path / "src"
    src.mkdir()
    victim = src / "v.bin"
    victim.write_bytes(os.urandom(200_000))
    items = walk_here([str(src)], True)[0]
    real = os.sendfile

    def cut_then_send(out, source, offset, count):
        os.truncate(victim, 50_000)  # someone truncates the file mid-copy
        return real(out, source, offset, count)

    monkeypatch.setattr(os, "sendfile", cut_then_send)
    error = _write_failure(items[1:])
    assert error.errno == errno.ESTALE and "shorter" in str(error)
    assert error.filename == str(victim)


async def test_items_reach_the_loop_in_order_in_fewer_wake_ups_and_all_after_the_flush():
    import asyncio

    loop = asyncio.get_running_loop()
    got: list[list[int]] = []
    batches = tar_writer.Batches(loop, got.append, every=0.005)

    def produce() -> None:
        for number in range(2000):
            batches(number)
            if number % 100 == 0:
                time.sleep(0.002)
        batches.flush()

    await asyncio.to_thread(produce)
    await asyncio.sleep(0.05)
    assert [n for batch in got for n in batch] == list(range(2000))
    assert 1 < len(got) < 200
