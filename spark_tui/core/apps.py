"""Apps a user starts on a device (NVIDIA Sync's custom apps) and the containers that run there.

Plain frozen values: what an app is (``AppSpec``, saved under ``[[devices.NAME.apps]]``), how a
started one stands (``AppStatus``), and what docker says about a container (``ContainerInfo``),
plus the pure parsing of docker's JSON lines. No I/O here.
"""

from __future__ import annotations

import enum
import json
import re
from dataclasses import dataclass

from spark_tui.core.untrusted import display_safe


@dataclass(frozen=True)
class AppSpec:
    """An app saved for a device.

    Attributes:
        name: What the user calls it ("open-webui").
        port: The port the app listens on at the device (and, by default, locally too).
        start_script: Shell script run on the device to start it; ``None`` = the app is just a
            tunnel (something else starts the service, as in the Ollama playbook).
        script_file: A local file whose text is sent as the start script at each start
            (used instead of ``start_script``).
        browser_path: Path opened in the browser (``"/"``, ``"/lab"``).
        auto_open: Open the browser once the app is up.
        local_port: Port on this computer; ``None`` = the same number as ``port`` (moved to the
            next free one when taken, as NVIDIA Sync does).
    """

    name: str
    port: int
    start_script: str | None = None
    script_file: str | None = None
    browser_path: str = "/"
    auto_open: bool = False
    local_port: int | None = None

    @property
    def has_script(self) -> bool:
        """True when starting the app runs something on the device."""
        return bool(self.start_script and self.start_script.strip()) or self.script_file is not None


class AppState(str, enum.Enum):
    """Life of a started app."""

    STARTING = "starting"  # script sent, waiting for the port
    RUNNING = "running"  # port listening, tunnel up
    STOPPING = "stopping"
    STOPPED = "stopped"
    FAILED = "failed"


@dataclass(frozen=True)
class AppStatus:
    """One app's state, as the app service last published it.

    Attributes:
        device: Device name.
        app: App name.
        state: Where it stands.
        local_url: ``http://127.0.0.1:PORT/path`` once its tunnel is up, else ``""``.
        exit_status: The script's exit status once it ended by itself (``None`` otherwise).
        message: Last progress or error text (device text already made safe).
        leave_running: The user chose to keep it running when spark-tui quits.
    """

    device: str
    app: str
    state: AppState
    local_url: str = ""
    exit_status: int | None = None
    message: str = ""
    leave_running: bool = False


def local_url(local_port: int, path: str = "/", scheme: str = "http") -> str:
    """The URL of an app's tunnel on this computer."""
    return f"{scheme}://127.0.0.1:{local_port}{path if path.startswith('/') else '/' + path}"


# --- containers ------------------------------------------------------------------------------


@dataclass(frozen=True)
class PublishedPort:
    """One container port docker publishes on the device.

    Attributes:
        host_ip: Address on the device (``127.0.0.1``, ``0.0.0.0``, ``::``).
        host_port: Port on the device (what a tunnel reaches).
        container_port: Port inside the container.
        protocol: ``tcp`` or ``udp``.
    """

    host_ip: str
    host_port: int
    container_port: int
    protocol: str = "tcp"

    def __str__(self) -> str:
        return f"{self.host_ip}:{self.host_port}->{self.container_port}/{self.protocol}"


@dataclass(frozen=True)
class ContainerInfo:
    """A docker container as ``docker ps --format '{{json .}}'`` describes it (text made safe).

    Attributes:
        id: Short id.
        name: Container name.
        image: Image reference.
        state: ``running``, ``exited``, ``paused``, ``created`` ...
        status: Docker's human status ("Up 3 minutes", "Exited (0) 2 hours ago").
        running_for: How long ago it was created ("5 minutes ago").
        ports: Published ports.
        gpus: GPU request as ``docker inspect`` reports it ("all", "1", "GPU-uuid"), ``""`` = none.
    """

    id: str
    name: str
    image: str
    state: str
    status: str = ""
    running_for: str = ""
    ports: tuple[PublishedPort, ...] = ()
    gpus: str = ""


class DockerProblem(enum.Enum):
    """Why the containers of a device cannot be listed."""

    MISSING = "missing"  # no docker command on the device
    PERMISSION = "permission"  # the user may not use the docker socket
    DAEMON = "daemon"  # the daemon is not running / not reachable


