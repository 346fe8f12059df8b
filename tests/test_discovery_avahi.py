"""Discovery against real avahi-daemon: one daemon per network namespace, all on one bridge.

The LAN is built by :mod:`tests.avahi_lan` (198.18.0.0/24, namespaces named ``disc*``, each
daemon with its own config, ``enable-dbus=no``, stopped by its pid; namespaces deleted by name).
spark-tui's side runs in the browser namespace, so no multicast leaves the namespaces.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator

import pytest

from tests.avahi_lan import BROWSER_IP, Lan, Watcher, available

pytestmark = pytest.mark.netns


@pytest.fixture
def lan() -> Iterator[Lan]:
    why = available()
    if why:
        pytest.skip(why)
    lan = Lan()
    try:
        yield lan
    finally:
        lan.close()


@pytest.fixture
def watchers() -> Iterator[list[Watcher]]:
    made: list[Watcher] = []
    try:
        yield made
    finally:
        for watcher in made:
            watcher.close()


def discover(lan: Lan, tmp_path, *args: str, profile_host: str = "") -> list[dict]:
    config = tmp_path / "profiles.toml"
    if profile_host:
        config.write_text(f'[devices.desk]\nhost = "{profile_host}"\n')
    out = subprocess.run(
        lan.command(sys.executable, "-m", "spark_tui", "--config", str(config), "discover", *args, "--json"),
        capture_output=True, text=True, timeout=60,
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_a_spark_advertising_debians_example_ssh_service_is_one_row_with_dialable_addresses(lan, watchers, tmp_path):
    spark = lan.add_device("spark-1a2b")
    watcher = Watcher(lan)
    watchers.append(watcher)
    line = watcher.wait_for(lambda line: any(r["addresses"] for r in watcher.rows(line, "spark-1a2b")), 10)
    (row,) = watcher.rows(line, "spark-1a2b")
    assert (row["name"], row["host"], row["port"], row["model"], row["advertised"]) == (
        "spark-1a2b", "spark-1a2b.local", 22, "DGX Spark", True,
    )
    assert row["addresses"][0] == spark.addresses[0]
    # On one IPv4 interface, as `discover --interface` prints them: link-local with its scope.
    (found,) = discover(lan, tmp_path, "--interface", BROWSER_IP, "--timeout", "2.5")
    assert found["name"] == "spark-1a2b" and found["instance"] == "spark-1a2b._ssh._tcp.local."
    assert found["addresses"][0] == spark.addresses[0]
    link_local = [a for a in found["addresses"] if a.startswith("fe80:")]
    assert link_local and all("%" in a for a in link_local), found["addresses"]


def test_two_sparks_with_the_same_name_are_two_rows_and_a_saved_profile_hides_neither(lan, watchers, tmp_path):
    first = lan.add_device("spark-1a2b")
    second = lan.add_device("spark-1a2b")  # Avahi renames it spark-1a2b-2
    assert "spark-1a2b-2.local" in second.log()
    watcher = Watcher(lan)
    watchers.append(watcher)

    def both(line: dict) -> bool:
        rows = watcher.rows(line, "spark-1a2b")
        return len(rows) == 2 and all(any(a.startswith("198.18.") for a in r["addresses"]) for r in rows)

    rows = sorted(watcher.rows(watcher.wait_for(both, 10), "spark-1a2b"), key=lambda r: r["name"])
    assert [(r["name"], [a for a in r["addresses"] if "." in a]) for r in rows] == [
        ("spark-1a2b", first.addresses),
        ("spark-1a2b-2", second.addresses),
    ]
    found = discover(lan, tmp_path, "--timeout", "2.5", profile_host="spark-1a2b.local")
    assert sorted((d["name"], d["saved"], [a for a in d["addresses"] if "." in a]) for d in found) == [
        ("desk", True, first.addresses),
        ("spark-1a2b-2", False, second.addresses),
    ]


def test_the_same_spark_on_two_links_is_one_row_with_both_addresses_also_once_renamed(lan, watchers):
    spark = lan.add_device("spark-2c2c", links=2, late_links=1)
    lan.link_up(spark, 1)  # the second link comes up after the daemon started, as a cable would
    watcher = Watcher(lan)
    watchers.append(watcher)

    def ipv4(row: dict) -> list[str]:
        return sorted(a for a in row["addresses"] if "." in a)

    watcher.wait_for(lambda line: any(ipv4(r) == spark.addresses for r in watcher.rows(line, "spark-2c")), 10)
    time.sleep(3.0)  # whatever Avahi does about hearing itself on the other link, let it settle
    # Renamed or not (it is, when its own probe comes back over the other link), one row.
    rows = watcher.rows(watcher.lines[-1], "spark-2c")
    assert len(rows) == 1 and ipv4(rows[0]) == spark.addresses, rows
    # Avahi renames a Spark that hears itself over its other link to spark-2c2c-2. Here the
    # rename is forced (the same daemon, same addresses, new name; the old name still cached):
    # the addresses agree, so it is still one row, now under the new name.
    lan.restart_as(spark, "spark-2c2c-2")
    renamed = watcher.wait_for(lambda line: any(r["name"] == "spark-2c2c-2" for r in watcher.rows(line, "spark-2c")), 10)
    (row,) = watcher.rows(renamed, "spark-2c")
    assert ipv4(row) == spark.addresses
    assert all(len(watcher.rows(line, "spark-2c")) <= 1 for line in watcher.lines), "it was two rows for a while"


RESOLVE = textwrap.dedent(
    """
    import asyncio, json, sys, time
    from spark_tui.services.discovery.resolve import forget_resolved, resolve_local
    async def main():
        answers, seconds = [], []
        for _ in range(int(sys.argv[2])):
            forget_resolved()
            await asyncio.sleep(1.1)  # past Avahi's one-second repeat limit: a full fresh query
            started = time.monotonic()
            answers.append(await resolve_local(sys.argv[1], timeout=3.0))
            seconds.append(time.monotonic() - started)
        started = time.monotonic()
        again = await resolve_local(sys.argv[1], timeout=3.0)
        print(json.dumps({"answers": answers, "seconds": seconds, "again": again, "again_s": time.monotonic() - started}))
    asyncio.run(main())
    """
)


def test_local_names_resolve_to_routable_ipv4_first_on_all_interfaces_and_again_at_once(lan):
    spark = lan.add_device("spark-3d3d")
    time.sleep(1.0)
    out = subprocess.run(lan.python(RESOLVE, "spark-3d3d.local", "4"), capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    # Every call, not most: the IPv6 link-local answer often lands first, the resolver waits.
    assert [answer[0] for answer in result["answers"]] == [spark.addresses[0]] * 4, result
    assert all("%" in a for answer in result["answers"] for a in answer if a.startswith("fe80:"))
    assert result["again"] == result["answers"][-1]
    assert result["again_s"] < 0.2  # cached, not a second 1.3 s round with Avahi


def test_a_sigkilled_daemon_is_gone_in_bounded_time_last_seen_never_goes_back_and_a_restart_is_seen(lan, watchers):
    dead = lan.add_device("spark-dead")
    alive = lan.add_device("spark-a11e")
    refresh_after, gone_after = 2.0, 5.0
    watcher = Watcher(lan, profile="spark-dead.local", refresh_after=refresh_after, gone_after=gone_after)
    watchers.append(watcher)

    def saved(line: dict) -> dict:
        return next(r for r in line["rows"] if r["key"] == "profile:saved")

    watcher.wait_for(lambda line: saved(line)["advertised"] and watcher.rows(line, "spark-a11e"), 10)
    time.sleep(refresh_after + 1.0)  # re-queried at least once, and answered
    lan.kill(dead)  # SIGKILL: no goodbye
    killed = time.time()
    gone = watcher.wait_for(lambda line: line["t"] > killed and not saved(line)["advertised"], gone_after + 5.0)
    assert gone["t"] - killed <= gone_after + 3.0  # a 1 s tick, and slack for a loaded machine
    assert saved(gone)["last_seen"] <= killed + 0.5  # when it was last heard, not when it expired
    # The live one is kept by its answers, well past gone_after, and the dead one stays gone.
    time.sleep(gone_after)
    later = watcher.wait_for(lambda line: line["t"] > gone["t"] + gone_after, 5)
    assert watcher.rows(later, "spark-a11e") and watcher.rows(later, "spark-a11e")[0]["advertised"]
    assert not saved(later)["advertised"]
    assert later["requeries"] > 0
    lan.start(dead)  # back: its announcements make the row advertised again at once
    restarted = time.time()
    back = watcher.wait_for(lambda line: line["t"] > restarted and saved(line)["advertised"], 10)
    assert saved(back)["last_seen"] >= restarted
    for key in ("profile:saved", "host:spark-a11e"):
        seen = [r["last_seen"] for line in watcher.lines for r in line.get("rows", []) if r["key"] == key and r["last_seen"]]
        assert seen and seen == sorted(seen), f"{key}: last seen went backwards"
    assert seen[-1] > killed  # spark-a11e was heard after the kill: it answered the re-queries


def test_a_host_with_no_service_file_is_found_by_the_reverse_sweep_and_probed(lan, watchers, tmp_path):
    quiet = lan.add_device("quiet-77aa", services=())
    watcher = Watcher(lan, interfaces=[BROWSER_IP], sweep=True)
    watchers.append(watcher)
    line = watcher.wait_for(lambda line: watcher.rows(line, "quiet-77aa"), 10)
    (row,) = watcher.rows(line, "quiet-77aa")
    assert (row["host"], row["addresses"], row["name_only"], row["advertised"]) == (
        "quiet-77aa.local", quiet.addresses, True, False,
    )
    # `discover` probes its SSH port before calling it reachable: closed, then listening.
    (found,) = discover(lan, tmp_path, "--interface", BROWSER_IP, "--timeout", "1.5")
    assert (found["host"], found["found_by"], found["reachable"]) == ("quiet-77aa.local", "name", False)
    listener = subprocess.Popen(
        ["ip", "netns", "exec", quiet.ns, sys.executable, "-c",
         "import socket,time; s=socket.create_server(('0.0.0.0', 22)); print('up', flush=True); c=s.accept(); time.sleep(5)"],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert listener.stdout.readline().strip() == "up"
        (found,) = discover(lan, tmp_path, "--interface", BROWSER_IP, "--timeout", "1.5")
    finally:
        listener.kill()
        listener.wait(10)
    assert (found["found_by"], found["reachable"]) == ("name", True)


def test_the_sweep_stays_off_when_the_setting_says_so(lan, tmp_path):
    lan.add_device("quiet-88bb", services=())
    config = tmp_path / "profiles.toml"
    config.write_text("[settings]\ndiscovery_sweep = false\n")
    out = subprocess.run(
        lan.command(sys.executable, "-m", "spark_tui", "--config", str(config), "discover", "--interface", BROWSER_IP, "--timeout", "1.5", "--json"),
        capture_output=True, text=True, timeout=60, env={**os.environ},
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == []
