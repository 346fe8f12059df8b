"""New folders up with no asyncssh login: everything through the copy's early OpenSSH master.

A folder whose target does not exist yet needs from the device only what its shell and GNU tar
do: one question (where the home is, what exists), the tar streams, and one last command that
gives the folders their modes and times and the staging folder its name. When the early master
(``direct_master``) is up, that is all done through it: asyncssh is never imported and the
device serves one login instead of two. Measured (``benchmarks/bench_files.py --small-only``,
5,000 files of 1-64 KiB): the streams start as soon as the master is up instead of ~0.1 s
later, and the copy uses ~0.2 CPU-seconds less (asyncssh's import and login, on both ends).

Anything else declines (returns ``None`` before a byte is written) and the copy takes the
general path: a target or staging folder that exists (a merge or a resume), files of
``BIG_FILE`` or more (each resumable from its own part), a path that needs normalising, a
device without GNU tar and mv, an early master that could not log in.
"""

from __future__ import annotations

import posixpath
import shlex
import tarfile
from collections.abc import Callable
from dataclasses import replace

from spark_tui.core.files import EntryKind, part_name
from spark_tui.services.files.bundle import Bundle, device_error
from spark_tui.services.files.errors import CopyError, shown
from spark_tui.services.files.openssh_path import BIG_FILE
from spark_tui.services.files.tar_writer import header
from spark_tui.services.files.tree import SOMEWHERE, Item

_ASK = r"""h=$(pwd -P) || exit 3
printf '%s\0' "$h"
for p do
  case $p in /*) ;; '') p=$h ;; *) p=${h%/}/$p ;; esac
  if [ -d "$p" ]; then c=d; elif [ -e "$p" ] || [ -L "$p" ]; then c=e; else c=n; fi
  printf %s "$c"
done
printf '\0'
LC_ALL=C tar --version 2>/dev/null | head -n 1
LC_ALL=C mv --version 2>/dev/null | head -n 1"""
"""The one question: the home (physical, as SFTP's realpath gives it), then for each path ``d``
(a folder, followed), ``e`` (something else, or a dangling symlink) or ``n`` (nothing), then the
first lines of ``tar --version`` and ``mv --version`` (GNU tar unpacks, GNU mv's ``-T`` renames
the staging folder, never into a folder that appeared at the target)."""

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


def _absolute(rel: str, home: str) -> str:
    if rel.startswith("/"):
        return rel
    return f"{home.rstrip('/')}/{rel}" if rel else home


async def plan(openssh, dest: str, walked: list[list[Item]]) -> tuple[list[Item], list[Bundle]] | None:
    """The copy's plan and its bundles when it can go this way (each source a folder whose
    target does not exist), else ``None``. Waits for the early master's login.

    Raises:
        LinkDropped: the master died while asked.
    """
    rel = relative(dest)
    if rel is None or not walked:
        return None
    for group in walked:
        if group[0].entry.kind is not EntryKind.FOLDER:
            return None
        if any(i.entry.kind is EntryKind.FILE and i.entry.size >= BIG_FILE for i in group):
            return None
    names = [posixpath.basename(group[0].src.rstrip("/")) or "root" for group in walked]
    if len(set(names)) != len(names):
        return None
    if await openssh.early_master() is None:
        return None
    parent = posixpath.dirname(rel)
    into = [p for name in names for p in (posixpath.join(rel, name), posixpath.join(rel, part_name(name)))]
    own = posixpath.join(parent, part_name(posixpath.basename(rel))) if rel and posixpath.basename(rel) else ""
    asked = [rel, parent, own, *into]
    status, out, _ = await openssh.ask(shlex.join(["sh", "-c", _ASK, "sh", *asked]))
    fields = out.split(b"\0")
    if status != 0 or len(fields) != 3 or b"GNU tar" not in fields[2] or b"GNU coreutils" not in fields[2]:
        return None
    home, codes = fields[0].decode("utf-8", "surrogateescape"), fields[1].decode("ascii", "replace")
    if len(codes) != len(asked) or not home.startswith("/"):
        return None
    if codes[0] == "d":
        if codes[3:] != "n" * len(into):
            return None
        targets = [posixpath.join(rel, name) for name in names]
    elif len(walked) == 1 and codes[:3] == "ndn" and own:
        targets = [rel]
    else:
        return None
    items: list[Item] = []
    bundles: list[Bundle] = []
    for group, target in zip(walked, targets):
        where = _absolute(target, home)
        placed = [replace(item, dest=where + item.dest[len(SOMEWHERE):]) for item in group]
        items.extend(placed)
        bundles.append(Bundle(placed[0], placed[1:]))
    return items, bundles


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
    command = (f"cd -- {staging} && LC_ALL=C tar -x -p --no-same-owner -f - && cd / && "
               f"if [ -e {target} ] || [ -L {target} ]; then exit {_EXISTS}; fi && exec mv -T -- {staging} {target}")
    status, _, said = await openssh.ask(command, _folders_tar(bundle))
    if status == 0:
        return
    if status == _EXISTS:
        raise CopyError(f"cannot create {shown(where(bundle.top.dest))}: something appeared there while the copy ran",
                        f"the copy is complete in {shown(where(bundle.staging))}")
    raise device_error(said.decode("utf-8", "replace"), bundle, where)
