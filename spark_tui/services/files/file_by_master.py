"""One file up with no asyncssh login: its bytes, mode, time and name through the early master.

A big file going to a device where it is new (or replaces a file) needs from the device only its
shell and GNU coreutils: one command, through the copy's early OpenSSH master, asks where the
home is and what exists, and when the file can go this way writes the part from ``cat`` (the
local file itself is the master's input), checks its size, sets its mode and time, flushes it
to disk and renames it. The bytes start as soon as the master is up instead of after asyncssh's
import, login and SFTP checks: measured (``strace -e execve`` of ``spark-tui copy`` of 1 GiB, 4
runs each), the stream's ``ssh`` started 0.23-0.24 s after ours instead of 0.32-0.39 s (the
master itself now also starts sooner), and the device serves one login instead of two.

Anything else declines before anything is made (a part to resume, a symlink or a folder at the
target, a path to normalise, no GNU coreutils) and the copy takes the general path. A copy cut
short leaves the part, which ``--resume`` (over the general path) verifies and continues.
"""

from __future__ import annotations

import asyncio
import errno
import os
import posixpath
import shlex
from collections.abc import Callable

from spark_tui.core.files import part_name
from spark_tui.services.files.errors import CopyError, failure, said_error, shown
from spark_tui.services.files.master_only import ANSWER, absolute, own_part, relative
from spark_tui.services.files.tree import Item

_SEND = ANSWER + r"""case $(LC_ALL=C mv --version 2>/dev/null) in "mv (GNU coreutils) "*) ;; *) exit 99 ;; esac
case $codes in
  d??[nf]n) s=$5 t=$4 ;;
  [nf]dn??) [ -n "$3" ] || exit 99; s=$3 t=$1 ;;
  *) exit 99 ;;
esac
printf %s "${codes%???}"
umask 077
exec 3<&0 </dev/null
set -C
: > "$s" || exit
set +C
(while sleep 0.1; do sync -d -- "$s" || exit; done) >/dev/null 2>&1 &
f=$!
cat <&3 >> "$s"
r=$?
kill "$f" 2>/dev/null
[ "$r" = 0 ] || exit "$r"
[ "$(LC_ALL=C stat -c %s -- "$s")" = "$size" ] || exit 98
chmod -- "$mode" "$s" && touch -c -d "@$mtime" -- "$s" && sync -- "$s" || exit
if [ -d "$t" ]; then exit 17; fi
exec mv -f -T -- "$s" "$t"
"""
"""Size, mode and time, then the paths (the destination, its parent, the destination's own part
name, the file inside it, that one's part name): the answer, then into the destination when it
is a folder, else as it (the target new or a plain file it replaces, its part new), the part
made with no one else's access and never over something that appeared, written while a loop
writes it back to disk every 0.1 s (so the flush before the rename is short: a whole GiB
flushed at the end took ~0.4 s on this disk; every 0.1 s against 0.25 and 0.05 s, 6 runs
each of 1 GiB: median 1.84 s against 1.94 and 1.92 s), checked whole, given its mode and time, flushed, renamed.
Status 99: not this way, nothing made; 98: the stream ended short (the part stays); 17: a
folder appeared at the target."""
_DECLINED, _SHORT, _FOLDER_THERE = 99, 98, 17
POLL = 0.1
"""Seconds between looks at how far the master has read the file (progress)."""


async def send(openssh, dest: str, item: Item, on_bytes: Callable[[str, int, int, int], None],
               where: Callable[[str], str]) -> bool:
    """Copy the local file ``item`` to ``dest`` this way; False when it cannot (nothing made).

    ``on_bytes(path, done, size, n)`` is called as ``n`` more bytes have gone into the stream.

    Raises:
        LinkDropped: the master died (the part stays for ``--resume``).
        CopyError: the file could not be read here or written there (named, with the reason).
    """
    rel = relative(dest)
    if rel is None or await openssh.early_master() is None:
        return False
    name = posixpath.basename(item.src)
    own = own_part(rel) if not dest.endswith("/") else ""  # "dir/": only ever into a folder
    asked = [rel, posixpath.dirname(rel), own, posixpath.join(rel, name), posixpath.join(rel, part_name(name))]
    entry = item.entry
    command = shlex.join(["sh", "-c", "size=$1 mode=$2 mtime=$3; shift 3\n" + _SEND, "sh", str(entry.size),
                          f"{entry.mode & 0o7777:o}", str(max(0, int(entry.mtime))), *asked])
    try:
        fd = os.open(item.src, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError as error:
        raise failure("read", item.src, error) from None
    try:
        if os.fstat(fd).st_size != entry.size:
            raise CopyError(f"cannot read {shown(item.src)}: it changed size while being copied", "copy it again")
        read = _Read(fd, lambda done, n: on_bytes(item.src, done, entry.size, n))
        counting = asyncio.ensure_future(read.follow())
        try:
            outcome = await openssh.run(None, command, fd)
        finally:
            counting.cancel()
        read.look()
    finally:
        os.close(fd)
    if outcome is None:
        return False
    status, out, said = outcome
    if status == _DECLINED:
        return False
    fields = out.split(b"\0")
    if len(fields) != 3 or len(fields[1]) != len(asked) or fields[2] != fields[1][:2] or not fields[0].startswith(b"/"):
        tail = said.decode("utf-8", "replace").strip().splitlines()[-1:] or [f"status {status}"]
        raise CopyError(f"cannot write {shown(where(rel or '~'))}: the device said: {shown(tail[0])}")
    home, codes = fields[0].decode("utf-8", "surrogateescape"), fields[1].decode("ascii", "replace")
    target = absolute(posixpath.join(rel, name) if codes[0] == "d" else rel, home)
    if status == 0:
        return True
    if status == _SHORT:
        raise CopyError(f"cannot read {shown(item.src)}: it changed size while being copied", "copy it again")
    if status == _FOLDER_THERE:
        raise CopyError(f"cannot write {shown(where(target))}: a folder appeared there while the copy ran")
    raise _device_error(said.decode("utf-8", "replace"), where(target))


class _Read:
    """How far the master has read the file: it reads our own open file, so the offset is shared."""

    def __init__(self, fd: int, moved: Callable[[int, int], None]) -> None:
        self.fd, self.moved, self.seen = fd, moved, 0

    def look(self) -> None:
        at = os.lseek(self.fd, 0, os.SEEK_CUR)
        if at > self.seen:
            self.moved(at, at - self.seen)  # (read so far, read since the last look)
            self.seen = at

    async def follow(self) -> None:
        while True:
            await asyncio.sleep(POLL)
            self.look()


def _device_error(said: str, place: str) -> CopyError:
    """The device's words (``cat: write error: No space left on device``) as one line."""
    for line in reversed(said.strip().splitlines()):
        error = said_error(line)
        if error is not None:
            return failure("write", place, error)
    tail = said.strip().splitlines()[-1:] or ["it failed"]
    return failure("write", place, OSError(errno.EIO, tail[0]))
