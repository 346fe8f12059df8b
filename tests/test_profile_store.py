"""The profile store against real files: what it reads, what a save keeps, what it refuses."""

from __future__ import annotations

import dataclasses
import os
import stat
import tomllib
from pathlib import Path

import pytest

from spark_tui.config.store import ProfileStore
from spark_tui.core.errors import (
    ConfigConflict,
    ConfigError,
    DeviceExists,
    DeviceNotFound,
    InvalidProfile,
    TunnelNotFound,
)
from spark_tui.core.models import Config, DeviceProfile, PortRules, Settings, TunnelKind, TunnelSpec

HAND_WRITTEN = """\
# my spark-tui profiles

[settings]
theme = "spark-dark"   # dark, because the lab is dark
telemetry_interval = 1.0

# The box under my desk.
[devices.spark-1a2b]   # bought 2025
host = "spark-1a2b.local"  # mDNS name
user = "me"
port = 22

tags = ["lab"]

[[devices.spark-1a2b.tunnels]]
name = "dashboard"
remote_port = 11000
auto_start = true  # always want it
browser_path = "/"

# Jupyter, started by hand
[[devices.spark-1a2b.tunnels]]
name = "jupyter"
remote_port = 8888

# The rack machine, reached through the bastion.
[devices.rack]
host = "10.0.0.7"
jump_host = "me@bastion:22"
"""


@pytest.fixture
def profile_file(tmp_path: Path) -> Path:
    path = tmp_path / "profiles.toml"
    path.write_text(HAND_WRITTEN)
    os.chmod(path, 0o600)
    return path


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# --- reading --------------------------------------------------------------------------------


def test_a_hand_written_file_loads_into_profiles_tunnels_and_settings(profile_file: Path) -> None:
    config = ProfileStore(profile_file).load()

    assert [d.name for d in config.devices] == ["spark-1a2b", "rack"]
    spark = config.device("spark-1a2b")
    assert spark.host == "spark-1a2b.local" and spark.user == "me" and spark.port == 22 and spark.tags == ("lab",)
    assert spark.tunnels[0] == TunnelSpec("dashboard", 11000, auto_start=True, browser_path="/")
    assert spark.tunnels[1].effective_local_port == 8888
    assert config.device("rack").jump_host == "me@bastion:22"
    assert config.settings.theme == "spark-dark"


def test_a_missing_file_is_an_empty_config_and_is_not_created(tmp_path: Path) -> None:
    path = tmp_path / "nope" / "profiles.toml"

    assert ProfileStore(path).load() == Config()
    assert not path.exists()


def test_a_syntax_error_is_reported_with_its_line_and_a_hint(tmp_path: Path) -> None:
    path = tmp_path / "profiles.toml"
    path.write_text('[devices.a]\nhost = "a"\nport = = 3\n')

    with pytest.raises(ConfigError) as caught:
        ProfileStore(path).load()

    assert caught.value.line == 3
    assert f"{path}:3" in str(caught.value)
    assert caught.value.hint


@pytest.mark.parametrize(
    ("text", "line", "field"),
    [
        ('[devices.a]\nhost = "a"\nport = 70000\n', 3, "devices.a.port"),
        ('[devices.a]\nhost = "a"\nport = "22"\n', 3, "devices.a.port"),
        ('[devices.a]\nhost = "a"\n\n[[devices.a.tunnels]]\nname = "x"\nremote_port = 0\n', 6, "devices.a.tunnels[0].remote_port"),
        ('[devices.a]\nhost = "a"\nidenity_file = "~/.ssh/id"\n', 3, "devices.a.idenity_file"),
        ('[settings]\ntheme = "x"\ntelemetry_interval = -1\n', 3, "settings.telemetry_interval"),
        ('[devices."bad name"]\nhost = "a"\n', 1, 'devices."bad name"'),
        ('[devices.a]\nuser = "me"\n', 1, "devices.a"),
        ('[devices.a]\nhost = "-oProxyCommand=evil"\n', 2, "devices.a.host"),
        ('[devices.a]\nhost = "a"\nports = { allow = ["9000-8000"] }\n', 3, "devices.a.ports.allow[0]"),
        ('[devices.a]\nhost = "a"\n[[devices.a.tunnels]]\nname = "x"\nremote_port = 1\n[[devices.a.tunnels]]\nname = "x"\nremote_port = 2\n', 7, "devices.a.tunnels[1].name"),
    ],
)
def test_an_invalid_value_is_reported_with_its_line_and_field(tmp_path: Path, text: str, line: int, field: str) -> None:
    path = tmp_path / "profiles.toml"
    path.write_text(text)

    with pytest.raises(ConfigError) as caught:
        ProfileStore(path).load()

    assert (caught.value.line, caught.value.field) == (line, field)
    assert f"[{field}]" in str(caught.value) and caught.value.hint


