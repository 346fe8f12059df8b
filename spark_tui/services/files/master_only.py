"""New folders up with no asyncssh login: everything through the copy's early OpenSSH master.

A folder whose target does not exist yet needs from the device only what its shell and GNU tar
do: the answer to one question (where the home is, what exists), the tar stream, the folders'
modes and times and the staging folder's name. For one folder that is one command (two when
this computer has no GNU tar to put the folders' modes in the stream); for several, a question,
a stream each and a last command each. When the early master (``direct_master``) is up, that
is all done through it: asyncssh is never imported and the device serves one login instead of
two. Measured (``benchmarks/bench_files.py --small-only``, 5,000 files of 1-64 KiB): the
stream starts as soon as the master is up instead of ~0.1 s later, and the copy uses ~0.2
CPU-seconds less (asyncssh's import and login, on both ends).

Anything else declines (:func:`send` returns False before anything is made on the device) and
the copy takes the general path: a target or staging folder that exists (a merge or a resume),
files of ``BIG_FILE`` or more (each resumable from its own part), a path that needs
normalising, a device without GNU tar and mv, an early master that could not log in.
"""

from __future__ import annotations

import posixpath
import shlex
import tarfile
from collections.abc import Callable
from dataclasses import replace

from spark_tui.core.files import EntryKind, part_name
from spark_tui.services.files.bundle import Bundle, OnlyMaster, device_error, send_new, stream
from spark_tui.services.files.errors import CopyError, shown
from spark_tui.services.files.gnu_tar import local_gnu_tar
from spark_tui.services.files.tar_writer import header
from spark_tui.services.files.tree import SOMEWHERE, Item
from spark_tui.services.files.wants_master import BIG_FILE

ANSWER = r"""h=$(pwd -P) || exit 99
printf '%s\0' "$h"
codes=
for p do
  case $p in /*) ;; '') p=$h ;; *) p=${h%/}/$p ;; esac
  if [ -d "$p" ]; then c=d; elif [ -L "$p" ]; then c=e; elif [ -f "$p" ]; then c=f; elif [ -e "$p" ]; then c=e; else c=n; fi
  codes=$codes$c
done
printf '%s\0' "$codes"
"""
"""The answer to the one question: the home (physical, as SFTP's realpath gives it), then for
each path ``d`` (a folder, followed), ``f`` (a plain file), ``e`` (something else: a symlink to
anything but a folder, a dangling one, a device...) or ``n`` (nothing)."""

_ASK = ANSWER + r"""LC_ALL=C tar --version 2>/dev/null | head -n 1
LC_ALL=C mv --version 2>/dev/null | head -n 1"""
"""The question alone, then the first lines of ``tar --version`` and ``mv --version`` (GNU tar
unpacks, GNU mv's ``-T`` renames the staging folder, never into a folder that appeared at the
target)."""

_ASK_THEN_UNPACK = "m=$1; shift\n" + ANSWER + r"""case $(LC_ALL=C tar --version 2>/dev/null) in "tar (GNU tar) "*) ;; *) exit 99 ;; esac
case $(LC_ALL=C mv --version 2>/dev/null) in "mv (GNU coreutils) "*) ;; *) exit 99 ;; esac
case $codes in
  d??nn) s=$5 t=$4 ;;
  ndn??) [ -n "$3" ] || exit 99; s=$3 t=$1 ;;
  *) exit 99 ;;
esac
printf %s "${codes%???}"
LC_ALL=C mkdir -m 700 -- "$s" && cd -- "$s" || exit
env -u TAR_OPTIONS LC_ALL=C tar -x -p --no-same-owner -f - || exit
[ "$m" = name ] || exit 0
cd -- "$h" || exit
if [ -e "$t" ] || [ -L "$t" ]; then exit 17; fi
exec mv -T -- "$s" "$t"
"""
"""For one folder (``name`` or not, then the paths: the destination, its parent, the
destination's own staging name, the folder inside it, that one's staging name): the answer,
then the same decision as :func:`_plan` (into the destination when it is a folder, else as
it), its first two codes again to say which, the stream unpacked into the staging folder made for it, and with
``name`` the staging folder renamed (the stream itself then holds every folder, the top as
``.``, with its mode and time, which GNU tar sets last). Status 99: it cannot go this way, and
nothing was made (the stream is not read)."""
_DECLINED = 99
_EXISTS = 17
"""The last command's status when the target appeared while the copy ran."""


