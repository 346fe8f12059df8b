"""The Spark service presets and the Dashboard's JupyterLab port file."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from spark_tui.core.models import LOOPBACK, TunnelKind
from spark_tui.core.presets import (
    CATALOGUE,
    browser_url,
    dashboard_with_jupyterlab,
    parse_jupyterlab_ports,
    preset_for_port,
    preset_named,
    specs_for,
)


def test_the_catalogue_has_the_ports_from_the_spark_playbooks():
    ports = {p.name: [x.port for x in p.ports] for p in CATALOGUE}
    assert ports["dgx-dashboard"] == [11000]
    assert ports["jupyterlab"] == [8888] and preset_named("jupyterlab").browser_path == "/lab"
    assert ports["open-webui"] == [12000] and ports["open-webui-manual"] == [8080]
    assert ports["ollama"] == [11434] and preset_named("ollama").browser_path is None
    assert ports["vllm"] == [8000] and preset_named("vllm").browser_path == "/v1"
    assert ports["ray"] == [8265] and ports["trtllm"] == [8355] and ports["sglang"] == [30000]
    assert ports["lm-studio"] == [1234] and ports["comfyui"] == [8188] and ports["marimo"] == [8080]
    assert ports["live-vlm-webui"] == [8090] and preset_named("live-vlm-webui").scheme == "https"
    assert ports["multi-agent-chatbot"] == [3000, 8000]
    assert ports["txt2kg"] == [3001, 8529, 11434]


def test_a_lone_port_names_the_single_service_before_a_bundle_that_shares_it():
    assert preset_for_port(8000).name == "vllm"  # not half of the multi-agent chatbot
    assert preset_for_port(11434).name == "ollama"  # not txt2kg
    assert preset_for_port(3001).name == "txt2kg"  # only in a bundle
    assert preset_for_port(8080).name == "open-webui-manual"
    assert preset_for_port(4242) is None


def test_a_bundle_becomes_one_loopback_tunnel_per_port_with_the_same_local_number():
    specs = specs_for(preset_named("multi-agent-chatbot"), auto_start=True)
    assert [(s.name, s.remote_port, s.effective_local_port) for s in specs] == [
        ("multi-agent-chatbot", 3000, 3000), ("multi-agent-chatbot-8000", 8000, 8000)
    ]
    assert all(s.bind_address == LOOPBACK and s.kind is TunnelKind.LOCAL and s.auto_start for s in specs)
    assert specs[1].browser_path is None


def test_preset_names_are_found_case_insensitively():
    assert preset_named(" Ollama ").name == "ollama" and preset_named("nope") is None


def test_browser_urls_use_the_scheme_path_and_bound_port():
    assert browser_url(preset_named("jupyterlab")) == "http://localhost:8888/lab"
    assert browser_url(preset_named("live-vlm-webui"), 18090) == "https://localhost:18090/"
    assert browser_url(preset_named("ollama")) is None


def test_the_jupyterlab_port_file_is_read_leniently_in_any_plausible_layout():
    text = """\
# written by dgx-dashboard-service
users:
  alice: 11001
  bob: "11002"
  carol:
    port: 11003   # a nested mapping
- 11004
ports: [11005, 11006]
url: http://127.0.0.1:11007/lab
version: 1.2.3
low: 80
alice-again: 11001
"""
    assert parse_jupyterlab_ports(text) == (11001, 11002, 11003, 11004, 11005, 11006, 11007)


def test_an_empty_or_garbled_port_file_gives_no_ports():
    assert parse_jupyterlab_ports("") == ()
    assert parse_jupyterlab_ports("\x00\xff{{{ not yaml ::: ]]") == ()


def test_the_dashboard_bundle_adds_each_jupyterlab_port_after_11000_once():
    preset = dashboard_with_jupyterlab((11001, 11000, 11002))
    assert [(p.port, p.browser_path) for p in preset.ports] == [(11000, "/"), (11001, "/lab"), (11002, "/lab")]
    assert [s.name for s in specs_for(preset)] == ["dgx-dashboard", "dgx-dashboard-11001", "dgx-dashboard-11002"]


@given(st.text(max_size=400))
def test_any_text_gives_valid_ports_without_raising(text):
    assert all(1024 <= p <= 65535 for p in parse_jupyterlab_ports(text))
