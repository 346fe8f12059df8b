"""The test sshd itself: if these fail, every SSH test after them is meaningless."""

import subprocess

import asyncssh


def test_openssh_client_logs_in_to_the_fixture_sshd_with_its_key(sshd):
    out = subprocess.run(sshd.ssh_command("echo", "ok"), capture_output=True, text=True, timeout=20)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


async def test_the_test_user_can_log_in_with_the_password(sshd):
    async with asyncssh.connect(
        sshd.host, sshd.port, username=sshd.user, password=sshd.password,
        known_hosts=str(sshd.known_hosts), client_keys=None, agent_path=None,
    ) as conn:
        result = await conn.run("id -un", check=True)
    assert result.stdout.strip() == sshd.user


def test_a_restarted_sshd_listens_on_the_same_port(sshd_factory):
    server = sshd_factory()
    port = server.port
    server.restart()
    assert server.port == port
    out = subprocess.run(server.ssh_command("true"), capture_output=True, timeout=20)
    assert out.returncode == 0


async def test_asyncssh_server_fixture_accepts_the_client_key(asyncssh_server):
    server = await asyncssh_server(process_factory=lambda p: (p.stdout.write("hi\n"), p.exit(0)))
    async with asyncssh.connect(**server.connect_options()) as conn:
        result = await conn.run("anything")
    assert result.stdout == "hi\n"
