"""What holds when many processes serve one store: logins and visits across gunicorn workers,
shared secrets, and a batch writer that survives whatever goes wrong in it."""
import json
import os
import re
import time

import pytest
import requests
from click.testing import CliRunner

from conftest import command_env, new_database
from helpers import CHROME, post_batch, rows
from processes import Gunicorn, tracker_cli
from tracker import close_app, create_app
from tracker.cli import main as tracker

PASSWORD = "correct horse battery"


@pytest.fixture
def four_workers(clickhouse_server, tmp_path):
    """`tracker serve --workers 4` on the ClickHouse server, with no TRACKER_SECRET_KEY set."""
    database = new_database()
    env = {k: v for k, v in os.environ.items() if k != "TRACKER_SECRET_KEY"}
    env.update(TRACKER_DATA_DIR=str(tmp_path / "data"), TRACKER_CLICKHOUSE_URL=f"{clickhouse_server}/{database}",
               TRACKER_FLUSH_SECONDS="0.2")
    site = json.loads(tracker_cli(env, "site", "create", "--name", "Shop", "--domain", "example.com", "--json"))
    tracker_cli(env, "user", "create", "--email", "rep@example.org", "--password", PASSWORD, "--site", site["site"])
    token = json.loads(tracker_cli(env, "token", "create", "--json"))["token"]
    server = Gunicorn(env, workers=4)
    server.start()
    yield server, site, token
    server.stop(15)


def fresh(method, url, **kwargs):
    """One request on a connection of its own, so gunicorn may hand it to any worker."""
    headers = dict(kwargs.pop("headers", {}), Connection="close")
    return requests.request(method, url, headers=headers, timeout=10, **kwargs)


@pytest.mark.slow
def test_logins_hold_across_four_workers(four_workers):
    server, site, _ = four_workers
    kept = 0
    for _ in range(10):
        form = fresh("GET", server.base + "/dashboard/login")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
        login = fresh("POST", server.base + "/dashboard/login", cookies=form.cookies, allow_redirects=False,
                      data={"email": "rep@example.org", "password": PASSWORD, "csrf_token": csrf})
        assert login.status_code == 302, login.text
        pages = [fresh("GET", f"{server.base}/dashboard/{site['site']}/", cookies=login.cookies, allow_redirects=False)
                 for _ in range(4)]
        kept += all(page.status_code == 200 for page in pages)
    assert kept == 10


@pytest.mark.slow
def test_pixel_hits_of_one_visitor_through_different_workers_make_one_visit(four_workers):
    server, site, token = four_workers
    for n in range(8):
        pixel = fresh("GET", f"{server.base}/p.gif", headers={"User-Agent": CHROME},
                      params={"site": site["site"], "type": "email_open", "uid": "ines", "name": f"open {n}"})
        assert pixel.status_code == 200 and "X-Tracker-Error" not in pixel.headers
    person = f"{server.base}/api/v1/sites/{site['site']}/people/ines"
    deadline = time.monotonic() + 40  # four writers on a loaded machine
    while True:
        body = fresh("GET", person, headers={"Authorization": f"Bearer {token}"}).json()
        if body.get("touchpoints") == 8 or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert len(body["sessions"]) == 1 and len(body["sessions"][0]["touchpoints"]) == 8


def test_two_apps_on_one_store_share_the_session_key_and_the_salt(app, test_config):
    other = create_app(dict(test_config, flush_seconds=0.2))
    try:
        assert app.config["SECRET_KEY"] == other.config["SECRET_KEY"] and len(app.config["SECRET_KEY"]) == 64
        assert app.extensions["tracker"].salts.today() == other.extensions["tracker"].salts.today()
    finally:
        close_app(other)


def test_closing_one_app_leaves_the_other_working(app, test_config, client, site, flush):
    other = create_app(dict(test_config, flush_seconds=0.2))
    close_app(other)
    assert other.extensions["query_pool"]._shutdown and not app.extensions["query_pool"]._shutdown
    assert post_batch(client, site["site"], [{"type": "pageview", "url": "https://example.com/"}]).status_code == 202
    flush()
    assert len(rows(store=app.extensions["store"], site=site["site"])) == 1


def page_views(count, prefix):
    return [{"type": "pageview", "url": "https://example.com/p", "eid": f"{prefix}-{i}"} for i in range(count)]


def wait_for(check, seconds=30):
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


@pytest.mark.slow
def test_a_refused_segment_is_set_aside_the_writer_goes_on_and_an_operator_replays_it(
        app, store, client, site, flush, test_config):
    writer = app.extensions["tracker"].writer
    store.execute("ALTER TABLE events DROP COLUMN title")  # an operator's mistake: inserts now fail
    assert post_batch(client, site["site"], page_views(3, "refused")).status_code == 202
    wait_for(lambda: writer.health()["set_aside_segments"] == 1)
    store.execute("ALTER TABLE events ADD COLUMN title String AFTER path")
    assert post_batch(client, site["site"], page_views(2, "later")).status_code == 202
    flush()
    health = client.get("/healthz").get_json()
    assert health["ok"] and health["writer"]["set_aside_segments"] == 1 and "title" in health["writer"]["last_error"]["error"]
    assert sorted(r["event_id"] for r in rows(store, site["site"])) == ["later-0", "later-1"]

    env = command_env(test_config)
    listed = CliRunner().invoke(tracker, ["spool", "list", "--json"], env=env)
    assert listed.exit_code == 0, listed.output
    [segment] = json.loads(listed.output)
    assert segment["rows"] == {"events": 3} and "title" in segment["reason"]
    retried = CliRunner().invoke(tracker, ["spool", "retry"], env=env)
    assert retried.exit_code == 0 and "3 rows inserted" in retried.output, retried.output
    assert sorted(r["event_id"] for r in rows(store, site["site"])) == [
        "later-0", "later-1", "refused-0", "refused-1", "refused-2"]
    assert json.loads(CliRunner().invoke(tracker, ["spool", "list", "--json"], env=env).output) == []


def test_the_writer_survives_an_unexpected_error(app, store, client, site, flush, monkeypatch):
    writer = app.extensions["tracker"].writer
    calls = []

    def broken_once():
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("disk hiccup")
        return 0

    monkeypatch.setattr(writer.spool, "adopt_orphans", broken_once)
    writer._last_adopt = 0.0
    assert post_batch(client, site["site"], page_views(2, "first")).status_code == 202
    wait_for(lambda: calls)
    writer._last_adopt = 0.0
    assert post_batch(client, site["site"], page_views(2, "second")).status_code == 202
    flush()
    assert len(rows(store, site["site"])) == 4
    health = writer.health()
    assert health["ok"] and "disk hiccup" in health["last_error"]["error"]
