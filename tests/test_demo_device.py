"""The embedded demo device behaves like a small Spark: real shells, nvidia-smi, web pages, mDNS.

Everything here talks to a real DemoDevice on 127.0.0.1 (asyncssh's server, real PTYs, real
subprocesses, real multicast bound to loopback) and, for the acceptance test, to OpenSSH's own
``ssh`` client and the ``spark-tui demo --serve`` command run as a subprocess.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import os
import queue
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import asyncssh
import pytest
from zeroconf import ServiceStateChange
from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf

from spark_tui.core.telemetry import GPU_QUERY_FIELDS, parse_gpu_csv
from spark_tui.services.demo import fake_nvidia_smi
from spark_tui.services.demo.device import DemoDevice, DemoDeviceThread

QUERY = f"nvidia-smi --query-gpu={','.join(GPU_QUERY_FIELDS)} --format=csv,noheader,nounits"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory):
    """One demo device on its own thread and loop, shared by this module's read-only tests."""
    folder = tmp_path_factory.mktemp("demo")
    thread = DemoDeviceThread(folder / "device")
    with thread as device:
        (folder / "known_hosts").write_text(device.known_hosts_line() + "\n")
        device.test_known_hosts = folder / "known_hosts"
        device.test_thread = thread
        yield device


def connect(device: DemoDevice, **options):
    options.setdefault("client_keys", [str(device.client_key_path)])
    return asyncssh.connect(
        device.host,
        device.port,
        username=options.pop("username", device.user),
        known_hosts=str(device.test_known_hosts),
        agent_path=None,
        **options,
    )


def http_get(port: int, path: str) -> tuple[int, dict[str, str], str]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read().decode()
    finally:
        connection.close()


# --- the acceptance criterion: `spark-tui demo --serve` + OpenSSH ------------------------------


@pytest.fixture
def serve():
    """Start ``spark-tui demo --serve`` as a subprocess; returns (process, printed info, lines)."""
    started: list[tuple[subprocess.Popen, threading.Thread]] = []

    def start() -> tuple[subprocess.Popen, dict[str, str], queue.Queue[str]]:
        process = subprocess.Popen(
            [sys.executable, "-m", "spark_tui", "demo", "--serve"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        lines: queue.Queue[str] = queue.Queue()

        def pump() -> None:
            for line in process.stdout:
                lines.put(line)
            lines.put("")  # end of output

        reader = threading.Thread(target=pump, daemon=True)
        reader.start()
        started.append((process, reader))
        info: dict[str, str] = {}
        deadline = time.monotonic() + 30
        while "ssh" not in info:
            try:
                line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                pytest.fail("demo --serve printed no ssh line in 30 s")
            if line == "":
                pytest.fail(f"demo --serve ended early: {process.stderr.read()}")
            key, sep, value = line.partition(": ")
            if sep:
                info[key.strip()] = value.strip()
        return process, info, lines

    yield start
    for process, reader in started:
        if process.poll() is None:
            process.kill()
            process.wait()
        reader.join(10)
        process.stdout.close()
        process.stderr.close()


def rest_of_output(lines: queue.Queue[str]) -> str:
    text = []
    while (line := lines.get(timeout=20)) != "":
        text.append(line)
    return "".join(text)


def test_openssh_logs_in_to_demo_serve_with_the_printed_key_and_known_hosts_line(serve, tmp_path):
    process, info, _ = serve()
    try:
        known_hosts = tmp_path / "known_hosts"
        known_hosts.write_text(info["known_hosts"] + "\n")
        assert stat.S_IMODE(os.stat(info["key"]).st_mode) == 0o600
        out = subprocess.run(
            ["ssh", "-F", "/dev/null", "-i", info["key"], "-p", info["port"],
             "-o", f"UserKnownHostsFile={known_hosts}", "-o", "StrictHostKeyChecking=yes",
             "-o", "BatchMode=yes", f"{info['user']}@127.0.0.1", "echo ok"],
            capture_output=True, text=True, timeout=30,
        )
        assert out.returncode == 0, out.stderr
        assert out.stdout == "ok\n"
        # The printed command line works as printed, too.
        printed = info["ssh"].split() + ["-F", "/dev/null", "-o", "BatchMode=yes", "echo", "again"]
        assert subprocess.run(printed, capture_output=True, text=True, timeout=30).stdout == "again\n"
    finally:
        process.send_signal(signal.SIGINT)
        code = process.wait(timeout=20)
    assert code == 0
    assert not Path(info["key"]).exists(), "the demo's throwaway folder is removed on exit"


def test_demo_serve_prints_the_one_time_password_only_to_a_terminal(serve):
    process, info, _ = serve()  # stdout is a pipe here, as in a log or CI output
    try:
        assert info["password"] == "(shown only on a terminal)"
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=20)


def test_demo_serve_stops_cleanly_on_sigterm(serve):
    process, info, lines = serve()
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=20) == 0
    assert "demo device stopped" in rest_of_output(lines)
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", int(info["port"])), timeout=2).close()


