"""Port forwards to a device (-L, -R, -D) that heal themselves, their byte counts, and port watch.

Other layers import from here only; the modules behind this face are private to it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from spark_tui.services.lazy_face import lazy_exports

__all__, __getattr__ = lazy_exports(__name__, {
    "TunnelService": "service",
    "DeviceLink": "link",
    "master_factory": "carrier",
    "direct_master": "masters",
    "PortWatch": "port_watch",
    "dashboard_preset": "port_watch",
    "next_free_port": "forwarding",
})

if TYPE_CHECKING:
    from spark_tui.services.tunnels.carrier import master_factory
    from spark_tui.services.tunnels.masters import direct_master
    from spark_tui.services.tunnels.forwarding import next_free_port
    from spark_tui.services.tunnels.link import DeviceLink
    from spark_tui.services.tunnels.port_watch import PortWatch, dashboard_preset
    from spark_tui.services.tunnels.service import TunnelService
