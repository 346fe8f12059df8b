"""Themes are files: the built-in ones ship as TOML, a user's own file joins them, a broken or
unsafe one is named (path and line) and skipped while the dashboard starts in the default."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from spark_tui.app import Services, SparkApp
from spark_tui.config import locations
from spark_tui.config.store import ProfileStore
from spark_tui.config.theme_files import read_theme_file, unsafe_reason
from spark_tui.core.errors import ConfigError
from spark_tui.services.fleet import Fleet
from spark_tui.theming import BUILTIN_NAMES, BUILTIN_THEMES_DIR, resolve_theme, theme_names

OCEAN = """\
# My own colours.
name = "ocean"
primary = "#1E90FF"
secondary = "#0B4F8A"
accent = "#7FDBFF"
foreground = "#E0F0FF"
background = "#001B2E"
surface = "#022B45"
panel = "#0A3A5C"
dark = true

[variables]
footer-key-foreground = "#7FDBFF"
"""


def user_theme_folder() -> Path:
    folder = locations.themes_dir()
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    return folder


def make_app(tmp_path: Path, theme: str | None = None) -> SparkApp:
    path = tmp_path / "profiles.toml"
    path.write_text(f'[settings]\ntheme = "{theme}"\n' if theme else "")
    store = ProfileStore(path)
    return SparkApp(Services(store, Fleet(telemetry_interval=1.0)), store.load())


def notifications(app: SparkApp) -> list[str]:
    return [n.message for n in app._notifications]


def test_the_three_built_in_themes_are_toml_files_shipped_with_the_package():
    for name in (*BUILTIN_NAMES, "spark-mono"):
        path = BUILTIN_THEMES_DIR / f"{name}.toml"
        assert read_theme_file(path)["name"] == name
    pyproject = (Path(__file__).resolve().parent.parent / "pyproject.toml").read_text()
    assert '"themes/*.toml"' in pyproject


async def test_a_theme_file_in_the_config_folder_is_offered_selectable_and_settable(tmp_path):
    (user_theme_folder() / "ocean.toml").write_text(OCEAN)
    assert theme_names() == (*BUILTIN_NAMES, "ocean")
    assert resolve_theme("ocean", environ={}) == "ocean"
    app = make_app(tmp_path, theme="ocean")  # [settings] theme names the user's theme
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        assert app.theme == "ocean"
        assert app.current_theme.primary == "#1E90FF"
        assert not [m for m in notifications(app) if "theme" in m.lower()]
        # The palette's theme switcher offers it too (from any other theme).
        app.switch_theme("spark-light")
        await pilot.pause()
        titles = [command.title for command in app.palette_commands()]
        assert "Switch theme: ocean" in titles


async def test_a_broken_theme_file_is_named_with_its_line_and_the_app_starts_in_the_default(tmp_path):
    broken = user_theme_folder() / "broken.toml"
    broken.write_text('name = "broken"\nprimary = "#112233"\nbackground = #000000\n')
    app = make_app(tmp_path, theme="broken")
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        assert app.theme == "spark-dark"
        shown = notifications(app)
        assert any(f"{broken}:3:" in message and "not valid TOML" in message for message in shown), shown
        assert any("unknown theme 'broken'" in message for message in shown), shown
    assert "broken" not in theme_names()


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ('name = "x"\nprimary = "#112233"\nsurface = "not-a-colour"\n', 3, "surface: not a colour"),
        ('name = "x"\nprimary = "#112233"\n\ncolour = "#ffffff"\n', 4, "unknown field 'colour'"),
        ('name = "x"\nprimary = "#112233"\ndark = "yes"\n', 3, "dark must be true or false"),
        ('name = "spark-dark"\nprimary = "#112233"\n', 1, "taken by another theme"),
    ],
)
def test_a_theme_file_with_a_wrong_field_is_skipped_with_its_path_and_line(text, line, words):
    path = user_theme_folder() / "bad.toml"
    path.write_text(text)
    from spark_tui.theming import user_themes

    found = user_themes()
    assert not found.themes
    assert len(found.problems) == 1
    assert f"{path}:{line}" in found.problems[0] and words in found.problems[0], found.problems


def test_a_theme_file_dropped_in_while_the_dashboard_runs_is_offered_without_a_restart():
    folder = user_theme_folder()
    assert "ocean" not in theme_names()
    (folder / "ocean.toml").write_text(OCEAN)
    assert "ocean" in theme_names()
    (folder / "ocean.toml").unlink()
    assert "ocean" not in theme_names()


def test_a_missing_required_field_is_a_clear_error():
    path = user_theme_folder() / "half.toml"
    path.write_text('name = "half"\n')
    with pytest.raises(ConfigError, match="needs a 'primary' field") as caught:
        read_theme_file(path)
    assert str(path) in str(caught.value)


def test_a_theme_file_others_may_write_is_skipped_and_says_how_to_fix_it():
    path = user_theme_folder() / "shared.toml"
    path.write_text(OCEAN)
    path.chmod(0o666)
    from spark_tui.theming import user_themes

    found = user_themes()
    assert not found.themes
    assert found.problems == (f"theme file {path}: skipped, group or others may write it (fix: chmod go-w {path})",)


def test_a_theme_folder_others_may_write_is_not_read():
    folder = user_theme_folder()
    (folder / "ocean.toml").write_text(OCEAN)
    folder.chmod(0o777)
    from spark_tui.theming import user_themes

    found = user_themes()
    assert not found.themes and "group or others may write it" in found.problems[0]


def test_a_theme_file_owned_by_another_user_is_unsafe(tmp_path):
    if os.getuid() != 0:
        pytest.skip("changing a file's owner needs root (CI runs as root)")
    path = tmp_path / "theirs.toml"
    path.write_text(OCEAN)
    os.chown(path, 65534, 65534)  # nobody
    assert "belongs to another user" in unsafe_reason(path)