# --- shells ----------------------------------------------------------------------------------


async def test_a_pty_shell_reports_the_size_the_client_asked_for(demo):
    async with connect(demo) as conn:
        result = await conn.run("stty size", term_type="xterm", term_size=(100, 30))
    assert result.stdout.strip() == "30 100"


async def test_an_absurd_terminal_size_is_clamped_not_fatal(demo):
    async with connect(demo) as conn:
        result = await conn.run("stty size", term_type="xterm", term_size=(2**31, 2**31))
    assert result.stdout.strip() == "65535 65535"


async def test_a_window_change_reaches_the_program_on_the_pty(demo):
    async with connect(demo) as conn:
        process = await conn.create_process(
            "trap 'stty size; exit 7' WINCH; echo ready; while :; do sleep 0.05; done",
            term_type="xterm", term_size=(80, 24),
        )
        assert "ready" in await asyncio.wait_for(process.stdout.readline(), 10)
        process.change_terminal_size(132, 43)
        output = await asyncio.wait_for(process.stdout.read(), 10)
        await process.wait_closed()
    assert "43 132" in output
    assert process.exit_status == 7


async def test_an_interactive_shell_is_a_real_terminal_with_the_demo_home(demo):
    async with connect(demo) as conn:
        process = await conn.create_process(term_type="xterm", term_size=(80, 24))
        process.stdin.write("tty; echo HOME=$HOME; exit 4\n")
        output = await asyncio.wait_for(process.stdout.read(), 10)
        await process.wait_closed()
    assert "/dev/pts/" in output
    assert f"HOME={demo.home}" in output
    assert process.exit_status == 4


async def test_a_command_returns_its_output_errors_and_exit_status(demo):
    async with connect(demo) as conn:
        result = await conn.run("echo out; echo err >&2; exit 3")
    assert (result.stdout, result.stderr, result.exit_status) == ("out\n", "err\n", 3)


async def test_input_reaches_a_command_and_its_end_closes_it(demo):
    async with connect(demo) as conn:
        result = await conn.run("tr a-z A-Z", input="hello demo\n")
    assert result.stdout == "HELLO DEMO\n"


async def test_a_command_killed_by_a_signal_reports_the_signal(demo):
    async with connect(demo) as conn:
        result = await conn.run("kill -TERM $$")
    assert result.exit_signal[0] == "TERM"


async def test_sftp_works_in_the_demo_home(demo):
    async with connect(demo) as conn, conn.start_sftp_client() as sftp:
        assert ".bashrc" in await sftp.listdir(".")


# --- logins ----------------------------------------------------------------------------------


async def test_the_demo_password_logs_in_once_by_default_and_then_no_more(tmp_path):
    device = DemoDevice(tmp_path / "device", advertise=False)
    await device.start()
    try:
        device.test_known_hosts = tmp_path / "known_hosts"
        device.test_known_hosts.write_text(device.known_hosts_line() + "\n")
        async with connect(device, client_keys=None, password=device.password) as conn:
            assert (await conn.run("echo in")).stdout == "in\n"
        with pytest.raises(asyncssh.PermissionDenied):
            async with connect(device, client_keys=None, password=device.password):
                pass
    finally:
        await device.stop()


async def test_five_wrong_passwords_end_password_login_and_each_costs_a_second(tmp_path):
    device = DemoDevice(tmp_path / "device", advertise=False, single_use_password=False)
    await device.start()
    try:
        device.test_known_hosts = tmp_path / "known_hosts"
        device.test_known_hosts.write_text(device.known_hosts_line() + "\n")
        right = device.password
        loop = asyncio.get_running_loop()
        started = loop.time()
        for attempt in range(5):
            with pytest.raises(asyncssh.PermissionDenied):
                async with connect(device, client_keys=None, password=f"guess-{attempt}"):
                    pass
        assert loop.time() - started >= 5 * 0.9  # answered late, one after the other
        with pytest.raises(asyncssh.PermissionDenied):  # the right one no longer works either
            async with connect(device, client_keys=None, password=right):
                pass
    finally:
        await device.stop()