def relative(path: str) -> str | None:
    """The device path as :data:`_ASK` takes it (``""`` the home, else relative to it or
    absolute), or ``None`` when resolving it would need normalising (``.``, ``..``, ``//``)."""
    if path in ("~", "."):
        return ""
    if path.startswith("~/"):
        path = path[2:]
    body = path.rstrip("/")
    if path.startswith("/") and not body:
        return None
    parts = body.lstrip("/").split("/") if body else []
    if any(part in ("", ".", "..") for part in parts):
        return None
    return body


def absolute(rel: str, home: str) -> str:
    """``rel`` (as :func:`relative` gives it) as an absolute path on the device."""
    if rel.startswith("/"):
        return rel
    return f"{home.rstrip('/')}/{rel}" if rel else home


async def send(openssh, dest: str, walked: list[list[Item]], sent: Callable[[Item, bool], None], nice: int,
               where: Callable[[str], str]) -> bool:
    """Copy the walked folders to ``dest`` this way, streams and finishing; False when they
    cannot go this way (each source a folder whose target does not exist), before anything is
    made on the device. Waits for the early master's login.

    One folder asks its question in the command that unpacks its stream, so its bytes flow
    from the first round trip (measured: the 5,000 small files ~0.06 s sooner, the time of
    the question); several ask first, then stream one after the other.

    Raises:
        LinkDropped: the master died (a staging folder may hold part of a folder).
        CopyError: a file could not be read here or written there (named, with the reason).
    """
    rel = relative(dest)
    if rel is None or not walked:
        return False
    for group in walked:
        if group[0].entry.kind is not EntryKind.FOLDER:
            return False
        if any(i.entry.kind is EntryKind.FILE and i.entry.size >= BIG_FILE for i in group):
            return False
    names = [posixpath.basename(group[0].src.rstrip("/")) or "root" for group in walked]
    if len(set(names)) != len(names):
        return False
    if await openssh.early_master() is None:
        return False
    if len(walked) == 1:
        one = await _one_with_answer(openssh, rel, names[0], walked[0], sent, nice, where)
        if one is None:
            return False
        placed, named = one
        if not named:
            await finish(openssh, placed, where)
        return True
    bundles = await _plan(openssh, rel, names, walked)
    if bundles is None:
        return False
    for each in bundles:
        await send_new(where, each, sent, openssh, nice)
    for each in bundles:
        await finish(openssh, each, where)
    return True


def own_part(rel: str) -> str:
    """The staging name of ``rel`` itself (empty for the home)."""
    parent, name = posixpath.split(rel)
    return posixpath.join(parent, part_name(name)) if rel and name else ""


def _placed(group: list[Item], target: str, home: str) -> Bundle:
    """The group's bundle, its top at ``target``. Only the top is placed: this path names
    members by their sources and has no big files (the items' own destinations are unused)."""
    top = group[0]
    return Bundle(replace(top, dest=absolute(target, home) + top.dest[len(SOMEWHERE):]), group[1:])