def test_an_unknown_key_suggests_the_key_that_was_meant(tmp_path: Path) -> None:
    path = tmp_path / "profiles.toml"
    path.write_text('[devices.a]\nhost = "a"\nidenity_file = "~/.ssh/id"\n')

    with pytest.raises(ConfigError) as caught:
        ProfileStore(path).load()

    assert "identity_file" in caught.value.hint


def test_bytes_that_are_not_utf8_are_reported_with_their_line(tmp_path: Path) -> None:
    path = tmp_path / "profiles.toml"
    path.write_bytes(b'[devices.a]\nhost = "a"\nuser = "\xff\xfe"\n')

    with pytest.raises(ConfigError) as caught:
        ProfileStore(path).load()

    assert caught.value.line == 3 and "UTF-8" in str(caught.value)


# --- saving keeps what people wrote ---------------------------------------------------------


def test_a_save_keeps_the_comment_next_to_a_device_and_the_order_and_blank_lines(profile_file: Path) -> None:
    store = ProfileStore(profile_file)
    spark = store.load().device("spark-1a2b")

    store.update_device(dataclasses.replace(spark, host="10.0.0.9"))

    text = profile_file.read_text()
    assert text == HAND_WRITTEN.replace('host = "spark-1a2b.local"  # mDNS name', 'host = "10.0.0.9"  # mDNS name')


def test_adding_a_device_changes_nothing_above_it(profile_file: Path) -> None:
    store = ProfileStore(profile_file)

    store.add_device(DeviceProfile("gx10-beef", host="gx10-beef.local", tags=("fleet",)))

    text = profile_file.read_text()
    assert text.startswith(HAND_WRITTEN)
    assert text[len(HAND_WRITTEN):] == '\n[devices.gx10-beef]\nhost = "gx10-beef.local"\ntags = ["fleet"]\n'


def test_defaults_are_not_written_for_a_new_device_but_an_existing_default_is_kept(profile_file: Path) -> None:
    store = ProfileStore(profile_file)
    store.add_device(DeviceProfile("plain", host="plain.local", port=22))
    spark = store.load().device("spark-1a2b")

    store.update_device(dataclasses.replace(spark, tags=("lab", "gpu")))

    data = tomllib.loads(profile_file.read_text())
    assert data["devices"]["plain"] == {"host": "plain.local"}
    assert data["devices"]["spark-1a2b"]["port"] == 22


def test_removing_a_device_keeps_the_comment_above_the_next_one(profile_file: Path) -> None:
    store = ProfileStore(profile_file)

    store.remove_device("spark-1a2b")

    text = profile_file.read_text()
    assert "spark-1a2b" not in text
    assert "# The box under my desk." not in text  # it was written directly above the removed device
    assert "# The rack machine, reached through the bastion.\n[devices.rack]" in text
    assert "# dark, because the lab is dark" in text
    assert store.load().device("rack") is not None


def test_a_tunnel_is_added_replaced_and_removed_in_place(profile_file: Path) -> None:
    store = ProfileStore(profile_file)
    store.load()

    store.save_tunnel("spark-1a2b", TunnelSpec("ollama", 11434, local_port=21434))
    store.save_tunnel("spark-1a2b", TunnelSpec("dashboard", 11000, auto_start=False, browser_path="/"))
    config = store.remove_tunnel("spark-1a2b", "jupyter")

    assert [t.name for t in config.device("spark-1a2b").tunnels] == ["dashboard", "ollama"]
    assert config.device("spark-1a2b").tunnels[0].auto_start is False
    text = profile_file.read_text()
    assert "jupyter" not in text and "Jupyter, started by hand" not in text
    assert "# The rack machine" in text and "# bought 2025" in text
    assert ProfileStore(profile_file).load() == config


def test_settings_and_key_bindings_are_saved_and_read_back(profile_file: Path) -> None:
    store = ProfileStore(profile_file)

    store.set_setting("theme", "spark-light")
    store.set_setting("discovery_interfaces", ("127.0.0.1",))
    store.set_key("connect", "enter,c")
    config = store.set_key("quit", "ctrl+q")

    assert config.settings.theme == "spark-light"
    assert config.settings.discovery_interfaces == ("127.0.0.1",)
    assert dict(config.settings.keys) == {"connect": "enter,c", "quit": "ctrl+q"}
    assert "# dark, because the lab is dark" in profile_file.read_text()
    assert ProfileStore(profile_file).load() == config