async def test_once_a_key_installed_with_the_password_works_the_password_is_dropped(tmp_path):
    device = DemoDevice(tmp_path / "device", advertise=False, single_use_password=False)
    await device.start()
    try:
        device.test_known_hosts = tmp_path / "known_hosts"
        device.test_known_hosts.write_text(device.known_hosts_line() + "\n")
        key = asyncssh.generate_private_key("ssh-ed25519")
        key.write_private_key(tmp_path / "new_key")
        async with connect(device, client_keys=None, password=device.password) as conn:
            await conn.run("mkdir -p ~/.ssh && cat >> ~/.ssh/authorized_keys", input=key.export_public_key().decode(), check=True)
        password = device.password
        async with connect(device, client_keys=[str(tmp_path / "new_key")]):
            pass
        with pytest.raises(asyncssh.PermissionDenied):
            async with connect(device, client_keys=None, password=password):
                pass
    finally:
        await device.stop()


async def test_a_wrong_password_or_another_user_is_refused(demo):
    with pytest.raises(asyncssh.PermissionDenied):
        async with connect(demo, client_keys=None, password=demo.password + "x"):
            pass
    with pytest.raises(asyncssh.PermissionDenied):
        async with connect(demo, username="somebody-else"):
            pass


async def test_a_single_use_password_works_once(tmp_path):
    device = DemoDevice(tmp_path / "device", advertise=False, single_use_password=True)
    await device.start()
    try:
        device.test_known_hosts = tmp_path / "known_hosts"
        device.test_known_hosts.write_text(device.known_hosts_line() + "\n")
        async with connect(device, client_keys=None, password=device.password):
            pass
        with pytest.raises(asyncssh.PermissionDenied):
            async with connect(device, client_keys=None, password=device.password):
                pass
    finally:
        await device.stop()


async def test_a_key_installed_through_a_password_login_then_logs_in(demo, tmp_path):
    key = asyncssh.generate_private_key("ssh-ed25519")
    key.write_private_key(tmp_path / "new_key")
    async with connect(demo, client_keys=None, password=demo.password) as conn:
        await conn.run("mkdir -p ~/.ssh && cat >> ~/.ssh/authorized_keys", input=key.export_public_key().decode(), check=True)
    async with connect(demo, client_keys=[str(tmp_path / "new_key")]) as conn:
        assert (await conn.run("echo key")).stdout == "key\n"
    assert key.export_public_key().decode().split()[1] in (demo.home / ".ssh" / "authorized_keys").read_text()


# --- nvidia-smi stand-in -----------------------------------------------------------------------


async def test_nvidia_smi_on_the_demo_answers_like_a_gb10_with_unknown_memory(demo):
    async with connect(demo) as conn:
        plain = await conn.run(QUERY)
        with_header = await conn.run(QUERY.replace(",noheader,nounits", ""))
        table = await conn.run("nvidia-smi")
    assert plain.stdout.count("[N/A]") == 2
    (gpu,) = parse_gpu_csv(plain.stdout)
    assert gpu.index == 0 and gpu.name == "NVIDIA GB10"
    assert gpu.memory_used is None and gpu.memory_total is None
    assert 0 <= gpu.utilization <= 100 and 20 < gpu.temperature < 90 and gpu.power > 0
    assert with_header.stdout.startswith("index, name, utilization.gpu [%]")
    assert [g.name for g in parse_gpu_csv(with_header.stdout)] == ["NVIDIA GB10"]
    assert "NVIDIA GB10" in table.stdout and "Not Supported" in table.stdout


async def test_nvidia_smi_loop_mode_keeps_printing_numbers_that_move(demo):
    async with connect(demo) as conn:
        process = await conn.create_process(QUERY + " -lms 150")
        lines = [await asyncio.wait_for(process.stdout.readline(), 10) for _ in range(8)]
        process.close()
    samples = [parse_gpu_csv(line)[0] for line in lines]
    assert len({s.power for s in samples}) > 1


