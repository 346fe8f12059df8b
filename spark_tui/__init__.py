"""spark-tui: a keyboard-driven terminal dashboard for NVIDIA DGX Spark and other SSH hosts.

Importing this package must stay cheap: `spark-tui --version` reads only ``__version__``.
"""

import warnings

__version__ = "0.1.0"

# cryptography (from 47 on, and louder in 51) warns when asyncssh merely names its DSA types at
# import. Those warnings are addressed to asyncssh's developers, not to someone running
# `spark-tui exec`: printed, they put a dozen lines of library source before our one-line error.
# Only deprecation notices attributed to asyncssh's own modules are hidden; any other warning
# still shows. (`warnings` is loaded by the interpreter at start, so this costs nothing.)
warnings.filterwarnings("ignore", message=r".*\bdeprecated\b", module=r"asyncssh(\.|$)")
