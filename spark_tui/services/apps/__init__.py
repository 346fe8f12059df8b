"""Apps and containers on a device: start scripts in their own process group, docker, editors.

Other layers import from here only; the modules behind this face are private to it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from spark_tui.services.lazy_face import lazy_exports

__all__, __getattr__ = lazy_exports(__name__, {
    "AppService": "service",
    "stop_on_device": "service",
    "app_record_status": "service",
    "list_containers": "containers",
    "container_action": "containers",
    "logs_command": "containers",
    "open_in_editor": "editor",
    "exported_config_path": "editor",
})

if TYPE_CHECKING:
    from spark_tui.services.apps.containers import container_action, list_containers, logs_command
    from spark_tui.services.apps.editor import exported_config_path, open_in_editor
    from spark_tui.services.apps.service import AppService, app_record_status, stop_on_device
