"""The OpenSSH control socket: only our own master, in our own folder, ever gets a tunnel socket.

Whoever listens where we connect receives the sockets of our tunnels' clients; whoever can
connect to the master opens channels on the device as us. Each test starts a real ``ssh -M``
master against the test sshd, then plays the other local user: replaces the folder, loosens
it, or puts their own listener in the socket's place. Every time the handoff is refused
(``MuxError``, so the tunnel carries that connection on asyncssh instead) and the impostor
receives no connection and no descriptor.
"""

from __future__ import annotations

import asyncio
import os
import pwd
import shutil
import socket

import pytest

from spark_tui.services.ssh.known_hosts import host_pattern
from spark_tui.services.ssh.openssh_mux import MuxError, OpenSSHMaster

NOBODY = pwd.getpwnam("nobody").pw_uid


class Impostor:
    """A Unix listener at ``path`` that counts the connections and descriptors it receives."""

    def __init__(self, path: str) -> None:
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(path)
        self.server.listen(16)
        self.server.setblocking(False)
        self.accepted = 0
        self.descriptors = 0

    def drain(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except BlockingIOError:
                return
            self.accepted += 1
            conn.settimeout(0.5)
            try:
                _, fds, _, _ = socket.recv_fds(conn, 1024, 4)
                self.descriptors += len(fds)
                for fd in fds:
                    os.close(fd)
            except OSError:
                pass
            conn.close()

    def close(self) -> None:
        self.server.close()


@pytest.fixture
async def master(sshd):
    made = OpenSSHMaster(sshd.host, sshd.port, sshd.user, host_key_alias=host_pattern(sshd.host, sshd.port),
                         known_hosts=sshd.known_hosts, identity_file=str(sshd.client_key))
    try:
        await made.start()
        yield made
    finally:
        await made.close()


async def _hand_over(master: OpenSSHMaster, sshd) -> None:
    """Hand one connected TCP socket to the master (to sshd's own port, as a target)."""
    client = socket.create_connection((sshd.host, sshd.port))
    try:
        await asyncio.wait_for(master.forward(client, "127.0.0.1", sshd.port), 10)
    finally:
        client.close()


async def test_the_master_we_started_takes_a_socket(master, sshd) -> None:
    await _hand_over(master, sshd)  # the checks let our own master through


async def test_a_control_folder_recreated_by_another_user_gets_no_socket(master, sshd) -> None:
    folder = os.path.dirname(master.control_path)
    os.rename(folder, folder + ".moved")  # "the folder vanished" ...
    try:
        os.mkdir(folder, 0o700)  # ... and another user made one under the same name
        impostor = Impostor(master.control_path)
        os.chown(master.control_path, NOBODY, -1)
        os.chown(folder, NOBODY, -1)
        with pytest.raises(MuxError):
            await _hand_over(master, sshd)
        impostor.drain()
        assert (impostor.accepted, impostor.descriptors) == (0, 0)
        impostor.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        os.rename(folder + ".moved", folder)


async def test_a_control_folder_others_can_write_is_refused(master, sshd) -> None:
    folder = os.path.dirname(master.control_path)
    os.chmod(folder, 0o777)
    try:
        with pytest.raises(MuxError, match="not ours alone"):
            await _hand_over(master, sshd)
    finally:
        os.chmod(folder, 0o700)
    await _hand_over(master, sshd)


async def test_a_listener_put_in_place_of_the_control_socket_receives_no_descriptor(master, sshd) -> None:
    os.unlink(master.control_path)
    impostor = Impostor(master.control_path)  # same user, same mode: only its process differs
    os.chmod(master.control_path, 0o600)
    try:
        with pytest.raises(MuxError, match="not our master"):
            await _hand_over(master, sshd)
        impostor.drain()
        assert impostor.descriptors == 0
    finally:
        impostor.close()
