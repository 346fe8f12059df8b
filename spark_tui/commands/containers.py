"""``spark-tui containers NAME [--json]``: the docker containers on a device, read from docker's JSON."""

from __future__ import annotations

import json

from spark_tui.core.apps import ContainerInfo
from spark_tui.core.errors import DeviceNotFound


def container_to_json(container: ContainerInfo) -> dict:
    """The ``--json`` form of one container (stable keys)."""
    return {
        "id": container.id,
        "name": container.name,
        "image": container.image,
        "state": container.state,
        "status": container.status,
        "running_for": container.running_for,
        "ports": [
            {"host_ip": p.host_ip, "host_port": p.host_port, "container_port": p.container_port, "protocol": p.protocol}
            for p in container.ports
        ],
        "gpus": container.gpus,
    }


def run(args, ctx) -> int:
    """Entry point of ``spark-tui containers``.

    Raises:
        DeviceNotFound: No saved device has that name.
        ConnectError: The device cannot be reached.
        DockerUnavailable: No docker there, no permission to use it, or its daemon is down.
    """
    config = ctx.store().load()
    device = config.device(args.name)
    if device is None:
        raise DeviceNotFound(f"no saved device named {args.name!r}", "see: spark-tui device list")
    from spark_tui.services import event_loop

    async def fetch():
        from spark_tui.services.apps import list_containers
        from spark_tui.commands.host_trust import confirm_for
        from spark_tui.services.ssh import ConnectionService

        connections = ConnectionService(profiles=config.device, confirm_host_key=confirm_for(ctx, args, device.name))
        try:
            return await list_containers(await connections.connect(device))
        finally:
            await connections.close()

    containers = event_loop.run(fetch())
    if args.json:
        json.dump([container_to_json(c) for c in containers], ctx.stdout, indent=2)
        ctx.stdout.write("\n")
        return 0
    if not containers:
        print(f"no containers on {device.name}", file=ctx.stdout)
        return 0
    rows = [("NAME", "IMAGE", "STATE", "STATUS", "PORTS", "GPUS")]
    for c in containers:
        rows.append((c.name, c.image, c.state, c.status, ", ".join(map(str, c.ports)) or "-", c.gpus or "-"))
    widths = [min(max(len(r[i]) for r in rows), 40) for i in range(5)]
    for row in rows:
        print("  ".join(cell[:w].ljust(w) for cell, w in zip(row, widths)) + "  " + row[5], file=ctx.stdout)
    return 0