def test_a_seeded_file_explains_itself_and_reads_back_equal(tmp_path: Path) -> None:
    config = Config(
        devices=(
            DeviceProfile(
                "demo", host="127.0.0.1", port=2222, demo=True,
                tunnels=(TunnelSpec("web", 8080, kind=TunnelKind.LOCAL, browser_path="/"), TunnelSpec("socks", 1080, kind=TunnelKind.DYNAMIC)),
                ports=PortRules(allow=("8000-9000",), deny=("22",)),
            ),
        ),
        settings=Settings(theme="spark-contrast", keys={"connect": "enter"}),
    )
    path = tmp_path / "seed" / "profiles.toml"

    ProfileStore.create_seeded(path, config)

    assert path.read_text().startswith("# spark-tui profiles")
    assert ProfileStore(path).load() == config
    assert mode(path) == 0o600
    with pytest.raises(ConfigError):
        ProfileStore.create_seeded(path, config)


# --- refusing -------------------------------------------------------------------------------


def test_adding_a_name_that_exists_is_refused_unless_replacing(profile_file: Path) -> None:
    store = ProfileStore(profile_file)
    before = profile_file.read_bytes()

    with pytest.raises(DeviceExists) as caught:
        store.add_device(DeviceProfile("rack", host="elsewhere"))
    assert "device remove rack" in caught.value.hint
    assert profile_file.read_bytes() == before

    config = store.add_device(DeviceProfile("rack", host="elsewhere"), replace=True)
    assert config.device("rack") == DeviceProfile("rack", host="elsewhere")


def test_missing_devices_and_tunnels_are_named_in_the_error(profile_file: Path) -> None:
    store = ProfileStore(profile_file)

    with pytest.raises(DeviceNotFound) as caught:
        store.remove_device("ghost")
    assert "spark-1a2b" in caught.value.hint
    with pytest.raises(DeviceNotFound):
        store.save_tunnel("ghost", TunnelSpec("x", 1))
    with pytest.raises(TunnelNotFound) as caught_tunnel:
        store.remove_tunnel("spark-1a2b", "ghost")
    assert "dashboard" in caught_tunnel.value.hint


@pytest.mark.parametrize(
    "profile",
    [
        DeviceProfile("ok", host="h", port=0),
        DeviceProfile("ok", host="h", port=65536),
        DeviceProfile("bad/name", host="h"),
        DeviceProfile("ok", host="has space"),
        DeviceProfile("ok", host="h", user="-oProxyCommand=x"),
        DeviceProfile("ok", host="h", tunnels=(TunnelSpec("t", 80, bind_address="not an address"),)),
        DeviceProfile("ok", host="h", tunnels=(TunnelSpec("t", 80, browser_path="lab"),)),
    ],
)
def test_an_invalid_profile_from_code_is_refused_and_the_file_untouched(profile_file: Path, profile: DeviceProfile) -> None:
    before = profile_file.read_bytes()

    with pytest.raises(InvalidProfile) as caught:
        ProfileStore(profile_file).add_device(profile)

    assert caught.value.field.startswith("devices.")
    assert profile_file.read_bytes() == before


def test_invalid_settings_are_refused(profile_file: Path) -> None:
    store = ProfileStore(profile_file)
    for key, value in [("telemetry_interval", 0), ("log_level", "LOUD"), ("nope", 1), ("discovery_interfaces", ["eth0"])]:
        with pytest.raises(InvalidProfile):
            store.set_setting(key, value)
    with pytest.raises(InvalidProfile):
        store.set_key("connect", "")
    assert profile_file.read_text() == HAND_WRITTEN


CORRUPT = [
    '[devices.a]\nhost = "a"\nport = = 3\n',
    '[devices.a]\nhost = "a"\nport = 99999\n',
    "[devices.a]\nhost = 'a'\n[devices.a]\nhost = 'b'\n",
    '[settings]\ncolour = "red"\n',
]