DOCKER_HINTS = {
    DockerProblem.MISSING: (
        "docker is not installed on the device",
        "install it (NVIDIA's DGX OS ships it), e.g. sudo apt install docker.io",
    ),
    DockerProblem.PERMISSION: (
        "your user may not use docker on the device (not in the docker group)",
        "on the device run: sudo usermod -aG docker $USER, then log out and back in (or reconnect)",
    ),
    DockerProblem.DAEMON: (
        "the docker daemon on the device is not running",
        "start it on the device: sudo systemctl start docker",
    ),
}

_PORT_RE = re.compile(r"^\s*(?:(\[?[0-9A-Fa-f:.]+\]?):)?(\d+)(?:-(\d+))?->(\d+)(?:-(\d+))?/(tcp|udp|sctp)\s*$")


def parse_ports(text: str) -> tuple[PublishedPort, ...]:
    """Docker's ``Ports`` field (``127.0.0.1:32768->8080/tcp, 8000/tcp``) -> published ports.

    Ports exposed but not published (no ``->``) are left out: nothing listens for them on the
    device. Ranges are expanded up to 64 ports; anything that does not parse is skipped.
    """
    found: list[PublishedPort] = []
    for part in text.split(","):
        match = _PORT_RE.match(part)
        if not match:
            continue
        ip, first, last, inner, _inner_last, proto = match.groups()
        start, end = int(first), int(last or first)
        if not 0 < start <= end <= 65535 or end - start > 63:
            continue
        for offset in range(end - start + 1):
            port = PublishedPort((ip or "0.0.0.0").strip("[]"), start + offset, int(inner) + offset, proto)
            if port not in found:
                found.append(port)
    return tuple(found)


def _field(record: dict, key: str, limit: int = 128) -> str:
    value = record.get(key, "")
    return display_safe(value if isinstance(value, str) else str(value), limit)


def parse_ps_lines(text: str) -> tuple[ContainerInfo, ...]:
    """Lines of ``docker ps -a --format '{{json .}}'`` -> containers; bad lines are skipped."""
    found: list[ContainerInfo] = []
    for line in text.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if not isinstance(record, dict) or not isinstance(record.get("ID"), str):
            continue
        ports = record.get("Ports", "")
        found.append(ContainerInfo(
            id=_field(record, "ID", 64),
            name=_field(record, "Names"),
            image=_field(record, "Image"),
            state=_field(record, "State", 32).lower(),
            status=_field(record, "Status"),
            running_for=_field(record, "RunningFor"),
            ports=parse_ports(ports) if isinstance(ports, str) else (),
        ))
    return tuple(found)


def parse_gpu_requests(text: str) -> dict[str, str]:
    """``docker inspect`` JSON -> {short id: GPU request} for containers that ask for GPUs.

    Docker reports GPUs as ``HostConfig.DeviceRequests`` with capability ``gpu``: ``Count`` -1
    means all, else a number, or explicit ``DeviceIDs``.
    """
    try:
        records = json.loads(text)
    except ValueError:
        return {}
    found: dict[str, str] = {}
    for record in records if isinstance(records, list) else []:
        if not isinstance(record, dict) or not isinstance(record.get("Id"), str):
            continue
        host = record.get("HostConfig") or {}
        for request in (host.get("DeviceRequests") or []) if isinstance(host, dict) else []:
            if not isinstance(request, dict):
                continue
            caps = [c for group in request.get("Capabilities") or [] for c in (group or [])]
            if "gpu" not in caps and request.get("Driver") != "nvidia":
                continue
            ids = request.get("DeviceIDs") or []
            count = request.get("Count", 0)
            text_value = ",".join(map(str, ids)) if ids else ("all" if count == -1 else str(count))
            found[record["Id"][:12]] = display_safe(text_value, 64)
    return found


def docker_problem(stderr: str, exit_status: int | None) -> DockerProblem | None:
    """What a failed docker command's error says, or ``None`` when it is something else."""
    low = stderr.lower()
    if exit_status == 127 or "command not found" in low or "docker: not found" in low:
        return DockerProblem.MISSING
    if "permission denied" in low and ("docker.sock" in low or "daemon socket" in low or "docker api" in low):
        return DockerProblem.PERMISSION
    if any(text in low for text in ("cannot connect to the docker daemon", "is the docker daemon running", "failed to connect to the docker api")):
        return DockerProblem.DAEMON
    return None
