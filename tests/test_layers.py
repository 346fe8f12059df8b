"""The layer arrows of STYLE.md hold: lower layers never import textual, widgets never do I/O."""

import pkgutil
import subprocess
import sys

import pytest

import spark_tui


def modules_under(package: str) -> list[str]:
    """Every module of ``package``, subpackages included (``services.demo.device``)."""
    path = [f"{spark_tui.__path__[0]}/{package.split('.', 1)[1].replace('.', '/')}"]
    found = pkgutil.walk_packages(path, prefix=f"{package}.")
    return [package] + [m.name for m in found if not m.name.rsplit(".", 1)[1].startswith("_")]


def imported_after(module: str) -> set[str]:
    code = f"import sys, {module}; print('\\n'.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return set(out.stdout.split())


@pytest.mark.parametrize(
    "module",
    modules_under("spark_tui.core") + modules_under("spark_tui.config") + modules_under("spark_tui.services"),
)
def test_a_lower_layer_module_never_imports_textual(module):
    assert not any(m == "textual" or m.startswith("textual.") for m in imported_after(module))


@pytest.mark.parametrize("module", modules_under("spark_tui.core"))
def test_core_imports_no_network_library(module):
    loaded = imported_after(module)
    assert not {"asyncssh", "zeroconf", "tomlkit"} & loaded


@pytest.mark.parametrize("module", modules_under("spark_tui.widgets"))
def test_a_widget_imports_no_service_or_network_library(module):
    loaded = imported_after(module)
    assert not {"asyncssh", "zeroconf"} & loaded
    assert not any(m.startswith("spark_tui.services") for m in loaded)


def test_version_does_not_load_the_heavy_libraries():
    code = "import sys; from spark_tui import cli; import spark_tui; print(' '.join(sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    loaded = set(out.stdout.split())
    assert not {"textual", "asyncssh", "zeroconf", "tomlkit"} & loaded