@pytest.mark.parametrize("text", CORRUPT)
def test_a_corrupt_file_is_left_byte_for_byte_untouched_by_every_mutation(tmp_path: Path, text: str) -> None:
    path = tmp_path / "profiles.toml"
    path.write_text(text)
    os.chmod(path, 0o644)
    before = path.read_bytes()
    store = ProfileStore(path)
    mutations = [
        lambda: store.add_device(DeviceProfile("new", host="n")),
        lambda: store.add_device(DeviceProfile("a", host="n"), replace=True),
        lambda: store.update_device(DeviceProfile("a", host="n")),
        lambda: store.remove_device("a"),
        lambda: store.save_tunnel("a", TunnelSpec("t", 80)),
        lambda: store.remove_tunnel("a", "t"),
        lambda: store.set_setting("theme", "spark-light"),
        lambda: store.set_key("connect", "enter"),
    ]

    for mutate in mutations:
        with pytest.raises(ConfigError):
            mutate()

    assert path.read_bytes() == before
    assert mode(path) == 0o644
    assert sorted(p.name for p in tmp_path.iterdir()) == ["profiles.toml", "profiles.toml.lock"]


# --- modes ----------------------------------------------------------------------------------


def test_the_file_is_0600_after_every_save_even_if_it_was_0644(profile_file: Path) -> None:
    store = ProfileStore(profile_file)
    saves = [
        lambda: store.add_device(DeviceProfile("b", host="b")),
        lambda: store.save_tunnel("b", TunnelSpec("t", 80)),
        lambda: store.set_setting("theme", "spark-light"),
        lambda: store.remove_device("b"),
    ]
    for save in saves:
        os.chmod(profile_file, 0o644)
        save()
        assert mode(profile_file) == 0o600
    assert mode(profile_file.with_name("profiles.toml.lock")) == 0o600


def test_a_new_file_is_created_0600_in_a_private_folder(tmp_path: Path) -> None:
    path = tmp_path / "cfg" / "spark-tui" / "profiles.toml"

    ProfileStore(path).add_device(DeviceProfile("a", host="a"))

    assert mode(path) == 0o600
    assert mode(path.parent) == 0o700
    assert path.read_text().startswith("# spark-tui profiles")


def test_a_symlinked_profile_file_is_updated_at_its_target(tmp_path: Path) -> None:
    target = tmp_path / "dotfiles" / "profiles.toml"
    target.parent.mkdir()
    target.write_text(HAND_WRITTEN)
    link = tmp_path / "profiles.toml"
    link.symlink_to(target)

    ProfileStore(link).add_device(DeviceProfile("b", host="b"))

    assert link.is_symlink()
    assert ProfileStore(target).load().device("b") is not None


# --- hand edits while the app runs ----------------------------------------------------------


def test_a_hand_edit_is_picked_up_by_reload_if_changed_and_kept_by_the_next_save(profile_file: Path) -> None:
    store = ProfileStore(profile_file)
    store.load()
    assert store.reload_if_changed() is None

    profile_file.write_text(HAND_WRITTEN + '\n# added by hand\n[devices.hand]\nhost = "hand.local"\n')
    reloaded = store.reload_if_changed()
    assert reloaded is not None and reloaded.device("hand").host == "hand.local"
    assert store.reload_if_changed() is None

    store.add_device(DeviceProfile("app", host="app.local"))

    text = profile_file.read_text()
    assert "# added by hand" in text
    assert [d.name for d in ProfileStore(profile_file).load().devices] == ["spark-1a2b", "rack", "hand", "app"]
    assert store.reload_if_changed() is None  # our own save is not reported as a change


def test_a_save_after_an_unnoticed_hand_edit_of_another_device_keeps_both(profile_file: Path) -> None:
    store = ProfileStore(profile_file)
    spark = store.load().device("spark-1a2b")
    profile_file.write_text(HAND_WRITTEN.replace('host = "10.0.0.7"', 'host = "10.0.0.8"'))

    config = store.update_device(dataclasses.replace(spark, port=2222))

    assert config.device("rack").host == "10.0.0.8"
    assert config.device("spark-1a2b").port == 2222


def test_a_save_that_would_overwrite_a_hand_edit_of_the_same_device_is_refused(profile_file: Path) -> None:
    store = ProfileStore(profile_file)
    spark = store.load().device("spark-1a2b")
    edited = HAND_WRITTEN.replace('user = "me"', 'user = "admin"')
    profile_file.write_text(edited)

    with pytest.raises(ConfigConflict) as caught:
        store.update_device(dataclasses.replace(spark, port=2222))

    assert caught.value.field == "devices.spark-1a2b"
    assert caught.value.line == 8
    assert "changed in the file" in str(caught.value) and "reload" in caught.value.hint
    assert profile_file.read_text() == edited
    with pytest.raises(ConfigConflict):
        store.remove_device("spark-1a2b")

    store.reload_if_changed()
    assert store.update_device(dataclasses.replace(store.load().device("spark-1a2b"), port=2222)).device("spark-1a2b").user == "admin"


