"""Apps on a real device (OpenSSH sshd on loopback): start script in its own group, port, tunnel, stop."""

from __future__ import annotations

import asyncio
import secrets
import subprocess
import urllib.request

import pytest

from spark_tui.config import locations
from spark_tui.core.apps import AppSpec, AppState
from spark_tui.core.errors import AppError
from spark_tui.core.models import DeviceProfile
from spark_tui.services.apps import AppService, app_record_status
from spark_tui.services.ssh import ConnectionService
from spark_tui.services.tunnels import TunnelService
from tests.sshd_server import free_port
from tests.test_interop import trust_server


def web_script(port: int, text: str) -> str:
    """A playbook-shaped script: a web server in the background, the script kept alive by wait."""
    return f"""\
www=$(mktemp -d)
echo {text} > "$www/index.html"
echo "serving $www"
busybox httpd -f -p 127.0.0.1:{port} -h "$www" &
trap 'echo cleaning up; rm -rf "$www"' EXIT
trap 'exit 143' TERM HUP INT
wait
"""


def group_members(pgid: int) -> list[str]:
    """Processes of process group ``pgid`` on the device (this machine), zombies excluded."""
    out = subprocess.run(["ps", "-eo", "pgid=,stat=,comm="], capture_output=True, text=True, check=True).stdout
    return [line for line in out.splitlines() if line.split()[0] == str(pgid) and not line.split()[1].startswith("Z")]


async def gone(pgid: int, within: float = 5.0) -> bool:
    for _ in range(int(within * 10)):
        if not group_members(pgid):
            return True
        await asyncio.sleep(0.1)
    return False


@pytest.fixture
async def device(sshd):
    trust_server(sshd)
    profile = DeviceProfile("dev", host=sshd.host, user=sshd.user, port=sshd.port, identity_file=str(sshd.client_key))
    connections = ConnectionService(known_hosts=locations.known_hosts_path())
    tunnels = TunnelService(lambda: connections.connect(profile), "dev")
    statuses = []

    async def open_tunnel(spec):
        return (await tunnels.start(spec)).local_port

    service = AppService(
        lambda: connections.connect(profile), "dev", open_tunnel=open_tunnel, close_tunnel=tunnels.stop,
        on_status=statuses.append, port_timeout=15, grace=2, poll=0.2,
    )
    service.test_tunnels = tunnels
    service.test_statuses = statuses
    service.test_conn = lambda: connections.connect(profile)
    yield service
    await service.close()
    await tunnels.close()
    await connections.close()


_NAMES: list[str] = []


def unique(prefix: str) -> str:
    """A fresh app name (the test user's home is shared by every test run on this machine)."""
    name = f"{prefix}-{secrets.token_hex(3)}"
    _NAMES.append(name)
    return name


@pytest.fixture(autouse=True)
def forget_app_records(sshd):
    """Remove the device-side records (~/.cache/spark-tui/apps/NAME.*) of the apps a test made."""
    yield
    folder = sshd.home / ".cache" / "spark-tui" / "apps"
    while _NAMES:
        name = _NAMES.pop()
        for suffix in (".sh", ".log", ".pid", ".exit"):
            (folder / f"{name}{suffix}").unlink(missing_ok=True)


async def test_an_app_whose_script_starts_a_web_server_is_reached_through_its_local_url(device):
    port = free_port()
    app = AppSpec(unique("web"), port, start_script=web_script(port, "hello-app"), local_port=0)
    status = await device.start(app)
    assert status.state is AppState.RUNNING and status.local_url.startswith("http://127.0.0.1:")
    body = await asyncio.to_thread(lambda: urllib.request.urlopen(status.local_url, timeout=10).read())
    assert body == b"hello-app\n"
    assert any(s.spec.name == app.name and s.state.value == "up" for s in device.test_tunnels.stats())
    assert any("serving" in line for line in device.output(app.name))


async def test_the_apps_record_on_the_device_is_private_to_its_user(device, sshd):
    import stat

    port = free_port()
    app = AppSpec(unique("priv"), port, start_script=web_script(port, "x"), local_port=0)
    await device.start(app)
    folder = sshd.home / ".cache" / "spark-tui" / "apps"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    for suffix in (".sh", ".log", ".pid"):
        assert stat.S_IMODE((folder / f"{app.name}{suffix}").stat().st_mode) & 0o077 == 0, suffix


async def test_stopping_an_app_leaves_no_process_of_its_group_on_the_device(device):
    port = free_port()
    app = AppSpec(unique("web"), port, start_script=web_script(port, "bye"), local_port=0)
    await device.start(app)
    state, pgid = await app_record_status(await device.test_conn(), app.name)
    assert state == "running"
    members = group_members(int(pgid))
    assert any("httpd" in m or "busybox" in m for m in members), members
    status = await device.stop(app.name)
    assert status.state is AppState.STOPPED
    assert await gone(int(pgid)), group_members(int(pgid))
    assert all(s.state.value == "stopped" for s in device.test_tunnels.stats() if s.spec.name == app.name)
    assert (await app_record_status(await device.test_conn(), app.name))[0] != "running"