async def test_an_unknown_nvidia_smi_field_is_refused_like_the_real_tool(demo):
    async with connect(demo) as conn:
        result = await conn.run("nvidia-smi --query-gpu=index,bogus --format=csv")
    assert result.exit_status == 2 and 'Field "bogus"' in result.stdout


def test_the_simulated_gpu_moves_smoothly_within_plausible_bounds():
    readings = [fake_nvidia_smi.reading(1_700_000_000 + t / 4) for t in range(4 * 120)]
    for before, after in zip(readings, readings[1:]):
        assert abs(after["utilization"] - before["utilization"]) < 8  # per quarter second
    assert all(0 <= r["utilization"] <= 100 and 30 < r["temperature"] < 80 and 0 < r["power"] < 120 for r in readings)
    assert max(r["utilization"] for r in readings) - min(r["utilization"] for r in readings) > 40


# --- web pages, tunnels, mDNS --------------------------------------------------------------------


def test_the_web_pages_say_what_they_stand_in_for(demo):
    status, _, body = http_get(demo.dashboard_port, "/")
    assert status == 200 and "DGX Dashboard" in body
    status, _, body = http_get(demo.jupyter_port, "/lab")
    assert status == 200 and "JupyterLab" in body
    status, headers, _ = http_get(demo.jupyter_port, "/")
    assert status == 302 and headers["Location"] == "/lab"


def test_a_web_page_answers_garbage_with_400(demo):
    with socket.create_connection(("127.0.0.1", demo.dashboard_port), timeout=10) as sock:
        sock.sendall(b"NONSENSE\r\n\r\n")
        assert sock.recv(100).startswith(b"HTTP/1.1 400")


async def test_a_tunnel_through_the_demo_reaches_its_web_pages(demo):
    async with connect(demo) as conn:
        for remote_port, title in ((demo.dashboard_port, "DGX Dashboard"), (demo.jupyter_port, "JupyterLab")):
            listener = await conn.forward_local_port("127.0.0.1", 0, "localhost", remote_port)
            try:
                status, _, body = await asyncio.to_thread(http_get, listener.get_port(), "/lab")
            finally:
                listener.close()
            assert status == 200 and title in body


async def test_the_demo_refuses_to_forward_beyond_loopback(demo):
    async with connect(demo) as conn:
        with pytest.raises(asyncssh.ChannelOpenError, match="loopback"):
            await conn.open_connection("192.0.2.1", 80)  # TEST-NET-1: refused before any packet


async def test_a_remote_forward_on_the_demo_listens_on_loopback_only(demo):
    async with connect(demo) as conn:
        listener = await conn.forward_remote_port("127.0.0.1", 0, "127.0.0.1", demo.dashboard_port)
        try:
            status, _, body = await asyncio.to_thread(http_get, listener.get_port(), "/")
        finally:
            listener.close()
        assert status == 200 and "DGX Dashboard" in body
        with pytest.raises(asyncssh.ChannelListenError):
            await conn.forward_remote_port("", 0, "127.0.0.1", demo.dashboard_port)  # all interfaces


async def test_the_demo_is_advertised_over_mdns_on_loopback(demo):
    instance = await asyncio.to_thread(demo.test_thread.wait_advertised)
    assert instance.startswith("spark-demo"), demo.mdns_error
    zc = AsyncZeroconf(interfaces=["127.0.0.1"])
    seen: asyncio.Queue[str] = asyncio.Queue()

    def on_change(zeroconf, service_type, name, state_change):
        if state_change is ServiceStateChange.Added:
            seen.put_nowait(name)

    browser = AsyncServiceBrowser(zc.zeroconf, ["_ssh._tcp.local."], handlers=[on_change])
    names: list[str] = []
    found = None
    try:
        deadline = time.monotonic() + 20
        while found is None and time.monotonic() < deadline:
            # Other tests on this machine may advertise on loopback too: resolve every name
            # heard (again, if a busy machine made a query time out) until one is ours.
            with contextlib.suppress(asyncio.TimeoutError):
                names.append(await asyncio.wait_for(seen.get(), 0.5))
            for name in list(names):
                info = AsyncServiceInfo("_ssh._tcp.local.", name)
                if await info.async_request(zc.zeroconf, 2000):
                    if info.port == demo.port:
                        found = info
                        break
                    names.remove(name)  # someone else's
    finally:
        await browser.async_cancel()
        await zc.async_close()
    assert found is not None, f"no service with port {demo.port}; unresolved: {names}"
    assert found.name == demo.mdns_instance
    assert found.server == "spark-demo.local."
    assert found.parsed_addresses() == ["127.0.0.1"]


