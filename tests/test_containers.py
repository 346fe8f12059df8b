"""Containers on a device, against a real private docker daemon reached through a real sshd.

The sshd hands its sessions ``DOCKER_HOST`` (``SetEnv``) pointing at the private daemon's socket:
``root:apps-docker-t 0660`` with the test user in that group for the device that may use docker,
``root:root 0660`` for the device whose user is not in the group.
"""

from __future__ import annotations

import asyncio
import json
import os
import urllib.request

import pytest

from spark_tui.config import locations
from spark_tui.core.errors import DockerUnavailable
from spark_tui.core.models import DeviceProfile, TunnelSpec
from spark_tui.services.apps import container_action, list_containers
from spark_tui.services.ssh import ConnectionService
from spark_tui.services.tunnels import TunnelService
from tests.docker_daemon import DockerDaemon
from tests.docker_daemon import DockerUnavailable as NoDockerd
from tests.sshd_server import TEST_USER, Sshd
from tests.test_interop import run_cli, save, trust_server


@pytest.fixture(scope="module")
def docker():
    daemon = DockerDaemon(TEST_USER)
    try:
        daemon.start()
    except NoDockerd as error:
        pytest.fail(f"private dockerd did not start: {error}", pytrace=False)
    try:
        daemon.build_image()
        daemon.docker("run", "-d", "--name", "web", "-p", "127.0.0.1::8080", "apps-busybox:test",
                      "sh", "-c", "echo web: serving /www; exec httpd -f -p 8080 -h /www")
        daemon.docker("create", "--name", "gpu-job", "--gpus", "all", "apps-busybox:test", "sleep", "100")
        yield daemon
    finally:
        daemon.stop()


def _sshd(root, extra: str):
    server = Sshd(root, extra_config=extra)
    server.start()
    return server


@pytest.fixture(scope="module")
def docker_device(docker, tmp_path_factory):
    server = _sshd(tmp_path_factory.mktemp("sshd-docker"), f"SetEnv DOCKER_HOST=unix://{docker.allowed}")
    yield server
    server.close()


@pytest.fixture(scope="module")
def denied_device(docker, tmp_path_factory):
    server = _sshd(tmp_path_factory.mktemp("sshd-denied"), f"SetEnv DOCKER_HOST=unix://{docker.denied}")
    yield server
    server.close()


def profile_for(server) -> DeviceProfile:
    trust_server(server)
    return DeviceProfile("dev", host=server.host, user=server.user, port=server.port, identity_file=str(server.client_key))


async def containers_of(server):
    connections = ConnectionService(known_hosts=locations.known_hosts_path())
    try:
        return await list_containers(await connections.connect(profile_for(server)))
    finally:
        await connections.close()


async def test_containers_are_listed_with_their_published_ports_and_gpu_requests(docker, docker_device):
    containers = {c.name: c for c in await containers_of(docker_device)}
    web = containers["web"]
    assert web.state == "running" and web.image == "apps-busybox:test" and web.status.startswith("Up")
    published = docker.docker("port", "web", "8080").stdout.decode().split()[0]  # 127.0.0.1:NNNNN
    assert [(p.host_ip, p.host_port, p.container_port) for p in web.ports] == [("127.0.0.1", int(published.rsplit(":", 1)[1]), 8080)]
    assert containers["gpu-job"].state == "created" and containers["gpu-job"].gpus == "all"
    assert web.gpus == ""
    assert list(containers)[0] == "web"  # running first


async def test_a_tunnel_to_a_containers_published_port_serves_its_page(docker_device):
    web = next(c for c in await containers_of(docker_device) if c.name == "web")
    profile = profile_for(docker_device)
    connections = ConnectionService(known_hosts=locations.known_hosts_path())
    tunnels = TunnelService(lambda: connections.connect(profile), "dev")
    try:
        stats = await tunnels.start(TunnelSpec("web", web.ports[0].host_port, local_port=0, browser_path="/"))
        url = f"http://127.0.0.1:{stats.local_port}/"
        body = await asyncio.to_thread(lambda: urllib.request.urlopen(url, timeout=10).read())
        assert body == b"hello from a container\n"
    finally:
        await tunnels.close()
        await connections.close()


async def test_a_container_stops_starts_and_restarts_from_spark_tui(docker, docker_device):
    docker.docker("run", "-d", "--init", "--name", "toggle", "apps-busybox:test", "sleep", "1000")
    connections = ConnectionService(known_hosts=locations.known_hosts_path())
    conn = await connections.connect(profile_for(docker_device))

    def state() -> str:
        return docker.docker("inspect", "-f", "{{.State.Status}}", "toggle").stdout.decode().strip()

    try:
        await container_action(conn, "stop", "toggle")
        assert state() == "exited"
        await container_action(conn, "start", "toggle")
        assert state() == "running"
        started = docker.docker("inspect", "-f", "{{.State.StartedAt}}", "toggle").stdout
        await container_action(conn, "restart", "toggle")
        assert state() == "running" and docker.docker("inspect", "-f", "{{.State.StartedAt}}", "toggle").stdout != started
        with pytest.raises(Exception, match="No such container|no such container"):
            await container_action(conn, "start", "not-a-container")
    finally:
        docker.docker("rm", "-f", "toggle", check=False)
        await connections.close()


async def test_a_user_without_docker_permission_gets_the_usermod_hint(denied_device):
    with pytest.raises(DockerUnavailable) as caught:
        await containers_of(denied_device)
    assert "not in the docker group" in caught.value.message
    assert "sudo usermod -aG docker $USER" in caught.value.hint


def test_containers_command_prints_json_and_a_table_read_from_dockers_json(docker_device, monkeypatch, capsys):
    trust_server(docker_device)
    save(docker_device, "box")
    code, out, err = run_cli(["containers", "box", "--json"], monkeypatch, capsys)
    assert code == 0, err
    records = {r["name"]: r for r in json.loads(out)}
    assert records["web"]["ports"][0]["container_port"] == 8080 and records["web"]["ports"][0]["host_ip"] == "127.0.0.1"
    assert records["gpu-job"]["gpus"] == "all"
    code, out, err = run_cli(["containers", "box"], monkeypatch, capsys)
    assert code == 0
    header, *rows = out.splitlines()
    assert header.split() == ["NAME", "IMAGE", "STATE", "STATUS", "PORTS", "GPUS"]
    assert any(row.startswith("web ") and "->8080/tcp" in row for row in rows)


def test_containers_command_says_plainly_when_the_user_may_not_use_docker(denied_device, monkeypatch, capsys):
    trust_server(denied_device)
    save(denied_device, "box")
    code, out, err = run_cli(["containers", "box"], monkeypatch, capsys)
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and "not in the docker group" in err and "sudo usermod -aG docker $USER" in err
    assert "dial unix" not in err  # docker's own dump is not shown


async def test_a_device_without_docker_is_told_apart_from_one_without_permission(tmp_path):
    server = _sshd(tmp_path / "sshd", "SetEnv PATH=/nonexistent")
    try:
        with pytest.raises(DockerUnavailable, match="not installed"):
            await containers_of(server)
    finally:
        server.close()


async def test_a_device_whose_docker_daemon_is_down_is_told_to_start_it(tmp_path):
    server = _sshd(tmp_path / "sshd", f"SetEnv DOCKER_HOST=unix:///tmp/apps-no-daemon-{os.getpid()}.sock")  # nothing listens
    try:
        with pytest.raises(DockerUnavailable) as caught:
            await containers_of(server)
        assert "not running" in caught.value.message and "systemctl start docker" in caught.value.hint
    finally:
        server.close()
