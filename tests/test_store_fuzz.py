"""Hostile profile files: whatever the bytes, loading raises ConfigError or returns a Config.

Nothing else may escape (no KeyError, RecursionError, UnicodeError, OverflowError ...), and a
file that does load can be saved to and still loads to what was saved. Example counts are
fixed so the suite stays bounded in time; each test prints how many cases it ran.
"""

from __future__ import annotations

import datetime
import tomllib
from pathlib import Path

import pytest
import tomlkit
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spark_tui.config.store import ProfileStore
from spark_tui.core.errors import ConfigError, InvalidProfile
from spark_tui.core.models import Config, DeviceProfile

FUZZ = settings(deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

VALID = b"""\
# mine
[settings]
theme = "spark-dark"
telemetry_interval = 1.0
discovery_interfaces = ["127.0.0.1"]
log_level = "INFO"
[settings.keys]
connect = "enter"

[devices.spark-1a2b]
host = "spark-1a2b.local"
user = "me"
port = 22
identity_file = "~/.ssh/id_ed25519"
jump_host = "bastion"
tags = ["lab"]
ports = { allow = ["8000-9000"], deny = ["22"] }

[[devices.spark-1a2b.tunnels]]
name = "dashboard"
remote_port = 11000
local_port = 11000
remote_host = "localhost"
bind_address = "127.0.0.1"
kind = "local"
auto_start = true
browser_path = "/"
"""

KEYS = ["settings", "devices", "keys", "theme", "telemetry_interval", "discovery_interfaces", "discovery_types",
        "log_level", "spark-1a2b", "host", "user", "port", "identity_file", "jump_host", "tags", "ports", "allow",
        "deny", "demo", "tunnels", "name", "remote_port", "local_port", "remote_host", "bind_address", "kind",
        "auto_start", "browser_path", "x"]

ran: dict[str, int] = {}


def load_or_config_error(path: Path, data: bytes, counter: str) -> Config | None:
    """Write ``data`` and load it: a Config, or ``None`` after a ConfigError. Anything else fails."""
    ran[counter] = ran.get(counter, 0) + 1
    path.write_bytes(data)
    try:
        return ProfileStore(path).load()
    except ConfigError as error:
        assert error.message and str(error).startswith(str(path))
        return None


def save_still_works(path: Path, config: Config) -> None:
    """A loaded file accepts a change (or refuses it cleanly) and then loads to the saved config."""
    store = ProfileStore(path)
    store.load()
    before = path.read_bytes()
    try:
        saved = store.add_device(DeviceProfile("fuzz-added", host="fuzz.local"), replace=True)
    except ConfigError:
        assert path.read_bytes() == before  # refused (an unusual layout): untouched
        return
    assert ProfileStore(path).load() == saved
    assert saved.device("fuzz-added") is not None
    assert [d for d in saved.devices if d.name != "fuzz-added"] == [d for d in config.devices if d.name != "fuzz-added"]


@pytest.fixture(scope="module", autouse=True)
def report_counts():
    yield
    print(f"\nfuzz cases run: {ran} total={sum(ran.values())}")


@settings(FUZZ, max_examples=400)
@given(data=st.binary(max_size=2000))
def test_random_bytes_only_ever_raise_config_error(tmp_path: Path, data: bytes) -> None:
    load_or_config_error(tmp_path / "profiles.toml", data, "random_bytes")


@settings(FUZZ, max_examples=300)
@given(text=st.text(alphabet=st.characters(codec="utf-8"), max_size=600))
def test_random_text_only_ever_raises_config_error(tmp_path: Path, text: str) -> None:
    load_or_config_error(tmp_path / "profiles.toml", text.encode("utf-8", "surrogatepass"), "random_text")


@settings(FUZZ, max_examples=400)
@given(
    cuts=st.lists(st.tuples(st.integers(0, len(VALID)), st.integers(0, 12), st.binary(max_size=8)), min_size=1, max_size=4)
)
def test_a_valid_file_with_random_damage_only_ever_raises_config_error(tmp_path: Path, cuts: list[tuple[int, int, bytes]]) -> None:
    data = bytearray(VALID)
    for at, drop, insert in cuts:
        data[at : at + drop] = insert
    path = tmp_path / "profiles.toml"
    config = load_or_config_error(path, bytes(data), "damaged_valid_file")
    if config is not None:
        save_still_works(path, config)


scalars = st.one_of(
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.integers(min_value=0, max_value=70000),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.text(max_size=20),
    st.sampled_from(["spark-1a2b.local", "127.0.0.1", "local", "remote", "dynamic", "/", "INFO", "8000-9000", "-oX", "a\nb"]),
    st.datetimes(min_value=datetime.datetime(1970, 1, 1), max_value=datetime.datetime(2100, 1, 1)),
    st.dates(min_value=datetime.date(1970, 1, 1)),
)
trees = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.sampled_from(KEYS) | st.text(min_size=1, max_size=8), children, max_size=5),
    ),
    max_leaves=30,
)


