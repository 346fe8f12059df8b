"""Ready-made apps from NVIDIA's DGX Spark playbooks, each with a playbook-style start script.

``spark-tui app add NAME APP --preset open-webui`` (or the dashboard's app dialog) copies one
into the profile, where its script can be edited like any other. Scripts follow the playbooks'
shape: start the service in the foreground or keep the script alive with ``sleep``, and clean
up in a ``trap`` so stopping the app (SIGTERM to its process group) also stops its container.
Containers publish on ``127.0.0.1`` only: a Spark has no firewall, and the tunnel is the way in.
"""

from __future__ import annotations

from spark_tui.core.apps import AppSpec

_DOCKER_APP = """\
#!/usr/bin/env bash
# {title}, started as NVIDIA's DGX Spark playbook does; stopping the app stops the container.
set -euo pipefail
NAME="{name}"
IMAGE="{image}"

cleanup() {{
  echo "Signal received; stopping ${{NAME}}..."
  docker stop "${{NAME}}" >/dev/null 2>&1 || true
  exit 0
}}
trap cleanup INT TERM HUP QUIT EXIT

if ! docker image inspect "${{IMAGE}}" >/dev/null 2>&1; then
  echo "Pulling ${{IMAGE}} (first start takes a while)..."
  docker pull "${{IMAGE}}"
fi
if [ -z "$(docker ps -a --filter "name=^/${{NAME}}$" --format '{{{{.ID}}}}')" ]; then
  docker run -d --name "${{NAME}}" {run_args} "${{IMAGE}}"{command}
else
  docker start "${{NAME}}" >/dev/null
fi
echo "Running. Stop the app to stop ${{NAME}}."
while :; do sleep 86400; done
"""

OPEN_WEBUI = AppSpec(
    name="open-webui",
    port=12000,
    browser_path="/",
    auto_open=True,
    start_script=_DOCKER_APP.format(
        title="Open WebUI with bundled Ollama",
        name="open-webui",
        image="ghcr.io/open-webui/open-webui:ollama",
        run_args="-p 127.0.0.1:12000:8080 --gpus=all -v open-webui:/app/backend/data -v open-webui-ollama:/root/.ollama",
        command="",
    ),
)

VLLM = AppSpec(
    name="vllm",
    port=8000,
    browser_path="/v1/models",
    start_script=_DOCKER_APP.format(
        title="vLLM OpenAI-compatible server (NGC container)",
        name="vllm",
        image="nvcr.io/nvidia/vllm:25.09-py3",
        run_args="-p 127.0.0.1:8000:8000 --gpus=all --ipc=host -v \"$HOME/.cache/huggingface:/root/.cache/huggingface\"",
        command=" vllm serve \"${MODEL:-Qwen/Qwen2.5-Math-1.5B-Instruct}\"",
    ),
)

COMFYUI = AppSpec(
    name="comfyui",
    port=8188,
    browser_path="/",
    auto_open=True,
    start_script="""\
#!/usr/bin/env bash
# ComfyUI from the playbook's checkout and venv (git clone + pip install done once by hand).
set -euo pipefail
cd "${COMFYUI_DIR:-$HOME/ComfyUI}"
source "${COMFYUI_VENV:-comfyui-env}/bin/activate"
exec python main.py --listen 127.0.0.1 --port 8188
""",
)

OLLAMA = AppSpec(name="ollama", port=11434, browser_path="/api/tags")
"""No script: the Ollama service runs already (systemd); the app is just its tunnel."""

JUPYTERLAB = AppSpec(name="jupyterlab", port=11001, browser_path="/lab", auto_open=True)
"""DGX Dashboard starts each user's JupyterLab; its port is listed in the Dashboard's
``jupyterlab_ports.yaml`` (11001, 11002, ...): edit ``port`` to yours."""

APP_PRESETS: tuple[AppSpec, ...] = (OPEN_WEBUI, COMFYUI, OLLAMA, VLLM, JUPYTERLAB)


def app_preset(name: str) -> AppSpec | None:
    """The preset called ``name``, or ``None``."""
    return next((p for p in APP_PRESETS if p.name == name), None)
