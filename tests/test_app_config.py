"""Apps in the profile file, app presets, and the pure parsing of docker's JSON output."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import pytest

from spark_tui.config.store import ProfileStore
from spark_tui.core.app_presets import APP_PRESETS, app_preset
from spark_tui.core.apps import AppSpec, DockerProblem, docker_problem, parse_gpu_requests, parse_ports, parse_ps_lines
from spark_tui.core.errors import AppNotFound, ConfigError, InvalidProfile
from spark_tui.core.models import DeviceProfile

OLD_FILE = """\
# written before apps existed
[devices.spark]
host = "spark-1a2b.local"   # the desk one

[[devices.spark.tunnels]]
name = "dashboard"
remote_port = 11000
"""


def test_a_file_from_before_apps_still_loads_and_gains_an_app_without_losing_its_comments(tmp_path):
    path = tmp_path / "profiles.toml"
    path.write_text(OLD_FILE)
    store = ProfileStore(path)
    assert store.load().device("spark").apps == ()
    store.save_app("spark", AppSpec("web", 8080, start_script="python3 -m http.server 8080\n", auto_open=True))
    text = path.read_text()
    assert text.startswith(OLD_FILE)
    assert '[[devices.spark.apps]]\nname = "web"\nport = 8080\nstart_script = """python3 -m http.server 8080\n"""\nauto_open = true\n' in text
    assert store.load().device("spark").apps[0].start_script == "python3 -m http.server 8080\n"


def test_a_hand_edited_app_keeps_its_comment_when_another_app_changes(tmp_path):
    path = tmp_path / "profiles.toml"
    path.write_text(OLD_FILE + '\n[[devices.spark.apps]]\nname = "mine"  # keep me\nport = 9000\n')
    store = ProfileStore(path)
    store.save_app("spark", AppSpec("other", 9001))
    store.save_app("spark", AppSpec("other", 9002, browser_path="/ui"))
    text = path.read_text()
    assert 'name = "mine"  # keep me' in text and "port = 9002" in text and 'browser_path = "/ui"' in text
    store.remove_app("spark", "other")
    assert path.read_text().rstrip("\n") == OLD_FILE + '\n[[devices.spark.apps]]\nname = "mine"  # keep me\nport = 9000'


@pytest.mark.parametrize(("entry", "field", "words"), [
    ('name = "a"\nport = 1\nstrat_script = "x"', "apps[0].strat_script", "did you mean"),
    ('name = "a"\nport = 70000', "apps[0].port", "1 to 65535"),
    ('name = "a"\nport = 1\nbrowser_path = "lab"', "apps[0].browser_path", 'starting with "/"'),
    ('name = "a"\nport = 1\nstart_script = "x"\nscript_file = "/tmp/x.sh"', "apps[0].script_file", "both"),
    ('port = 1', "apps[0]", "missing name or port"),
    ('name = "../x"\nport = 1', "apps[0].name", "invalid"),
])
def test_an_invalid_app_is_named_with_its_field_and_the_file_is_not_written(tmp_path, entry, field, words):
    path = tmp_path / "profiles.toml"
    path.write_text(OLD_FILE + f"\n[[devices.spark.apps]]\n{entry}\n")
    before = path.read_text()
    with pytest.raises(ConfigError) as caught:
        ProfileStore(path).load()
    assert f"devices.spark.{field}" in str(caught.value) and words.lower() in str(caught.value).lower()
    with pytest.raises(ConfigError):
        ProfileStore(path).add_device(DeviceProfile("other", host="h"))
    assert path.read_text() == before


def test_two_apps_with_one_name_are_refused(tmp_path):
    path = tmp_path / "profiles.toml"
    path.write_text(OLD_FILE + '\n[[devices.spark.apps]]\nname = "a"\nport = 1\n\n[[devices.spark.apps]]\nname = "a"\nport = 2\n')
    with pytest.raises(ConfigError, match="a second app is named 'a'"):
        ProfileStore(path).load()


def test_saving_an_app_checks_it_and_removing_an_unknown_one_names_the_apps_there(tmp_path):
    store = ProfileStore(tmp_path / "profiles.toml")
    store.add_device(DeviceProfile("spark", host="h"))
    with pytest.raises(InvalidProfile, match="port"):
        store.save_app("spark", AppSpec("a", 0))
    store.save_app("spark", AppSpec("a", 1))
    with pytest.raises(AppNotFound, match="its apps: a"):
        store.remove_app("spark", "b")


def test_removing_a_device_removes_its_apps_too(tmp_path):
    path = tmp_path / "profiles.toml"
    store = ProfileStore(path)
    store.add_device(DeviceProfile("spark", host="h", apps=(AppSpec("a", 1),)))
    store.add_device(DeviceProfile("other", host="o"))
    store.remove_device("spark")
    assert "apps" not in path.read_text() and store.load().device("other") is not None


def test_every_preset_is_a_valid_app_and_scripted_ones_clean_up_their_container_on_a_signal(tmp_path):
    store = ProfileStore(tmp_path / "profiles.toml")
    store.add_device(DeviceProfile("spark", host="h"))
    for preset in APP_PRESETS:
        store.save_app("spark", preset)
    saved = store.load().device("spark").apps
    assert saved == APP_PRESETS
    assert app_preset("open-webui").port == 12000 and app_preset("ollama").start_script is None
    for preset in (app_preset("open-webui"), app_preset("vllm")):
        assert "trap cleanup INT TERM HUP QUIT EXIT" in preset.start_script and "-p 127.0.0.1:" in preset.start_script


def test_the_readme_open_webui_example_is_a_valid_app():
    text = (Path(__file__).parent.parent / "README.md").read_text()
    block = next(b for b in re.findall(r"```toml\n(.*?)```", text, re.S) if "apps]]" in b)
    store_text = '[devices.spark-1a2b]\nhost = "spark-1a2b.local"\n' + block
    from spark_tui.config.schema import parse_config

    app = parse_config(tomllib.loads(store_text)).devices[0].apps[0]
    assert (app.name, app.port, app.auto_open) == ("open-webui", 12000, True)
    assert "trap cleanup INT TERM HUP QUIT EXIT" in app.start_script


# --- docker's JSON ---------------------------------------------------------------------------


def test_published_ports_are_read_and_exposed_only_ports_are_left_out():
    ports = parse_ports("0.0.0.0:8000->8000/tcp, :::8000->8000/tcp, 127.0.0.1:32768->8080/tcp, 11434/tcp, [::1]:9000-9001->90-91/udp, junk")
    assert [str(p) for p in ports] == [
        "0.0.0.0:8000->8000/tcp", ":::8000->8000/tcp", "127.0.0.1:32768->8080/tcp",
        "::1:9000->90/udp", "::1:9001->91/udp",
    ]


def test_docker_ps_lines_with_hostile_text_are_made_safe_and_bad_lines_skipped():
    good = {"ID": "abc", "Names": "evil\x1b[2Jname", "Image": "img\u202e", "State": "Running", "Status": "Up 2 hours",
            "RunningFor": "2 hours ago", "Ports": "127.0.0.1:8080->80/tcp"}
    text = "\n".join(["not json", json.dumps([1, 2]), json.dumps({"Names": "no id"}), json.dumps(good)])
    (container,) = parse_ps_lines(text)
    assert container.name == "evil\\x1b[2Jname" and container.image == "img\\u202e" and container.state == "running"
    assert container.ports[0].host_port == 8080


def test_gpu_requests_are_read_from_docker_inspect_device_requests():
    records = [
        {"Id": "a" * 64, "HostConfig": {"DeviceRequests": [{"Driver": "", "Count": -1, "Capabilities": [["gpu"]]}]}},
        {"Id": "b" * 64, "HostConfig": {"DeviceRequests": [{"Driver": "nvidia", "DeviceIDs": ["0", "1"], "Capabilities": [["gpu"]]}]}},
        {"Id": "c" * 64, "HostConfig": {"DeviceRequests": None}},
        {"Id": "d" * 64, "HostConfig": {"DeviceRequests": [{"Count": 2, "Capabilities": [["compute"]]}]}},
    ]
    assert parse_gpu_requests(json.dumps(records)) == {"a" * 12: "all", "b" * 12: "0,1"}
    assert parse_gpu_requests("not json") == {}


@pytest.mark.parametrize(("stderr", "status", "problem"), [
    ("sh: 1: docker: not found", 127, DockerProblem.MISSING),
    ("permission denied while trying to connect to the Docker daemon socket at unix:///var/run/docker.sock", 1, DockerProblem.PERMISSION),
    ("Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?", 1, DockerProblem.DAEMON),
    ("Error: No such container: x", 1, None),
])
def test_docker_failures_are_told_apart(stderr, status, problem):
    assert docker_problem(stderr, status) is problem
