"""The rotating log (``spark_tui.logs``): where it lives, its level, rotation, permissions, secrets."""

from __future__ import annotations

import logging
import stat
from pathlib import Path

import pytest

from spark_tui import logs
from spark_tui.config import locations
from spark_tui.core.models import DeviceProfile
from spark_tui.services.ssh.connection import ConnectionService


@pytest.fixture
def restore_logging():
    """Whatever ``logs.setup`` does in a test is undone afterwards (handlers closed, levels back)."""
    saved = {name: (lg.handlers[:], lg.level, lg.propagate) for name in ("spark_tui", "asyncssh") for lg in [logging.getLogger(name)]}
    yield
    for name, (handlers, level, propagate) in saved.items():
        logger = logging.getLogger(name)
        for handler in logger.handlers:
            if handler not in handlers:
                handler.close()
        logger.handlers[:], logger.level, logger.propagate = handlers, level, propagate


def flush() -> None:
    for name in ("spark_tui", "asyncssh"):
        for handler in logging.getLogger(name).handlers:
            handler.flush()


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def log_files(path: Path) -> list[Path]:
    return sorted(path.parent.glob(path.name + "*"))


def test_the_log_is_created_0600_in_a_private_state_folder(restore_logging, isolated_folders: Path):
    path = Path(logs.setup("INFO"))
    assert path == locations.log_path() and path.is_relative_to(isolated_folders / "state")
    logging.getLogger("spark_tui.test").info("hello log")
    flush()
    assert "INFO spark_tui.test: hello log" in path.read_text()
    assert mode(path) == 0o600 and mode(path.parent) == 0o700


def test_the_level_set_by_the_user_decides_what_is_written_and_a_bad_name_means_info(restore_logging):
    path = Path(logs.setup("WARNING"))
    log = logging.getLogger("spark_tui.test")
    log.info("quiet info")
    log.warning("loud warning")
    flush()
    text = path.read_text()
    assert "loud warning" in text and "quiet info" not in text
    logs.setup("no-such-level")
    log.debug("hidden debug")
    log.info("shown info")
    flush()
    text = path.read_text()
    assert "shown info" in text and "hidden debug" not in text
    assert text.count("loud warning") == 1  # setting up again adds no second handler


def test_asyncssh_writes_only_its_warnings(restore_logging):
    path = Path(logs.setup("DEBUG"))
    logging.getLogger("asyncssh").info("asyncssh channel chatter")
    logging.getLogger("asyncssh").warning("asyncssh trouble")
    flush()
    text = path.read_text()
    assert "asyncssh trouble" in text and "asyncssh channel chatter" not in text


def test_the_log_rotates_at_its_size_and_keeps_a_bounded_number_of_files(restore_logging):
    path = Path(logs.setup("DEBUG"))
    log = logging.getLogger("spark_tui.flood")
    line = "x" * 200
    for index in range(logs.MAX_BYTES * (logs.BACKUPS + 2) // 250):
        log.debug("%d %s", index, line)
    flush()
    files = log_files(path)
    assert [f.name for f in files] == [path.name, *(f"{path.name}.{n}" for n in range(1, logs.BACKUPS + 1))]
    for file in files:
        assert file.stat().st_size <= logs.MAX_BYTES + 1024
    assert "DEBUG" in path.read_text()  # the newest lines are in the live file


def test_every_log_file_stays_0600_after_rotating(restore_logging):
    path = Path(logs.setup("DEBUG"))
    log = logging.getLogger("spark_tui.flood")
    for index in range(logs.MAX_BYTES * 2 // 250):
        log.debug("%d %s", index, "y" * 200)
    flush()
    files = log_files(path)
    assert len(files) >= 2
    assert {file.name: oct(mode(file)) for file in files} == {file.name: oct(0o600) for file in files}


async def test_a_debug_session_logs_no_private_key_or_password(sshd, restore_logging, tmp_path: Path):
    path = Path(logs.setup("DEBUG"))
    logging.getLogger("asyncssh").setLevel(logging.DEBUG)  # as someone chasing a bug might
    service = ConnectionService(known_hosts=tmp_path / "known_hosts", confirm_host_key=lambda h, f: _yes())
    profile = DeviceProfile("dev", sshd.host, sshd.user, sshd.port, identity_file=str(sshd.client_key))
    try:
        conn = await service.connect(profile)
        assert (await conn.run("echo ok")).stdout == "ok\n"
    finally:
        await service.close()
    logging.getLogger("spark_tui.test").debug("end of session")
    flush()
    text = path.read_text()
    assert "end of session" in text
    private_body = [line for line in Path(sshd.client_key).read_text().splitlines() if not line.startswith("-----")]
    assert private_body and not any(line in text for line in private_body)
    assert sshd.password not in text


async def _yes() -> bool:
    return True