@settings(FUZZ, max_examples=400)
@given(tree=st.dictionaries(st.sampled_from(KEYS), trees, max_size=4))
def test_well_formed_toml_with_wrong_shapes_and_types_only_ever_raises_config_error(tmp_path: Path, tree: dict) -> None:
    try:
        text = tomlkit.dumps(tree)
        tomllib.loads(text)
    except Exception:  # noqa: BLE001 - a tree TOML cannot express (mixed arrays of tables...): not our input
        return
    path = tmp_path / "profiles.toml"
    config = load_or_config_error(path, text.encode(), "typed_trees")
    if config is not None:
        save_still_works(path, config)


@settings(FUZZ, max_examples=60)
@given(depth=st.integers(1, 20000), kind=st.sampled_from(["array", "inline", "dotted", "headers"]))
def test_deep_nesting_only_ever_raises_config_error(tmp_path: Path, depth: int, kind: str) -> None:
    if kind == "array":
        text = "x = " + "[" * depth + "]" * depth
    elif kind == "inline":
        text = "x = " + "{a = " * depth + "1" + "}" * depth
    elif kind == "dotted":
        text = ".".join(["a"] * depth) + " = 1"
    else:
        text = "[" + ".".join(["devices"] + ["a"] * min(depth, 2000)) + "]\nhost = 'h'"
    load_or_config_error(tmp_path / "profiles.toml", text.encode(), "deep_nesting")


@settings(FUZZ, max_examples=60)
@given(digits=st.integers(6, 20000), where=st.sampled_from(["port", "telemetry", "tag"]))
def test_huge_numbers_only_ever_raise_config_error(tmp_path: Path, digits: int, where: str) -> None:
    number = "9" * digits
    text = {
        "port": f"[devices.a]\nhost = 'a'\nport = {number}\n",
        "telemetry": f"[settings]\ntelemetry_interval = {number}.5e{number[:4]}\n",
        "tag": f"[devices.a]\nhost = 'a'\ntags = [{number}]\n",
    }[where]
    assert load_or_config_error(tmp_path / "profiles.toml", text.encode(), "huge_numbers") is None


@settings(FUZZ, max_examples=150)
@given(junk=st.binary(min_size=1, max_size=6).filter(lambda b: not _is_utf8(b)), at=st.integers(0, len(VALID)))
def test_invalid_utf8_anywhere_is_a_config_error_with_a_line(tmp_path: Path, junk: bytes, at: int) -> None:
    data = VALID[:at] + junk + VALID[at:]
    path = tmp_path / "profiles.toml"
    ran["invalid_utf8"] = ran.get("invalid_utf8", 0) + 1
    path.write_bytes(data)
    with pytest.raises(ConfigError) as caught:
        ProfileStore(path).load()
    assert caught.value.line is not None and 1 <= caught.value.line <= VALID.count(b"\n") + 2


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


@settings(FUZZ, max_examples=200)
@given(
    name=st.text(max_size=70),
    host=st.text(max_size=70),
    user=st.none() | st.text(max_size=20),
    port=st.integers(-(2**70), 2**70),
    tags=st.lists(st.text(max_size=10), max_size=3),
)
def test_profiles_from_code_are_saved_or_refused_with_invalid_profile(tmp_path: Path, name, host, user, port, tags) -> None:
    path = tmp_path / "profiles.toml"
    path.write_bytes(VALID)
    ran["profiles_from_code"] = ran.get("profiles_from_code", 0) + 1
    try:
        saved = ProfileStore(path).add_device(DeviceProfile(name, host=host, user=user, port=port, tags=tuple(tags)), replace=True)
    except InvalidProfile:
        assert path.read_bytes() == VALID
        return
    assert ProfileStore(path).load() == saved
