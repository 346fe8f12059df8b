"""``spark-tui open NAME [PATH] --editor code|cursor``: the device in VS Code or Cursor (Remote-SSH)."""

from __future__ import annotations

from spark_tui.core.errors import DeviceNotFound


def run(args, ctx) -> int:
    """Entry point of ``spark-tui open``.

    Raises:
        DeviceNotFound: No saved device has that name.
        SparkError: The editor is unknown, not on PATH, or could not start.
    """
    config = ctx.store().load()
    device = config.device(args.name)
    if device is None:
        raise DeviceNotFound(f"no saved device named {args.name!r}", "see: spark-tui device list")
    from spark_tui.services.apps import open_in_editor

    command, hint = open_in_editor(device, config.devices, editor=args.editor, path=args.path or "")
    print(f"opened {device.name} with: {' '.join(command)}", file=ctx.stdout)
    if hint:
        print(hint, file=ctx.stdout)
    return 0
