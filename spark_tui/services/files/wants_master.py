"""Whether a copy wants an OpenSSH master, told from the command line alone.

Nothing here imports asyncio: ``spark-tui copy`` asks before the rest of the program loads, so
a master it wants logs in meanwhile (:meth:`OpenSSHMaster.spawn`).
"""

from __future__ import annotations

import os
import stat

from spark_tui.core.files import Place

BIG_FILE = 8 << 20
"""Files at least this big are moved by ``ssh`` through the master when it can run."""


def may_move_much(sources: list[Place], dest: Place, recursive: bool) -> bool:
    """Whether the master may be needed: a download (sizes unknown before the device is asked;
    a master started at once is ready when the first big file is), or an upload of a folder or
    a big file."""
    if not dest.device:
        return True
    for source in sources:
        try:
            found = os.lstat(os.path.expanduser(source.path))
        except OSError:
            continue
        if (recursive and stat.S_ISDIR(found.st_mode)) or found.st_size >= BIG_FILE:
            return True
    return False
