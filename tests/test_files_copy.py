"""``spark-tui copy`` against the real sshd: both ways, folders with symlinks, modes and times, errors."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from spark_tui.core.files import Place, parse_place
from tests.files_helpers import RemoteFolder, make_tree, run_cli, tree_listing, trust_and_save


@pytest.fixture
def remote(sshd):
    trust_and_save(sshd)
    folder = RemoteFolder(sshd)
    yield folder
    folder.remove()


def test_an_scp_style_argument_is_a_device_path_only_before_the_first_slash():
    assert parse_place("dev:models/x") == Place("dev", "models/x")
    assert parse_place("dev:") == Place("dev", ".")
    assert parse_place("./dev:x") == Place(None, "./dev:x")
    assert parse_place("/tmp/a:b") == Place(None, "/tmp/a:b")
    assert parse_place("plain") == Place(None, "plain")


def test_a_file_goes_up_and_comes_back_with_its_bytes_mode_and_time(remote, tmp_path: Path, monkeypatch, capsys):
    src = tmp_path / "weights.bin"
    src.write_bytes(os.urandom(3_000_000))
    src.chmod(0o640)
    os.utime(src, (1_650_000_000, 1_650_000_000))
    code, out, err = run_cli(["copy", str(src), remote.spec()], monkeypatch, capsys)
    assert (code, out, err) == (0, "", "")
    up = remote.local / "weights.bin"
    assert up.read_bytes() == src.read_bytes()
    assert (oct(up.stat().st_mode & 0o777), int(up.stat().st_mtime)) == ("0o640", 1_650_000_000)
    assert [p.name for p in remote.local.iterdir()] == ["weights.bin"]  # no part file left behind

    back = tmp_path / "back.bin"
    code, _, err = run_cli(["copy", remote.spec(sub="weights.bin"), str(back)], monkeypatch, capsys)
    assert code == 0, err
    assert back.read_bytes() == src.read_bytes()
    assert (oct(back.stat().st_mode & 0o777), int(back.stat().st_mtime)) == ("0o640", 1_650_000_000)


def test_a_folder_with_nested_folders_and_symlinks_round_trips_as_rsync_a_would(remote, tmp_path: Path, monkeypatch, capsys):
    model = tmp_path / "model"
    make_tree(model)
    code, _, err = run_cli(["copy", "-r", str(model), remote.spec()], monkeypatch, capsys)
    assert code == 0, err
    assert tree_listing(remote.local / "model") == tree_listing(model)
    assert os.readlink(remote.local / "model" / "snapshots" / "abc123" / "outside") == "/etc/hostname"  # not followed

    back = tmp_path / "back"
    back.mkdir()
    code, _, err = run_cli(["copy", "-r", remote.spec(sub="model"), str(back)], monkeypatch, capsys)
    assert code == 0, err
    assert tree_listing(back / "model") == tree_listing(model)


def test_several_sources_go_into_a_folder_and_not_into_a_file(remote, tmp_path: Path, monkeypatch, capsys):
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text("a")
    b.write_text("b")
    code, _, err = run_cli(["copy", str(a), str(b), remote.spec()], monkeypatch, capsys)
    assert code == 0, err
    assert sorted(p.name for p in remote.local.iterdir()) == ["a.txt", "b.txt"]
    code, _, err = run_cli(["copy", str(a), str(b), remote.spec(sub="a.txt")], monkeypatch, capsys)
    assert code == 1
    assert err.strip().endswith("a.txt: not a folder") and err.count("\n") == 1


def test_a_folder_without_r_is_a_clear_error(remote, tmp_path: Path, monkeypatch, capsys):
    (tmp_path / "d").mkdir()
    code, _, err = run_cli(["copy", str(tmp_path / "d"), remote.spec()], monkeypatch, capsys)
    assert code == 1 and "is a folder" in err and "-r" in err


def test_usage_errors_exit_2_and_an_unknown_device_exits_1(remote, tmp_path: Path, monkeypatch, capsys):
    with pytest.raises(SystemExit) as exit_:
        run_cli(["copy", "only-one"], monkeypatch, capsys)
    assert exit_.value.code == 2
    code, _, err = run_cli(["copy", str(tmp_path), "nosuch:x"], monkeypatch, capsys)
    assert code == 1 and "no saved device named 'nosuch'" in err


def test_writing_where_the_device_user_may_not_says_permission_denied_and_names_the_file(remote, tmp_path: Path, monkeypatch, capsys):
    src = tmp_path / "x.bin"
    src.write_bytes(b"x" * 1000)
    locked = remote.local / "locked"
    locked.mkdir(mode=0o555)  # root-owned, read-only for the device user
    code, _, err = run_cli(["copy", str(src), remote.spec(sub="locked/")], monkeypatch, capsys)
    assert code == 1
    assert f"{remote.name}/locked/x.bin: permission denied" in err and err.count("\n") == 1


def test_a_full_local_disk_says_no_space_left_and_leaves_no_file_under_its_name(remote, tmp_path: Path, monkeypatch, capsys):
    import subprocess

    (remote.local / "big.bin").write_bytes(os.urandom(3 << 20))
    small = tmp_path / "small"
    small.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "spark-tui-files-test", str(small)], check=True)
    try:
        code, _, err = run_cli(["copy", remote.spec(sub="big.bin"), str(small)], monkeypatch, capsys)
        assert code == 1
        assert f"{small}/big.bin: no space left on the device" in err and err.count("\n") == 1
        assert not (small / "big.bin").exists()
    finally:
        subprocess.run(["umount", str(small)], check=True)


def test_a_remote_name_with_control_characters_is_shown_escaped(remote, tmp_path: Path, monkeypatch, capsys):
    evil = remote.local / "evil\x1b]0;pwned\x07\x1b[31mred"
    evil.write_bytes(b"secret")
    evil.chmod(0o000)  # root's file: the device user cannot read it, so the error names it
    code, _, err = run_cli(["copy", remote.spec(sub=evil.name), str(tmp_path)], monkeypatch, capsys)
    assert code == 1
    assert "\x1b" not in err and "\x07" not in err
    assert "evil\\x1b]0;pwned\\x07\\x1b[31mred: permission denied" in err


def test_progress_goes_to_stderr_only_when_it_is_a_terminal_with_names_escaped(remote, tmp_path: Path):
    import pty
    import subprocess
    import sys

    src = tmp_path / "bad\x1b[2Jname.bin"
    src.write_bytes(os.urandom(24 << 20))
    main, child = pty.openpty()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "spark_tui", "copy", str(src), remote.spec()],
            cwd=Path(__file__).resolve().parent.parent, stdout=subprocess.PIPE, stderr=child, timeout=120,
        )
        os.close(child)
        child = -1
        shown = b""
        while True:
            try:
                chunk = os.read(main, 65536)
            except OSError:
                break
            if not chunk:
                break
            shown += chunk
    finally:
        os.close(main)
        if child != -1:
            os.close(child)
    assert done.returncode == 0 and done.stdout == b""
    text = shown.decode()
    assert "MiB" in text and "/s" in text and "ETA" in text
    assert "bad\\x1b[2Jname.bin" in text and "\x1b[2J" not in text
    assert "\r\x1b[K" in text and "\\x0d" not in text, "the line is redrawn in place, its own sequences not escaped"
