"""One helper for the subpackages' faces: export names without importing their modules up front.

A subpackage's ``__init__`` names what other layers may use and which private module holds it;
the module is imported on first use (PEP 562), so ``spark-tui --version`` and the dashboard's first
frame never pay for asyncssh or zeroconf they do not need yet.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(package: str, exports: Mapping[str, str]) -> tuple[list[str], Callable[[str], Any]]:
    """Build ``__all__`` and a module ``__getattr__`` for ``package``.

    Args:
        package: The subpackage's ``__name__``.
        exports: Exported name -> the private module (relative to ``package``) that defines it.

    Returns:
        ``(__all__, __getattr__)`` to assign in the subpackage's ``__init__``.

    Raises:
        AttributeError: (from the returned ``__getattr__``) for a name the face does not export.
    """

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(f"{package}.{module}"), name)

    return sorted(exports), __getattr__
