"""Headless commands, one module per concern, each ``run(args, ctx) -> int``. See ``cli.py``."""
