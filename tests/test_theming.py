"""The spark themes: registration, switching, NO_COLOR, and readable contrast."""

from __future__ import annotations

import pytest
from textual.app import App, ComposeResult
from textual.color import Color
from textual.widgets import Static

from spark_tui.core.errors import SparkError, UnknownTheme
from spark_tui.theming import (
    MONO_THEME,
    SPARK_CONTRAST,
    SPARK_DARK,
    SPARK_LIGHT,
    SPARK_MONO,
    apply_theme,
    no_color_requested,
    register_themes,
    resolve_theme,
    theme_names,
)


class TinyApp(App):
    CSS = "Screen { background: $background; } #probe { color: $primary; background: $surface; }"

    def compose(self) -> ComposeResult:
        yield Static("probe", id="probe")


def near(a: Color, b: str) -> bool:
    """Equal up to rounding (Textual blends text colour with its alpha)."""
    return all(abs(x - y) <= 2 for x, y in zip(a.rgb, Color.parse(b).rgb))


def contrast(a: str, b: str) -> float:
    """WCAG contrast ratio of two colours."""

    def luminance(hex_colour: str) -> float:
        channels = []
        for value in Color.parse(hex_colour).rgb:
            c = value / 255
            channels.append(c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4)
        r, g, b = channels
        return 0.2126 * r + 0.7152 * g + 0.0722 * b

    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_users_choose_between_three_themes_and_no_color_adds_a_grey_one():
    assert theme_names() == ("spark-dark", "spark-light", "spark-contrast")
    assert theme_names(include_mono=True)[-1] == MONO_THEME


async def test_registered_themes_can_be_switched_while_the_app_runs():
    app = TinyApp()
    async with app.run_test() as pilot:
        register_themes(app)
        assert set(theme_names(include_mono=True)) <= set(app.available_themes)
        app.theme = "spark-dark"
        await pilot.pause()
        assert app.current_theme.primary == "#76B900"
        probe = app.query_one("#probe")
        dark_background = app.screen.styles.background
        assert near(probe.styles.color, "#76B900")

        app.theme = "spark-light"
        await pilot.pause()
        assert app.screen.styles.background == Color.parse(SPARK_LIGHT.background)
        assert app.screen.styles.background != dark_background
        assert near(probe.styles.color, SPARK_LIGHT.primary)


async def test_apply_theme_switches_to_the_profile_theme_and_reports_it():
    app = TinyApp()
    async with app.run_test() as pilot:
        assert apply_theme(app, "spark-contrast", environ={}) == "spark-contrast"
        await pilot.pause()
        assert app.theme == "spark-contrast"
        assert app.screen.styles.background == Color.parse("#000000")


async def test_an_unknown_theme_is_a_clear_error_that_leaves_the_theme_alone():
    app = TinyApp()
    async with app.run_test():
        apply_theme(app, "spark-dark", environ={})
        with pytest.raises(UnknownTheme) as caught:
            apply_theme(app, "sparkle", environ={})
        assert isinstance(caught.value, SparkError)
        assert "sparkle" in caught.value.message
        assert "spark-dark, spark-light, spark-contrast" in caught.value.hint
        assert app.theme == "spark-dark"


@pytest.mark.parametrize(
    ("environ", "requested", "expected"),
    [
        ({"NO_COLOR": "1"}, "spark-light", MONO_THEME),
        ({"NO_COLOR": "yes"}, None, MONO_THEME),
        ({"NO_COLOR": ""}, "spark-light", "spark-light"),  # empty means unset (no-color.org)
        ({}, None, "spark-dark"),
        ({}, "", "spark-dark"),
        ({}, " spark-contrast ", "spark-contrast"),
        ({}, "nord", "nord"),  # Textual's own themes stay usable
    ],
)
def test_no_color_wins_over_the_profile_and_an_empty_request_means_dark(environ, requested, expected):
    assert resolve_theme(requested, environ) == expected


def test_no_color_is_requested_only_by_a_non_empty_value():
    assert no_color_requested({"NO_COLOR": "0"})
    assert not no_color_requested({"NO_COLOR": ""})
    assert not no_color_requested({})


async def test_under_no_color_the_app_starts_grey_and_textuals_filter_leaves_it_unchanged(monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    app = TinyApp()
    assert app.no_color  # Textual saw it too and will grey every colour
    async with app.run_test() as pilot:
        assert apply_theme(app, "spark-dark") == MONO_THEME
        await pilot.pause()
        assert app.theme == MONO_THEME
    system = SPARK_MONO.to_color_system().generate()
    colours = {name: value for name, value in system.items() if value.startswith("#")}
    assert len(colours) > 20
    for name, value in colours.items():
        colour = Color.parse(value)
        r, g, b = colour.rgb
        assert r == g == b, f"{name} = {value} is not grey"
        assert colour.monochrome.rgb == colour.rgb, f"the NO_COLOR filter would change {name}"


def test_text_is_readable_on_every_theme_and_the_contrast_theme_meets_wcag_aaa():
    for theme in (SPARK_DARK, SPARK_LIGHT, SPARK_CONTRAST, SPARK_MONO):
        assert contrast(theme.foreground, theme.background) >= 7, theme.name
        for role in (theme.primary, theme.warning, theme.error, theme.success):
            assert contrast(role, theme.background) >= 4.5, (theme.name, role)
    for role in (SPARK_CONTRAST.primary, SPARK_CONTRAST.warning, SPARK_CONTRAST.error, SPARK_CONTRAST.success):
        assert contrast(role, SPARK_CONTRAST.background) >= 7, role


def test_the_dark_theme_is_nvidia_green_on_near_black():
    assert SPARK_DARK.primary == "#76B900"
    assert contrast(SPARK_DARK.background, "#000000") < 1.2
    assert SPARK_DARK.dark and not SPARK_LIGHT.dark