async def test_a_script_that_ignores_sigterm_is_killed_after_the_grace_period(device):
    port = free_port()
    script = f"trap 'echo not stopping' TERM\nbusybox httpd -f -p 127.0.0.1:{port} -h / &\nwhile :; do sleep 0.2; done\n"
    app = AppSpec(unique("stubborn"), port, start_script=script, local_port=0)
    await device.start(app)
    _, pgid = await app_record_status(await device.test_conn(), app.name)
    status = await device.stop(app.name)
    assert "killed" in status.message
    assert await gone(int(pgid))


async def test_a_script_that_fails_shows_its_last_output(device):
    script = "echo loading model\necho 'error: CUDA out of memory' >&2\nexit 3\n"
    app = AppSpec(unique("broken"), free_port(), start_script=script)
    with pytest.raises(AppError) as caught:
        await device.start(app)
    assert "exited with status 3" in caught.value.message
    assert caught.value.output[-2:] == ("loading model", "error: CUDA out of memory")
    assert device.status(app.name).state is AppState.FAILED


async def test_a_port_that_never_listens_times_out_saying_what_the_script_printed_last(device):
    device.port_timeout = 1.5
    app = AppSpec(unique("slow"), free_port(), start_script="echo 'downloading weights 3%'\nsleep 60\n")
    with pytest.raises(AppError) as caught:
        await device.start(app)
    assert "did not listen" in caught.value.message and "downloading weights 3%" in caught.value.message
    assert (await app_record_status(await device.test_conn(), app.name))[0] != "running"


async def test_a_script_that_exits_by_itself_marks_the_app_stopped_with_its_exit_status(device):
    port = free_port()
    script = f"busybox httpd -f -p 127.0.0.1:{port} -h / &\nsleep 1\necho done\nexit 7\n"
    app = AppSpec(unique("brief"), port, start_script=script, local_port=0)
    await device.start(app)
    status = await asyncio.wait_for(device.wait_ended(app.name), 15)
    assert status.state is AppState.STOPPED and status.exit_status == 7
    assert "exited with status 7" in status.message


async def test_an_app_left_running_survives_close_and_is_stopped_through_its_record(device):
    port = free_port()
    app = AppSpec(unique("kept"), port, start_script=web_script(port, "kept"), local_port=0)
    await device.start(app)
    device.leave_running(app.name)
    assert await device.close() == [app.name]
    conn = await device.test_conn()
    state, pgid = await app_record_status(conn, app.name)
    assert state == "running" and group_members(int(pgid))
    from spark_tui.services.apps import stop_on_device

    assert await stop_on_device(conn, app.name, 2) == "stopped"
    assert await gone(int(pgid))


async def test_an_app_without_a_script_is_just_a_tunnel_to_a_port_already_listening(device, tmp_path):
    port = free_port()
    (tmp_path / "index.html").write_text("already here\n")
    server = subprocess.Popen(["busybox", "httpd", "-f", "-p", f"127.0.0.1:{port}", "-h", str(tmp_path)])
    try:
        status = await device.start(AppSpec(unique("ollama"), port, browser_path="/index.html", local_port=0))
        assert status.local_url.endswith("/index.html")
        body = await asyncio.to_thread(lambda: urllib.request.urlopen(status.local_url, timeout=10).read())
        assert body == b"already here\n"
        await device.stop(status.app)
        assert server.poll() is None  # nothing of ours ran, so nothing of theirs is stopped
    finally:
        server.kill()
        server.wait()


async def test_a_second_start_of_a_running_app_is_refused(device):
    port = free_port()
    app = AppSpec(unique("twice"), port, start_script=web_script(port, "x"), local_port=0)
    await device.start(app)
    with pytest.raises(AppError, match="already"):
        await device.start(app)


async def test_a_device_that_cannot_run_the_starter_says_so_with_its_error(sshd_factory):
    server = sshd_factory("SetEnv PATH=/nonexistent")
    trust_server(server)
    profile = DeviceProfile("bare", host=server.host, user=server.user, port=server.port, identity_file=str(server.client_key))
    connections = ConnectionService(known_hosts=locations.known_hosts_path())

    async def no_tunnel(spec):
        raise AssertionError("no tunnel may open for an app that did not start")

    service = AppService(lambda: connections.connect(profile), "bare", open_tunnel=no_tunnel, close_tunnel=lambda name: asyncio.sleep(0))
    try:
        with pytest.raises(AppError) as caught:
            await service.start(AppSpec(unique("nosh"), free_port(), start_script="echo hi\n"))
        assert caught.value.message.startswith("could not start") and "sh: command not found" in caught.value.message
        assert "setsid" in caught.value.hint
    finally:
        await connections.close()
