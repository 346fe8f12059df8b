"""Which terminal core runs: chosen once at start, forced by SPARK_TUI_TERMINAL_CORE, never silently."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

from spark_tui.widgets.terminal.core import CORE_ENV, CoreUnavailable, core_name, make_terminal, native_problem
from spark_tui.widgets.terminal.emulator import Terminal

SPARK_TUI = str(Path(sys.executable).parent / "spark-tui")


def test_the_native_core_runs_wherever_its_wheel_exists():
    # pyproject installs pyghostty on Linux x86_64/aarch64 and macOS arm64: there the native core
    # must really load (and its cell layout check pass), or CI would test only one core.
    machine = platform.machine().lower()
    if sys.platform == "linux" and machine in ("x86_64", "aarch64") or sys.platform == "darwin" and machine == "arm64":
        assert native_problem() is None
        assert core_name("auto") == "native"
    else:
        assert core_name("auto") == "python"


def test_the_environment_variable_forces_a_core(monkeypatch):
    monkeypatch.setenv(CORE_ENV, "python")
    assert isinstance(make_terminal(10, 3), Terminal)
    monkeypatch.setenv(CORE_ENV, "native")
    if native_problem() is None:
        term = make_terminal(10, 3)
        assert term.core == "native" and not isinstance(term, Terminal)
    else:
        with pytest.raises(CoreUnavailable, match=CORE_ENV):
            make_terminal(10, 3)
    monkeypatch.setenv(CORE_ENV, "fastest")
    with pytest.raises(CoreUnavailable, match="native, python, auto"):
        make_terminal(10, 3)


def test_the_shell_pane_uses_the_forced_core(monkeypatch):
    from spark_tui.widgets.terminal.view import TerminalView

    monkeypatch.setenv(CORE_ENV, "python")
    assert isinstance(TerminalView().terminal, Terminal)


def _run(env_extra: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, **env_extra}
    return subprocess.run([SPARK_TUI, *args], env=env, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)


def test_forcing_the_native_core_where_it_cannot_load_stops_with_a_clear_error(tmp_path):
    # A library that does not load (as on a platform without the wheel): the dashboard must not
    # start and fall back in silence; it says which setting and what to do.
    result = _run({CORE_ENV: "native", "PYGHOSTTY_LIB": str(tmp_path / "missing.so")}, "--config", str(tmp_path / "p.toml"))
    assert result.returncode == 1
    assert f"{CORE_ENV}=native" in result.stderr and "does not load" in result.stderr
    assert f"{CORE_ENV}=python" in result.stderr
    assert "Traceback" not in result.stderr


def test_without_the_library_auto_falls_back_to_the_python_core(tmp_path):
    code = "from spark_tui.widgets.terminal.core import core_name; print(core_name())"
    env = {**os.environ, "PYGHOSTTY_LIB": str(tmp_path / "missing.so")}
    env.pop(CORE_ENV, None)
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "python", result.stderr
