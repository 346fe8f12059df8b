"""spark-tui: a keyboard-driven terminal dashboard for NVIDIA DGX Spark and other SSH hosts.

Importing this package must stay cheap: `spark-tui --version` reads only ``__version__``.
"""

__version__ = "0.1.0"
