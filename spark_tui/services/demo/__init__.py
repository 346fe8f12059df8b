"""The embedded demo device: a stand-in DGX Spark on loopback (see ``device.DemoDevice``).

Modules: ``device`` (DemoDevice, DemoDeviceThread), ``login`` (who may log in),
``shell_server`` (SSH sessions on real PTYs), ``fake_nvidia_smi`` (GB10-like nvidia-smi),
``web`` (DGX Dashboard and JupyterLab stand-ins), ``advertise`` (mDNS on 127.0.0.1 only).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from spark_tui.services.lazy_face import lazy_exports

__all__, __getattr__ = lazy_exports(__name__, {
    "DemoDevice": "device",
    "DemoDeviceThread": "device",
})

if TYPE_CHECKING:
    from spark_tui.services.demo.device import DemoDevice, DemoDeviceThread