def test_a_tunnel_edited_by_hand_is_not_overwritten_by_a_save_of_the_same_tunnel(profile_file: Path) -> None:
    store = ProfileStore(profile_file)
    store.load()
    profile_file.write_text(HAND_WRITTEN.replace("remote_port = 8888", "remote_port = 8889"))

    with pytest.raises(ConfigConflict) as caught:
        store.save_tunnel("spark-1a2b", TunnelSpec("jupyter", 9999))
    assert caught.value.field == "devices.spark-1a2b.tunnels[1]"

    config = store.save_tunnel("spark-1a2b", TunnelSpec("ollama", 11434))  # a different tunnel is fine
    assert [t.remote_port for t in config.device("spark-1a2b").tunnels] == [11000, 8889, 11434]


def test_an_invalid_hand_edit_is_reported_once_by_reload_if_changed(profile_file: Path) -> None:
    store = ProfileStore(profile_file)
    store.load()
    profile_file.write_text(HAND_WRITTEN.replace("port = 22", "port = 0"))

    with pytest.raises(ConfigError) as caught:
        store.reload_if_changed()
    assert caught.value.field == "devices.spark-1a2b.port"
    assert store.reload_if_changed() is None
    with pytest.raises(ConfigError):
        store.add_device(DeviceProfile("b", host="b"))

    profile_file.write_text(HAND_WRITTEN)
    assert store.reload_if_changed() is not None


def test_a_file_in_an_unusual_layout_is_edited_or_refused_but_never_written_wrong(tmp_path: Path) -> None:
    path = tmp_path / "profiles.toml"
    text = '[devices]\na = { host = "a", tunnels = [{ name = "t", remote_port = 1 }] }  # inline\n'
    path.write_text(text)
    store = ProfileStore(path)

    try:
        config = store.save_tunnel("a", TunnelSpec("u", 2))
    except ConfigError:
        assert path.read_text() == text
    else:
        assert [t.name for t in config.device("a").tunnels] == ["t", "u"]
        assert ProfileStore(path).load() == config
        assert "# inline" in path.read_text()


@pytest.mark.parametrize(
    "text",
    [
        '[devices.a]\nhost = "a"\n\n[settings]\ntheme = "spark-dark"\n\n[devices.b]\nhost = "b"\n',  # devices split by a table
        '# no newline at the end\n[devices.a]\nhost = "a"',
        '# windows line ends\r\n[devices.a]\r\nhost = "a"\r\n',
        "# only a comment\n",
        "",
    ],
)
def test_layouts_people_write_by_hand_accept_every_kind_of_change(tmp_path: Path, text: str) -> None:
    path = tmp_path / "profiles.toml"
    path.write_bytes(text.encode())
    store = ProfileStore(path)
    had_a = store.load().device("a") is not None

    store.add_device(DeviceProfile("n", host="n", tunnels=(TunnelSpec("t", 1),)))
    store.save_tunnel("n", TunnelSpec("u", 2))
    if had_a:
        store.save_tunnel("a", TunnelSpec("w", 3))
    store.set_setting("theme", "spark-light")
    config = store.remove_tunnel("n", "t")

    assert ProfileStore(path).load() == config
    assert [t.name for t in config.device("n").tunnels] == ["u"]
    assert config.settings.theme == "spark-light"
    first_line = text.splitlines()[0] if text else ""
    if first_line.startswith("#"):
        assert path.read_text().startswith(first_line)


def test_a_dynamic_tunnel_is_saved_by_its_local_socks_port_alone(profile_file: Path) -> None:
    store = ProfileStore(profile_file)

    config = store.save_tunnel("rack", TunnelSpec("socks", 0, local_port=1080, kind=TunnelKind.DYNAMIC))

    assert config.device("rack").tunnels == (TunnelSpec("socks", 0, local_port=1080, kind=TunnelKind.DYNAMIC),)
    assert 'name = "socks"\nlocal_port = 1080\nkind = "dynamic"\n' in profile_file.read_text()
    assert ProfileStore(profile_file).load() == config
    with pytest.raises(InvalidProfile):
        store.save_tunnel("rack", TunnelSpec("socks", 0, kind=TunnelKind.DYNAMIC))  # no SOCKS port at all
    with pytest.raises(InvalidProfile):
        store.save_tunnel("rack", TunnelSpec("web", 0))  # a local tunnel needs its remote port