async def _one_with_answer(openssh, rel: str, name: str, group: list[Item], sent, nice: int,
                           where: Callable[[str], str]) -> tuple[Bundle, bool] | None:
    """One folder's question and stream in one command (:data:`_ASK_THEN_UNPACK`); its bundle
    as placed and whether it is also named already, or ``None`` when the device declined
    before making anything.

    Named in the same command when this computer's GNU tar writes the stream (the folders' own
    modes and times in it: measured, one round trip and ``ssh`` start less, ~0.02 s); the
    Python writer's stream gives folders room to write into, so :func:`finish` follows it.
    """
    asked = [rel, posixpath.dirname(rel), own_part(rel), posixpath.join(rel, name), posixpath.join(rel, part_name(name))]
    named = await local_gnu_tar() is not None
    command = shlex.join(["sh", "-c", _ASK_THEN_UNPACK, "sh", "name" if named else "stay", *asked])
    unplaced = Bundle(group[0], group[1:])  # member names need no destination
    status, out, said = await stream(OnlyMaster(where), unplaced, group if named else group[1:], sent, openssh, nice,
                                     command)
    if status == _DECLINED:
        return None
    fields = out.split(b"\0")
    home, codes = (fields[0].decode("utf-8", "surrogateescape"), fields[1].decode("ascii", "replace")) \
        if len(fields) == 3 else ("", "")
    if not home.startswith("/") or len(codes) != len(asked) or fields[2] != codes[:2].encode():
        tail = said.strip().splitlines()[-1:] or [f"status {status}"]
        raise CopyError(f"cannot write {shown(where(rel or '~'))}: the device said: {shown(tail[0])}")
    placed = _placed(group, posixpath.join(rel, name) if codes[0] == "d" else rel, home)
    if status == _EXISTS and named:
        raise _appeared(placed, where)
    if status != 0:
        raise device_error(said, placed, where)
    return placed, named


async def _plan(openssh, rel: str, names: list[str], walked: list[list[Item]]) -> list[Bundle] | None:
    """Several folders' bundles as placed when each can go this way, else ``None``.

    Raises:
        LinkDropped: the master died while asked.
    """
    into = [p for name in names for p in (posixpath.join(rel, name), posixpath.join(rel, part_name(name)))]
    asked = [rel, posixpath.dirname(rel), own_part(rel), *into]
    status, out, _ = await openssh.ask(shlex.join(["sh", "-c", _ASK, "sh", *asked]))
    fields = out.split(b"\0")
    if status != 0 or len(fields) != 3 or b"GNU tar" not in fields[2] or b"GNU coreutils" not in fields[2]:
        return None
    home, codes = fields[0].decode("utf-8", "surrogateescape"), fields[1].decode("ascii", "replace")
    if len(codes) != len(asked) or not home.startswith("/") or codes[0] != "d" or codes[3:] != "n" * len(into):
        return None
    return [_placed(group, posixpath.join(rel, name), home) for group, name in zip(walked, names)]


def _appeared(bundle: Bundle, where: Callable[[str], str]) -> CopyError:
    return CopyError(f"cannot create {shown(where(bundle.top.dest))}: something appeared there while the copy ran",
                     f"the copy is complete in {shown(where(bundle.staging))}")


def _folders_tar(bundle: Bundle) -> bytes:
    """A tar of the bundle's folders alone (the top as ``.``), exact modes and times: GNU tar
    unpacking it over the staging folder sets them, the deepest first, after the last file."""
    blocks = [header(".", tarfile.DIRTYPE, bundle.top.entry.mode, int(bundle.top.entry.mtime))]
    for item in bundle.items:
        if item.entry.kind is EntryKind.FOLDER:
            blocks.append(header(bundle.member(item), tarfile.DIRTYPE, item.entry.mode, int(item.entry.mtime)))
    blocks.append(bytes(1024))
    return b"".join(blocks)


async def finish(openssh, bundle: Bundle, where: Callable[[str], str]) -> None:
    """The bundle's folders' modes and times, then its name (never over something that appeared
    at the target meanwhile).

    Raises:
        CopyError: the device refused (the reason named).
        LinkDropped: the master died.
    """
    staging, target = shlex.quote(bundle.staging), shlex.quote(bundle.top.dest)
    command = (f"cd -- {staging} && env -u TAR_OPTIONS LC_ALL=C tar -x -p --no-same-owner -f - && cd / && "
               f"if [ -e {target} ] || [ -L {target} ]; then exit {_EXISTS}; fi && exec mv -T -- {staging} {target}")
    status, _, said = await openssh.ask(command, _folders_tar(bundle))
    if status == 0:
        return
    if status == _EXISTS:
        raise _appeared(bundle, where)
    raise device_error(said.decode("utf-8", "replace"), bundle, where)
