"""The `tracker` command, run as a real process: sites, tokens, migrate, serve's guard rails."""
import json
import os
import subprocess
import sys

import pytest

from conftest import ROOT, new_database


def tracker(env, *args, check=True):
    return subprocess.run([sys.executable, "-m", "tracker", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, check=check, timeout=120)


@pytest.fixture
def env(backend, clickhouse_server, tmp_path):
    """Environment of a fresh database on the backend; embedded data in a folder of its own."""
    database = new_database()
    url = f"{clickhouse_server}/{database}" if backend == "server" else ""
    return dict(os.environ, TRACKER_CLICKHOUSE_URL=url, TRACKER_DATA_DIR=str(tmp_path / "data"),
                TRACKER_DATABASE=database)


def test_site_token_and_migrate(env):
    site = json.loads(tracker(env, "site", "create", "--name", "Shop", "--domain", "Shop.example", "--json").stdout)
    assert site["site"].startswith("s_") and site["secret"].startswith("sk_") and site["domains"] == ["shop.example"]
    listed = json.loads(tracker(env, "site", "list", "--json").stdout)
    assert [s["site"] for s in listed] == [site["site"]] and "secret" not in json.dumps(listed)
    token = json.loads(tracker(env, "token", "create", "--json").stdout)
    assert token["token"].startswith("tk_")
    assert tracker(env, "migrate").stdout.strip() == "nothing to apply"
    rows = [json.loads(line) for line in tracker(env, "sql", "SELECT count() AS n FROM sites").stdout.splitlines()]
    assert rows == [{"n": 1}]


def test_reclassify_command(env):
    assert tracker(env, "reclassify", "--site", "s_none", "--from", "2025-01-01").stdout.strip() == \
        "no touchpoints in that range"
    bad = tracker(env, "reclassify", "--site", "s_none", "--from", "January", check=False)
    assert bad.returncode != 0 and "--from" in bad.stderr


def test_a_bad_setting_stops_with_a_sentence(env):
    result = tracker(dict(env, TRACKER_CLICKHOUSE_URL="mysql://db"), "migrate", check=False)
    assert result.returncode != 0
    assert "TRACKER_CLICKHOUSE_URL='mysql://db' is not valid" in result.stderr
    assert "Traceback" not in result.stderr


def test_pixel_url():
    out = tracker(dict(os.environ), "pixel-url", "--base", "https://t.example", "--site", "s_1", "--uid", "ana@x",
                  "--campaign", "autumn deals").stdout.strip()
    assert out.startswith("https://t.example/p.gif?") and "uid=ana%40x" in out and "utm_campaign=autumn%20deals" in out


def test_serve_refuses_several_workers_on_the_embedded_store(env):
    result = tracker(dict(env, TRACKER_CLICKHOUSE_URL=""), "serve", "--workers", "2", check=False)
    assert result.returncode != 0 and "embedded store serves one process" in result.stderr


def test_a_second_process_on_the_embedded_store_is_told_plainly(tmp_path):
    env = dict(os.environ, TRACKER_CLICKHOUSE_URL="", TRACKER_DATA_DIR=str(tmp_path / "data"))
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; from tracker import create_app; "
                               "create_app(); print('ready', flush=True); time.sleep(60)"],
                              cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "ready"
        result = tracker(env, "site", "list", check=False)
        assert result.returncode != 0
        assert "one process" in result.stderr and "Traceback" not in result.stderr
    finally:
        holder.kill()
        holder.wait()
