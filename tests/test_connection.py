"""The connection service against a real OpenSSH sshd: sharing, loss, and each failure's kind."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import asyncssh
import pytest

from spark_tui.core.errors import ConnectError
from spark_tui.core.models import ConnectionState, DeviceProfile
from spark_tui.services.ssh.connection import ConnectionService
from spark_tui.services.ssh.ssh_config import parse_jump

REPO = Path(__file__).resolve().parent.parent


async def trust(host: str, fp: str) -> bool:
    return True


def profile_for(server, name: str = "dev", **changes) -> DeviceProfile:
    values = {"host": server.host, "user": server.user, "port": server.port, "identity_file": str(server.client_key)}
    values.update(changes)
    return DeviceProfile(name, **values)


def handshakes(server) -> int:
    """Connections the sshd has accepted so far, counted from its own log."""
    return server.log.read_text().count("Connection from 127.0.0.1")


async def test_a_second_connect_reuses_the_connection_without_a_new_handshake(sshd, tmp_path: Path) -> None:
    service = ConnectionService(known_hosts=tmp_path / "kh", confirm_host_key=trust)
    try:
        first = await service.connect(profile_for(sshd))
        before = handshakes(sshd)
        second = await service.connect(profile_for(sshd))
        result = await second.run("echo again", check=True)
        await asyncio.sleep(0.2)
        assert second is first and result.stdout == "again\n"
        assert handshakes(sshd) == before
        assert service.connection("dev") is first and service.state("dev") is ConnectionState.CONNECTED
    finally:
        await service.close()


async def test_concurrent_connects_share_one_attempt(sshd, tmp_path: Path) -> None:
    service = ConnectionService(known_hosts=tmp_path / "kh", confirm_host_key=trust)
    # trust the key first so the count below is one handshake, not probe + login
    await service.connect(profile_for(sshd))
    await service.disconnect("dev")
    await asyncio.sleep(0.2)
    before = handshakes(sshd)
    try:
        conns = await asyncio.gather(*(service.connect(profile_for(sshd)) for _ in range(5)))
        await asyncio.sleep(0.2)
        assert all(conn is conns[0] for conn in conns)
        assert handshakes(sshd) == before + 1
    finally:
        await service.close()


async def test_status_goes_connecting_connected_then_disconnected(sshd, tmp_path: Path) -> None:
    seen = []
    service = ConnectionService(known_hosts=tmp_path / "kh", confirm_host_key=trust, on_status=seen.append)
    await service.connect(profile_for(sshd))
    await service.disconnect("dev")
    assert [s.state for s in seen] == [ConnectionState.CONNECTING, ConnectionState.CONNECTED, ConnectionState.DISCONNECTED]
    assert all(s.device == "dev" for s in seen)
    assert await service.wait_lost("dev") is None
    assert service.connection("dev") is None


async def test_a_killed_server_is_published_as_lost_and_connect_dials_again(sshd_factory, tmp_path: Path) -> None:
    server = sshd_factory()
    seen = []
    service = ConnectionService(known_hosts=tmp_path / "kh", confirm_host_key=trust, on_status=seen.append)
    try:
        first = await service.connect(profile_for(server))
        await first.run("true")  # the session process exists now, so stop() finds and kills it
        server.stop()
        lost = await asyncio.wait_for(service.wait_lost("dev"), 10)
        assert isinstance(lost, ConnectError) and lost.kind == "lost"
        assert service.state("dev") is ConnectionState.LOST and seen[-1].state is ConnectionState.LOST
        server.start()
        second = await service.connect(profile_for(server))
        assert second is not first and (await second.run("true")).exit_status == 0
    finally:
        await service.close()


async def test_keepalives_notice_a_frozen_host(sshd_factory, tmp_path: Path) -> None:
    server = sshd_factory()
    service = ConnectionService(
        known_hosts=tmp_path / "kh", confirm_host_key=trust, keepalive_interval=0.3, keepalive_count_max=2
    )
    try:
        conn = await service.connect(profile_for(server))
        await conn.run("true")
        server.pause()
        lost = await asyncio.wait_for(service.wait_lost("dev"), 10)
        assert lost is not None and lost.kind == "lost"
        assert service.state("dev") is ConnectionState.LOST
    finally:
        server.resume()
        await service.close()


async def test_the_fast_cipher_is_negotiated_first(sshd, tmp_path: Path) -> None:
    service = ConnectionService(known_hosts=tmp_path / "kh", confirm_host_key=trust)
    try:
        conn = await service.connect(profile_for(sshd))
        assert conn.get_extra_info("send_cipher") == "aes128-gcm@openssh.com"
    finally:
        await service.close()


async def test_a_refused_port_is_a_refused_error_and_status_failed(tmp_path: Path) -> None:
    from tests.sshd_server import free_port

    seen = []
    service = ConnectionService(known_hosts=tmp_path / "kh", on_status=seen.append)
    with pytest.raises(ConnectError) as caught:
        await service.connect(DeviceProfile("dev", "127.0.0.1", "u", free_port()))
    assert caught.value.kind == "refused" and caught.value.hint
    assert seen[-1].state is ConnectionState.FAILED and seen[-1].message == caught.value.message


async def test_a_silent_server_is_a_timeout(tmp_path: Path) -> None:
    silent = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = silent.sockets[0].getsockname()[1]
    service = ConnectionService(known_hosts=tmp_path / "kh", connect_timeout=0.5)
    try:
        with pytest.raises(ConnectError) as caught:
            await service.connect(DeviceProfile("dev", "127.0.0.1", "u", port))
        assert caught.value.kind == "timeout"
    finally:
        silent.close()


def test_an_unresolvable_name_is_a_resolve_error(tmp_path: Path) -> None:
    # In a network namespace of its own, the resolver's query cannot leave this machine.
    script = (
        "import asyncio, json\n"
        "from spark_tui.core.errors import ConnectError\n"
        "from spark_tui.core.models import DeviceProfile\n"
        "from spark_tui.services.ssh.connection import ConnectionService\n"
        "async def main():\n"
        f"    s = ConnectionService(known_hosts={str(tmp_path / 'kh')!r})\n"
        "    try:\n"
        "        await s.connect(DeviceProfile('dev', 'no-such-device.invalid'))\n"
        "    except ConnectError as e:\n"
        "        print(json.dumps([e.kind, e.message, e.hint]))\n"
        "asyncio.run(main())\n"
    )
    done = subprocess.run(["unshare", "--net", sys.executable, "-c", script], capture_output=True, text=True, timeout=60, cwd=REPO)
    kind, message, hint = json.loads(done.stdout)
    assert kind == "resolve" and "no-such-device.invalid" in message and "IP address" in hint


async def test_a_key_the_device_does_not_know_is_an_auth_error_with_the_setup_key_hint(sshd, tmp_path: Path) -> None:
    stranger = tmp_path / "stranger"
    asyncssh.generate_private_key("ssh-ed25519").write_private_key(stranger)
    stranger.chmod(0o600)
    service = ConnectionService(known_hosts=tmp_path / "kh", confirm_host_key=trust)
    with pytest.raises(ConnectError) as caught:
        await service.connect(profile_for(sshd, identity_file=str(stranger)))
    assert caught.value.kind == "auth" and "--setup-key" in caught.value.hint
    assert service.state("dev") is ConnectionState.FAILED


async def test_a_key_readable_by_others_is_refused_like_openssh_does(sshd, tmp_path: Path) -> None:
    loose = tmp_path / "loose"
    loose.write_bytes(sshd.client_key.read_bytes())
    loose.chmod(0o644)
    before = handshakes(sshd)
    service = ConnectionService(known_hosts=tmp_path / "kh", confirm_host_key=trust)
    with pytest.raises(ConnectError) as caught:
        await service.connect(profile_for(sshd, identity_file=str(loose)))
    assert caught.value.kind == "key-file" and f"chmod 600 {loose}" in caught.value.hint
    assert handshakes(sshd) == before  # refused before dialling


async def test_a_missing_or_garbled_key_file_is_a_key_file_error(sshd, tmp_path: Path) -> None:
    garbled = tmp_path / "garbled"
    garbled.write_text("not a key\n")
    garbled.chmod(0o600)
    service = ConnectionService(known_hosts=tmp_path / "kh", confirm_host_key=trust)
    for path in (tmp_path / "missing", garbled):
        with pytest.raises(ConnectError) as caught:
            await service.connect(profile_for(sshd, identity_file=str(path)))
        assert caught.value.kind == "key-file" and str(path) in caught.value.message


async def test_the_identity_file_path_may_start_with_a_tilde(sshd, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "key").write_bytes(sshd.client_key.read_bytes())
    (tmp_path / "key").chmod(0o600)
    service = ConnectionService(known_hosts=tmp_path / "kh", confirm_host_key=trust)
    try:
        conn = await service.connect(profile_for(sshd, identity_file="~/key"))
        assert (await conn.run("true")).exit_status == 0
    finally:
        await service.close()


async def test_a_jump_host_profile_carries_the_device_connection(sshd, tmp_path: Path) -> None:
    bastion = profile_for(sshd, name="bastion")
    profiles = {"bastion": bastion}
    service = ConnectionService(known_hosts=tmp_path / "kh", confirm_host_key=trust, profiles=profiles.get)
    try:
        conn = await service.connect(profile_for(sshd, name="inner", host="localhost", jump_host="bastion"))
        assert (await conn.run("echo via", check=True)).stdout == "via\n"
        assert service.state("bastion") is ConnectionState.CONNECTED
        # the device's connection rides inside the bastion's: closing the bastion loses it
        await service.disconnect("bastion")
        lost = await asyncio.wait_for(service.wait_lost("inner"), 10)
        assert lost is not None and lost.kind == "lost"
    finally:
        await service.close()


async def test_a_jump_written_as_user_at_host_port_is_dialled_too(sshd, tmp_path: Path) -> None:
    service = ConnectionService(known_hosts=tmp_path / "kh", confirm_host_key=trust)
    jump = f"{sshd.user}@127.0.0.1:{sshd.port}"
    try:
        # the jump has no key of its own: it uses the agent/default keys, which the server refuses
        with pytest.raises(ConnectError) as caught:
            await service.connect(profile_for(sshd, jump_host=jump))
        assert caught.value.message.startswith(f"jump host {jump}:")
        assert service.state(f"jump:{jump}") is ConnectionState.FAILED
    finally:
        await service.close()


def test_jump_strings_are_parsed_like_openssh_proxyjump() -> None:
    assert parse_jump("me@bastion:2200") == DeviceProfile("jump:me@bastion:2200", "bastion", "me", 2200)
    assert parse_jump("bastion") == DeviceProfile("jump:bastion", "bastion", None, 22)
    assert parse_jump("[::1]:23").host == "::1" and parse_jump("[::1]:23").port == 23
    with pytest.raises(ConnectError):
        parse_jump("me@bastion:ssh")


async def test_disconnecting_while_dialling_cancels_the_attempt(tmp_path: Path) -> None:
    silent = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = silent.sockets[0].getsockname()[1]
    seen = []
    service = ConnectionService(known_hosts=tmp_path / "kh", on_status=seen.append, connect_timeout=30)
    try:
        waiting = asyncio.ensure_future(service.connect(DeviceProfile("dev", "127.0.0.1", "u", port)))
        await asyncio.sleep(0.2)
        await asyncio.wait_for(service.disconnect("dev"), 5)
        with pytest.raises(asyncio.CancelledError):
            await waiting
        assert service.state("dev") is ConnectionState.DISCONNECTED
    finally:
        silent.close()


def test_no_connection_module_imports_textual() -> None:
    code = "import sys, spark_tui.services.ssh.connection, spark_tui.services.ssh.onboarding, spark_tui.services.ssh.ssh_config; print('textual' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, env={**os.environ})
    assert done.stdout.strip() == "False", done.stderr


MDNS_CHILD = '''
import asyncio, ipaddress, json, sys, tempfile, uuid
from pathlib import Path
import asyncssh
from zeroconf import ServiceInfo
from zeroconf.asyncio import AsyncZeroconf
from spark_tui.core.models import DeviceProfile
from spark_tui.services.ssh.connection import ConnectionService

async def main():
    root = Path(sys.argv[1])
    host = "spark-" + uuid.uuid4().hex[:4]
    zc = AsyncZeroconf(interfaces=["127.0.0.1"])
    info = ServiceInfo("_ssh._tcp.local.", f"{host}._ssh._tcp.local.", port=22, server=f"{host}.local.",
                       addresses=[ipaddress.ip_address("127.0.0.1").packed])
    await zc.async_register_service(info, cooperating_responders=True)
    client = asyncssh.generate_private_key("ssh-ed25519")
    client.write_private_key(root / "key")
    (root / "key").chmod(0o600)
    listener = await asyncssh.listen("127.0.0.1", 0, server_host_keys=[asyncssh.generate_private_key("ssh-ed25519")],
        authorized_client_keys=asyncssh.import_authorized_keys(client.export_public_key().decode()))
    port = listener.sockets[0].getsockname()[1]
    async def yes(host, fp):
        return True
    service = ConnectionService(known_hosts=root / "kh", confirm_host_key=yes)
    out = {"host": host, "port": port}
    try:
        conn = await service.connect(DeviceProfile("dev", host + ".local", "tester", port, identity_file=str(root / "key")))
        out["peer"] = conn.get_extra_info("peername")[0]
    except Exception as error:
        out["error"] = repr(error)
    await service.close()
    listener.close()
    await zc.async_close()
    print(json.dumps(out))

asyncio.run(main())
'''


def test_a_local_name_the_system_resolver_cannot_find_is_resolved_over_mdns(tmp_path: Path) -> None:
    # A network namespace of our own: only its loopback exists, so neither the failed DNS query
    # nor the multicast question can leave this machine.
    script = tmp_path / "child.py"
    script.write_text(MDNS_CHILD)
    shell = f"ip link set lo up && {sys.executable} {script} {tmp_path}"
    done = subprocess.run(["unshare", "--net", "sh", "-c", shell], capture_output=True, text=True, timeout=60, cwd=REPO)
    out = json.loads(done.stdout)
    assert out.get("peer") == "127.0.0.1", out.get("error") or done.stderr
    # trusted under the name the profile uses, not the address mDNS gave
    assert (tmp_path / "kh").read_text().split()[0] == f"[{out['host']}.local]:{out['port']}"
