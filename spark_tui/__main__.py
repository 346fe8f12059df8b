"""Allows ``python -m spark_tui``."""

from spark_tui.cli import entry

entry()
