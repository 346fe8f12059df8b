"""pyghostty's cffi objects, or why they are missing (one import for the native core's modules)."""

from __future__ import annotations

LOAD_ERROR = ""
try:  # only where its wheel installs (pyproject pins it with a platform marker)
    from pyghostty import ffi, lib
except ImportError:  # not installed (no wheel for this platform)
    ffi = lib = None
    LOAD_ERROR = "pyghostty (libghostty-vt) is not installed on this platform"
except OSError as error:  # installed, but its library does not load
    ffi = lib = None
    LOAD_ERROR = f"libghostty-vt does not load: {error}"
