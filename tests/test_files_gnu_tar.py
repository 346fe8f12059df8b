"""A folder's stream written by this computer's GNU tar: unpacked by GNU tar, errors named.

GNU tar itself is the judge twice over: its ``tar -x`` must rebuild the tree, and the names it
prints in its own messages (escaped, in the C locale) must lead back to the very file.
"""

from __future__ import annotations

import asyncio
import errno
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from spark_tui.core.files import EntryKind
from spark_tui.services.files import gnu_tar
from spark_tui.services.files.tree import walk_here
from tests.files_helpers import make_tree, tree_listing

pytestmark = pytest.mark.skipif(shutil.which("tar") is None, reason="needs tar")


async def _walked(src: Path) -> list:
    return (await asyncio.to_thread(walk_here, [str(src)], True))[0]


async def _tar() -> str:
    tar = await gnu_tar.local_gnu_tar()
    assert tar is not None, "the test machines have GNU tar (Debian's tar)"
    return tar


async def _write(src: Path, into: Path | None, members=None) -> tuple[list, BaseException | None]:
    """The walked ``src`` written by GNU tar into a pipe, unpacked into ``into`` by ``tar -x``
    (or drained when ``into`` is None). Returns the files handed on and the writer's error."""
    items = await _walked(src)
    members = items if members is None else members(items)
    top = items[0].src

    def name_of(item) -> str:
        return item.src[len(top) + 1:] or "."

    read_fd, write_fd = os.pipe()
    if into is not None:
        into.mkdir()
        plain = {k: v for k, v in os.environ.items() if k != "TAR_OPTIONS"}  # the judge reads the stream as it is
        reader = subprocess.Popen(["tar", "-x", "-p", "--no-same-owner", "-f", "-"], stdin=read_fd, cwd=into,
                                  stderr=subprocess.PIPE, env=plain)
    else:
        reader = subprocess.Popen(["cat"], stdin=read_fd, stdout=subprocess.DEVNULL)
    os.close(read_fd)
    handed: list = []
    writer = await gnu_tar.GnuTarWriter.start(await _tar(), top, members, name_of, handed.extend, write_fd, 0)
    problem = None
    try:
        await writer.wait()
    except OSError as error:
        problem = error
    _, said = await asyncio.to_thread(reader.communicate, timeout=60)
    assert reader.returncode == 0, said
    return handed, problem


async def test_gnu_tar_unpacks_the_stream_into_the_same_tree_and_every_file_is_handed_on_once(tmp_path: Path):
    src = tmp_path / "src"
    make_tree(src)
    locked = src / "a-locked" / "inner"  # read-only, a folder inside it, a sibling after it
    locked.mkdir(parents=True)
    (locked / "note.txt").write_text("n\n")
    (src / "a-locked").chmod(0o555)
    (src / "twice").hardlink_to(src / "blobs" / "9a8b")  # as rsync -a without -H: two files
    handed, problem = await _write(src, tmp_path / "out")
    assert problem is None
    assert tree_listing(tmp_path / "out") == tree_listing(src)
    assert not (tmp_path / "out" / "twice").samefile(tmp_path / "out" / "blobs" / "9a8b")
    files = [i for i in await _walked(src) if i.entry.kind is EntryKind.FILE]
    assert [i.src for i in handed] == [i.src for i in files]


@pytest.mark.parametrize("name", ["plain.bin", "new\nline", "tab\there", "back\\slash", "caf\u00e9", "del\x7f",
                                  "ctl\x01x", "colon: not a reason", "\\303\\251 looks escaped", "-T not-an-option"])
async def test_a_file_gone_since_the_walk_is_named_exactly_from_tars_own_message(tmp_path: Path, name: str):
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "sub" / "kept.txt").write_text("kept\n")
    victim = src / "sub" / name
    victim.write_bytes(b"x" * 5000)
    items = await _walked(src)
    victim.unlink()
    _, problem = await _write(src, None, members=lambda _: items)
    assert isinstance(problem, OSError) and problem.errno == errno.ENOENT
    assert problem.filename == str(victim)


def test_unquote_reads_back_what_gnu_tar_prints(tmp_path: Path):
    names = ["a\nb", "t\tx", "b\\s", "caf\u00e9", "\x7f\x01", "q?\"'$ x", "\\n literal", "c: d", "e:f"]
    listed = b"".join(os.fsencode(n) + b"\0" for n in names)
    done = subprocess.run(["tar", "-c", "-f", "/dev/null", "--null", "--verbatim-files-from", "--no-recursion", "-T", "-"],
                          input=listed, cwd=tmp_path, capture_output=True, env={**os.environ, "LC_ALL": "C"})
    said = [line.removeprefix("tar: ").rsplit(": Cannot stat: ", 1)[0]
            for line in done.stderr.decode("ascii").splitlines() if "Cannot stat" in line]
    assert sorted(gnu_tar.unquote(s) for s in said) == sorted(names)


async def test_tar_options_in_the_environment_change_nothing(tmp_path: Path, monkeypatch):
    src = tmp_path / "src"
    make_tree(src)
    monkeypatch.setenv("TAR_OPTIONS", "--dereference --exclude=*.json")
    handed, problem = await _write(src, tmp_path / "out")
    assert problem is None
    assert tree_listing(tmp_path / "out") == tree_listing(src)  # symlinks still symlinks, nothing left out
