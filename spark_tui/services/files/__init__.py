"""Files: copy between this computer and a device (resumable, verified, surviving link drops),
and the folder operations behind the Files screen.

Other layers import from here only; the modules behind this face are private to it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from spark_tui.services.lazy_face import lazy_exports

__all__, __getattr__ = lazy_exports(__name__, {
    "Transfer": "transfer",
    "CopyOptions": "copier",
    "CopyError": "errors",
    "ChecksumMismatch": "errors",
    "LocalSide": "local_side",
    "RemoteSide": "remote_side",
    "FileBrowser": "browser",
    "may_move_much": "wants_master",
})

if TYPE_CHECKING:
    from spark_tui.services.files.browser import FileBrowser
    from spark_tui.services.files.copier import CopyOptions
    from spark_tui.services.files.errors import ChecksumMismatch, CopyError
    from spark_tui.services.files.local_side import LocalSide
    from spark_tui.services.files.remote_side import RemoteSide
    from spark_tui.services.files.transfer import Transfer
    from spark_tui.services.files.wants_master import may_move_much