# --- profile and lifecycle ---------------------------------------------------------------------


def test_the_profile_describes_the_demo_with_its_key_and_two_web_tunnels(demo):
    profile = demo.profile()
    assert (profile.name, profile.host, profile.port, profile.user) == ("spark-demo", "127.0.0.1", demo.port, demo.user)
    assert profile.demo and profile.tags == ("demo",)
    assert profile.identity_file == str(demo.client_key_path)
    assert stat.S_IMODE(demo.client_key_path.stat().st_mode) == 0o600
    tunnels = {t.name: t for t in profile.tunnels}
    assert (tunnels["dashboard"].remote_port, tunnels["dashboard"].browser_path) == (demo.dashboard_port, "/")
    assert (tunnels["jupyter"].remote_port, tunnels["jupyter"].browser_path) == (demo.jupyter_port, "/lab")
    local = [t.effective_local_port for t in profile.tunnels]
    assert len(set(local)) == 2 and not {demo.dashboard_port, demo.jupyter_port} & set(local)
    assert demo.known_hosts_line().startswith(f"[127.0.0.1]:{demo.port} ssh-ed25519 ")


async def test_stopping_the_demo_ends_the_shells_it_started(tmp_path):
    device = DemoDevice(tmp_path / "device", advertise=False)
    await device.start()
    device.test_known_hosts = tmp_path / "known_hosts"
    device.test_known_hosts.write_text(device.known_hosts_line() + "\n")
    conn = await connect(device)
    process = await conn.create_process("echo $$; exec sleep 600", term_type="xterm")
    pid = int(await asyncio.wait_for(process.stdout.readline(), 10))
    assert Path(f"/proc/{pid}").exists()
    await device.stop()
    for _ in range(50):
        if not Path(f"/proc/{pid}").exists():
            break
        await asyncio.sleep(0.1)
    assert not Path(f"/proc/{pid}").exists()
    conn.close()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", device.port), timeout=2).close()


def test_a_demo_thread_reports_a_failure_to_start(tmp_path):
    blocker = tmp_path / "device"
    blocker.write_text("a file where the demo wants its folder")
    with pytest.raises(OSError):
        DemoDeviceThread(blocker, advertise=False).start()


def test_the_ssh_command_line_names_the_key_port_and_user(demo):
    line = demo.ssh_command("/tmp/kh")
    assert f"-i {demo.client_key_path}" in line and f"-p {demo.port}" in line
    assert line.endswith(f"{demo.user}@127.0.0.1") and "UserKnownHostsFile=/tmp/kh" in line


# --- `spark-tui demo` keeps the user's files apart ----------------------------------------------


def test_the_demo_seeds_its_profile_and_host_key_in_a_throwaway_folder(demo, tmp_path, isolated_folders):
    from spark_tui.commands.demo import isolated_environment, seed_demo_profile
    from spark_tui.config.locations import known_hosts_path
    from spark_tui.config.store import ProfileStore

    users_config = os.environ["XDG_CONFIG_HOME"]
    folder = tmp_path / "demo-run"
    with isolated_environment(folder) as config_path:
        seed_demo_profile(demo, config_path, folder)
        known_hosts = known_hosts_path()
        assert folder in known_hosts.parents and folder in config_path.parents
        assert known_hosts.read_text() == demo.known_hosts_line() + "\n"
        assert stat.S_IMODE(known_hosts.stat().st_mode) == 0o600
        saved = ProfileStore(config_path).load()
    assert os.environ["XDG_CONFIG_HOME"] == users_config
    assert "SPARK_TUI_CONFIG" not in os.environ
    profile = saved.device("spark-demo")
    assert profile is not None and profile.demo and profile.port == demo.port
    assert profile.identity_file == str(demo.client_key_path)
    assert {t.name: t.remote_port for t in profile.tunnels} == {"dashboard": demo.dashboard_port, "jupyter": demo.jupyter_port}
    assert saved.settings.discovery_interfaces == ("127.0.0.1",)
    assert not any(isolated_folders.rglob("profiles.toml")), "the user's own config folder stays untouched"
