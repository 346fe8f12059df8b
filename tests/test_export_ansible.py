"""`spark-tui export ansible` turns the profiles into an inventory Ansible can use."""

import json
import shlex
import os
import stat

from spark_tui.cli import main


def add(config, *argv):
    assert main(["--config", str(config), "device", "add", *argv]) == 0


def test_every_device_is_a_host_and_every_tag_a_group(tmp_path, capsys):
    config = tmp_path / "profiles.toml"
    add(config, "spark-1a2b", "--host", "spark-1a2b.local", "--user", "me", "--tag", "lab", "--tag", "fleet")
    add(config, "gx10-00ff", "--host", "192.0.2.7", "--port", "2222", "--tag", "fleet", "--jump", "me@bastion")
    capsys.readouterr()
    assert main(["--config", str(config), "export", "ansible"]) == 0
    inventory = json.loads(capsys.readouterr().out)
    hosts = inventory["all"]["hosts"]
    assert hosts["spark-1a2b"]["ansible_host"] == "spark-1a2b.local"
    assert hosts["spark-1a2b"]["ansible_user"] == "me"
    assert hosts["gx10-00ff"]["ansible_port"] == 2222
    # the hop is dialled by a ProxyCommand given the same known_hosts (-J would drop the -o options)
    hop = shlex.split(hosts["gx10-00ff"]["ansible_ssh_common_args"])[-1]
    assert hop.startswith("ProxyCommand=ssh ") and shlex.split(hop)[-2:] == ["--", "bastion"] and "-l me" in hop
    assert "StrictHostKeyChecking=yes" in hosts["spark-1a2b"]["ansible_ssh_common_args"]
    assert set(inventory["all"]["children"]["fleet"]["hosts"]) == {"spark-1a2b", "gx10-00ff"}
    assert set(inventory["all"]["children"]["lab"]["hosts"]) == {"spark-1a2b"}


def test_an_inventory_written_to_a_file_is_private(tmp_path, capsys):
    config = tmp_path / "profiles.toml"
    add(config, "spark-1a2b", "--host", "spark-1a2b.local")
    out = tmp_path / "inventory.yml"
    assert main(["--config", str(config), "export", "ansible", "-o", str(out)]) == 0
    assert json.loads(out.read_text())["all"]["hosts"]["spark-1a2b"]["ansible_host"] == "spark-1a2b.local"
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
