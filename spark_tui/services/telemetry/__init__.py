"""Live CPU, GPU, memory and disk of a connected device, from one long-running remote script.

Other layers import from here only; the modules behind this face are private to it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from spark_tui.services.lazy_face import lazy_exports

__all__, __getattr__ = lazy_exports(__name__, {
    "TelemetrySampler": "sampler",
    "TelemetryDecoder": "sampler",
})

if TYPE_CHECKING:
    from spark_tui.services.telemetry.sampler import TelemetryDecoder, TelemetrySampler
