"""Docker containers on a device, read from docker's JSON output over the shared SSH connection.

Only JSON is read (``docker ps -a --format '{{json .}}'`` and ``docker inspect``), never the
table text, whose columns change between docker versions. A device without docker, a user
without access to its socket, or a stopped daemon is a :class:`DockerUnavailable` with one
plain sentence and the fix (``sudo usermod -aG docker $USER``), not docker's error dump.
"""

from __future__ import annotations

import shlex
from dataclasses import replace

import asyncssh

from spark_tui.core.apps import DOCKER_HINTS, ContainerInfo, DockerProblem, docker_problem, parse_gpu_requests, parse_ps_lines
from spark_tui.core.errors import DockerUnavailable, SparkError
from spark_tui.core.untrusted import display_safe

ACTIONS = ("start", "stop", "restart")
# ``command -v`` first so "no docker" is told apart from a docker that fails.
_PS = "command -v docker >/dev/null 2>&1 || exit 127; docker ps -a --no-trunc --format '{{json .}}'"


def logs_command(container: str, tail: int = 200) -> str:
    """The command a shell tab runs to follow a container's logs."""
    return f"docker logs -f --tail {int(tail)} {shlex.quote(container)}"


def _unavailable(problem: DockerProblem) -> DockerUnavailable:
    message, hint = DOCKER_HINTS[problem]
    error = DockerUnavailable(message, hint)
    error.problem = problem  # type: ignore[attr-defined]
    return error


def _failed(result: asyncssh.SSHCompletedProcess, what: str) -> SparkError:
    stderr = str(result.stderr or "")
    problem = docker_problem(stderr, result.exit_status)
    if problem is not None:
        return _unavailable(problem)
    first = next((line for line in stderr.splitlines() if line.strip()), f"exit status {result.exit_status}")
    return SparkError(f"docker {what} failed: {display_safe(first.strip(), 200)}", "see the device's docker logs")


async def list_containers(conn: asyncssh.SSHClientConnection, *, with_gpus: bool = True) -> tuple[ContainerInfo, ...]:
    """Every container on the device (running first), with published ports and GPU requests.

    Raises:
        DockerUnavailable: No docker, no permission to use it, or the daemon is down.
        SparkError: docker failed otherwise (its first error line is shown).
    """
    result = await conn.run(_PS, check=False)
    if result.exit_status != 0:
        raise _failed(result, "ps")
    containers = parse_ps_lines(str(result.stdout or ""))
    if with_gpus and containers:
        ids = " ".join(shlex.quote(c.id) for c in containers)
        inspected = await conn.run(f"docker inspect {ids}", check=False)
        if inspected.exit_status == 0:
            gpus = parse_gpu_requests(str(inspected.stdout or ""))
            containers = tuple(replace(c, gpus=gpus.get(c.id[:12], "")) for c in containers)
    short = tuple(replace(c, id=c.id[:12]) for c in containers)
    return tuple(sorted(short, key=lambda c: (c.state != "running", c.name)))


async def container_action(conn: asyncssh.SSHClientConnection, action: str, container: str) -> None:
    """``docker start|stop|restart CONTAINER`` on the device.

    Raises:
        ValueError: Not one of ``ACTIONS``.
        DockerUnavailable: No docker, no permission, or the daemon is down.
        SparkError: docker refused (e.g. no such container).
    """
    if action not in ACTIONS:
        raise ValueError(f"unknown container action {action!r}")
    result = await conn.run(f"docker {action} {shlex.quote(container)}", check=False)
    if result.exit_status != 0:
        raise _failed(result, action)
