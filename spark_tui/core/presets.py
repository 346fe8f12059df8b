"""The services people tunnel to on a DGX Spark, as presets: name, ports, browser path, scheme.

The catalogue follows the public DGX Spark playbooks (see ``shared/reference/spark-facts.md``).
Pure data and pure functions: reading the Dashboard's JupyterLab port file over SSH is the
service layer's job; parsing its text is here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from spark_tui.core.models import TunnelSpec

DASHBOARD_PORTS_FILE = "/opt/nvidia/dgx-dashboard-service/jupyterlab_ports.yaml"
"""Where the DGX Dashboard lists the per-user JupyterLab ports on the Spark."""


@dataclass(frozen=True)
class PresetPort:
    """One port of a preset.

    Attributes:
        port: Port on the device (forwarded to the same number locally).
        label: What this port is ("API", "UI", "JupyterLab (alice)").
        browser_path: Path to open in a browser, or ``None`` when the port is not a web page.
        scheme: ``http`` or ``https`` for web ports.
    """

    port: int
    label: str = ""
    browser_path: str | None = "/"
    scheme: str = "http"


@dataclass(frozen=True)
class Preset:
    """A known service on the device, possibly spanning several ports.

    Attributes:
        name: Short name, also the tunnel name prefix ("dgx-dashboard", "ollama").
        title: Human title ("DGX Dashboard").
        ports: The ports forwarded together; the first is the one opened in a browser.
        browser_path: Path of the main web page, or ``None`` for APIs without a page.
        scheme: ``http`` or ``https`` of the main page.
    """

    name: str
    title: str
    ports: tuple[PresetPort, ...]
    browser_path: str | None = "/"
    scheme: str = "http"

    @property
    def main_port(self) -> int:
        """The port the browser opens (the first one)."""
        return self.ports[0].port


def _web(port: int, label: str = "", path: str = "/", scheme: str = "http") -> PresetPort:
    return PresetPort(port, label, path, scheme)


def _api(port: int, label: str = "API") -> PresetPort:
    return PresetPort(port, label, None)


# Order matters for preset_for_port: a port listed by several presets names the first one.
CATALOGUE: tuple[Preset, ...] = (
    Preset("dgx-dashboard", "DGX Dashboard", (_web(11000, "dashboard"),)),
    Preset("jupyterlab", "JupyterLab", (_web(8888, "JupyterLab", "/lab"),), "/lab"),
    Preset("open-webui", "Open WebUI", (_web(12000, "Open WebUI"),)),
    Preset("open-webui-manual", "Open WebUI (started by hand)", (_web(8080, "Open WebUI"),)),
    Preset("ollama", "Ollama", (_api(11434, "Ollama API"),), None),
    Preset("vllm", "vLLM / NIM (OpenAI API)", (_web(8000, "OpenAI API", "/v1"),), "/v1"),
    Preset("ray", "Ray dashboard", (_web(8265, "Ray dashboard"),)),
    Preset("trtllm", "TensorRT-LLM", (_web(8355, "TensorRT-LLM API", "/v1"),), "/v1"),
    Preset("sglang", "SGLang / llama.cpp server", (_web(30000, "API", "/v1"),), "/v1"),
    Preset("lm-studio", "LM Studio", (_web(1234, "API", "/v1"),), "/v1"),
    Preset("comfyui", "ComfyUI", (_web(8188, "ComfyUI"),)),
    Preset("live-vlm-webui", "Live VLM WebUI", (_web(8090, "Live VLM WebUI", "/", "https"),), "/", "https"),
    Preset("marimo", "marimo", (_web(8080, "marimo"),)),
    Preset("multi-agent-chatbot", "Multi-agent chatbot", (_web(3000, "UI"), _api(8000, "backend"))),
    Preset("txt2kg", "txt2kg", (_web(3001, "UI"), _web(8529, "ArangoDB"), _api(11434, "Ollama API"))),
)

_BY_NAME = {preset.name: preset for preset in CATALOGUE}


def preset_named(name: str) -> Preset | None:
    """The catalogue preset called ``name`` (case-insensitive), or ``None``."""
    return _BY_NAME.get(name.strip().lower())


def preset_for_port(port: int) -> Preset | None:
    """The preset a lone listening port most likely belongs to, or ``None``.

    Single-port presets win over bundles (8000 alone is "vLLM", not half of the chatbot); among
    equals the catalogue order decides (8080 is Open WebUI before marimo).
    """
    bundle_match = None
    for preset in CATALOGUE:
        if any(p.port == port for p in preset.ports):
            if len(preset.ports) == 1:
                return preset
            bundle_match = bundle_match or preset
    return bundle_match


def specs_for(preset: Preset, *, auto_start: bool = False) -> tuple[TunnelSpec, ...]:
    """The tunnels that forward a preset: each port to the same local number, on loopback.

    The first port's tunnel carries the preset's name; the others are ``name-PORT``.

    Args:
        preset: What to forward.
        auto_start: Value of ``auto_start`` for every spec.

    Returns:
        One local-forward spec per port, in the preset's order.
    """
    specs = []
    for index, port in enumerate(preset.ports):
        name = preset.name if index == 0 else f"{preset.name}-{port.port}"
        specs.append(TunnelSpec(name=name, remote_port=port.port, auto_start=auto_start, browser_path=port.browser_path))
    return tuple(specs)


_PORT_VALUE = re.compile(r"(?<![\w.])(\d{4,5})(?![\w.])")


def parse_jupyterlab_ports(text: str) -> tuple[int, ...]:
    """Read the per-user JupyterLab ports out of the Dashboard's ``jupyterlab_ports.yaml``.

    The file's exact layout is not documented, so this reads it leniently: every value that is
    a whole number in 1024-65535 (``alice: 11001``, ``- 11002``, ``port: "11003"``,
    ``ports: [11004, 11005]``) counts; comments, keys and anything unparsable are ignored, and
    an empty or garbled file gives no ports rather than an error.

    Args:
        text: The file's contents.

    Returns:
        The ports, in file order, without duplicates.
    """
    ports: list[int] = []
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].rstrip()
        if not line.strip():
            continue
        # Only look at values: what follows the first "key:" (or the whole of a "- item" line).
        key, sep, value = line.partition(":")
        candidate = value if sep and not key.strip().startswith("-") else line
        if sep and not value.strip() and not key.strip().startswith("-"):
            continue  # "users:" opens a mapping; no value here
        for match in _PORT_VALUE.finditer(candidate):
            port = int(match.group(1))
            if 1024 <= port <= 65535 and port not in ports:
                ports.append(port)
    return tuple(ports)


def dashboard_with_jupyterlab(ports: tuple[int, ...]) -> Preset:
    """The DGX Dashboard preset extended with its per-user JupyterLab ports.

    Args:
        ports: From :func:`parse_jupyterlab_ports`; the Dashboard's own 11000 is not repeated.

    Returns:
        A preset forwarding 11000 first, then each JupyterLab port (path ``/lab``).
    """
    base = _BY_NAME["dgx-dashboard"]
    extra = tuple(PresetPort(p, "JupyterLab", "/lab") for p in ports if p != base.main_port)
    return replace(base, ports=base.ports + extra)


def browser_url(preset: Preset, local_port: int | None = None) -> str | None:
    """The address to open for a preset once tunnelled, or ``None`` when it has no page.

    Args:
        preset: The preset.
        local_port: The local port actually bound; defaults to the preset's main port.
    """
    if preset.browser_path is None:
        return None
    return f"{preset.scheme}://localhost:{local_port or preset.main_port}{preset.browser_path}"
