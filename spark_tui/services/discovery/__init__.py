"""Finding devices on the LAN by mDNS (python-zeroconf) and resolving ``NAME.local``.

Other layers import from here only; the modules behind this face are private to it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from spark_tui.services.lazy_face import lazy_exports

__all__, __getattr__ = lazy_exports(__name__, {
    "DiscoveryService": "browser",
    "SSH_SERVICE": "browser",
    "open_zeroconf": "browser",
    "resolve_host": "resolve",
    "resolve_local": "resolve",
})

if TYPE_CHECKING:
    from spark_tui.services.discovery.browser import SSH_SERVICE, DiscoveryService, open_zeroconf
    from spark_tui.services.discovery.resolve import resolve_host, resolve_local
