"""Rate limits, the daily quota and login limits: 429 with Retry-After at the limit, none below
it, in one process and across gunicorn workers sharing Redis."""
import json
import os
import re
import time

import pytest
import requests

from conftest import new_database
from helpers import CHROME, post_batch
from processes import Gunicorn, tracker_cli
from tracker import close_app, create_app
from tracker.bounds import Bounds
from tracker.bounds.counters import WindowCounters
from tracker.bounds.tally import MemoryTally, open_tally
from tracker.settings import SettingsError
from tracker.store.accounts import create_user
from tracker.store.sites import create_site

PAGE = [{"type": "pageview", "url": "https://example.com/"}]


@pytest.fixture
def limited(test_config):
    """An app whose limits are small enough to reach: 5 ingest requests an hour per address, a
    quota of 7 touchpoints a day per site, 3 login attempts an hour per address. (Hours: a fixed
    window that ends between two of a test's requests would start counting afresh.)"""
    app = create_app(dict(test_config, flush_seconds=0.2, journey_worker=False, limit_per_ip="5/hour",
                          site_daily_quota=7, login_limit_per_ip="3/hour"))
    store = app.extensions["store"]
    yield app
    close_app(app)
    store.execute(f"DROP DATABASE IF EXISTS `{store.database}`")


def _site(app):
    site = create_site(app.extensions["store"], "Shop", ["example.com"])
    app.extensions["tracker"].sites.refresh()
    return site["site"]


@pytest.mark.parametrize("tally", ["memory", "redis"])
def test_counters_refuse_at_the_limit_and_never_below_it(tally, redis_server):
    counters = WindowCounters(MemoryTally() if tally == "memory" else open_tally(redis_server), new_database())
    try:
        answers = [counters.hit("k", 50, 3600) for _ in range(60)]
        assert answers[:50] == [0] * 50 and all(0 < wait <= 3600 for wait in answers[50:])
        assert counters.hit("other", 50, 3600) == 0  # keys count apart
    finally:
        counters.close()


def test_an_unreachable_tally_lets_requests_pass_up_to_this_process_count():
    counters = WindowCounters(open_tally("redis://127.0.0.1:1/0"), new_database())  # nothing listens there
    try:
        answers = [counters.hit("k", 5, 3600) for _ in range(8)]
        assert answers[:5] == [0] * 5 and all(0 < wait <= 3600 for wait in answers[5:])
        assert counters.hit("k", 1000, 3600) == 0  # another limit on the same key: far from it
    finally:
        counters.close()


def test_a_quota_counts_touchpoints_not_requests(redis_server):
    bounds = Bounds(WindowCounters(open_tally(redis_server), new_database()), daily_quota=10)
    try:
        assert bounds.ingest("s", "c", 6) is None and bounds.ingest("s", "c", 4) is None
        refusal = bounds.ingest("s", "c", 1)
        assert refusal.reason == "quota" and 0 < refusal.retry_after <= 86_400
        assert bounds.ingest("other", "c", 10) is None
    finally:
        bounds.close()


def test_collect_answers_429_with_retry_after_past_the_address_limit(limited):
    site, client = _site(limited), limited.test_client()
    statuses = [post_batch(client, site, PAGE).status_code for _ in range(5)]
    refused = post_batch(client, site, PAGE)
    assert statuses == [202] * 5 and refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 3600 and "address" in refused.get_json()["error"]
    assert refused.headers["Access-Control-Allow-Origin"] == "*"  # the snippet can read why


def test_the_pixel_still_answers_a_gif_when_limited(limited):
    site, client = _site(limited), limited.test_client()
    hits = [client.get(f"/p.gif?site={site}&type=email_open&uid=u{i}", headers={"User-Agent": CHROME})
            for i in range(6)]
    assert all(h.status_code == 200 and h.mimetype == "image/gif" for h in hits)
    assert all("X-Tracker-Error" not in h.headers for h in hits[:5])
    assert "retry later" in hits[5].headers["X-Tracker-Error"] and hits[5].headers["Retry-After"]


def test_the_daily_quota_answers_429_once_spent(limited):
    site, client = _site(limited), limited.test_client()
    three = PAGE * 3
    other = {"REMOTE_ADDR": "10.0.0.2"}  # another address each time: the address limit stays out of it
    assert post_batch(client, site, three).status_code == 202
    assert client.post("/collect", data=json.dumps({"site": site, "vid": "v", "events": three}),
                       environ_base=other).status_code == 202
    spent = client.post("/collect", data=json.dumps({"site": site, "vid": "v", "events": three}),
                        environ_base={"REMOTE_ADDR": "10.0.0.3"})
    assert spent.status_code == 429 and "touchpoints of today" in spent.get_json()["error"]
    assert int(spent.headers["Retry-After"]) <= 86_400


def test_login_attempts_are_limited_per_address(limited):
    create_user(limited.extensions["store"], "rep@example.org", "correct horse battery", ["s"])
    client = limited.test_client()
    answers = []
    for _ in range(4):
        form = client.get("/dashboard/login")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.get_data(as_text=True)).group(1)
        answers.append(client.post("/dashboard/login", data={"email": "rep@example.org", "password": "wrong",
                                                             "csrf_token": csrf}))
    assert [a.status_code for a in answers] == [401, 401, 401, 429]
    assert answers[3].headers["Retry-After"] and answers[3].mimetype == "text/html"


def test_a_server_store_without_shared_counters_does_not_start(backend, test_config):
    if backend != "server":
        pytest.skip("the embedded store's one process counts in memory")
    with pytest.raises(SettingsError, match="TRACKER_RATE_LIMIT_STORAGE"):
        create_app(dict(test_config, rate_limit_storage=""))


@pytest.mark.slow
def test_429s_at_the_limit_and_none_below_it_across_four_workers(clickhouse_server, redis_server, tmp_path):
    database = new_database()
    env = dict(os.environ, TRACKER_DATA_DIR=str(tmp_path / "data"), TRACKER_CLICKHOUSE_URL=f"{clickhouse_server}/{database}",
               TRACKER_RATE_LIMIT_STORAGE=redis_server, TRACKER_LIMIT_PER_IP="30/hour", TRACKER_JOURNEY_WORKER="0")
    site = json.loads(tracker_cli(env, "site", "create", "--name", "Shop", "--json"))["site"]
    server = Gunicorn(env, workers=4)
    server.start()
    try:
        statuses = []
        body = json.dumps({"site": site, "vid": "v", "events": PAGE})
        for _ in range(45):  # a connection each: gunicorn hands them to any worker
            answer = requests.post(server.base + "/collect", data=body, timeout=10,
                                   headers={"User-Agent": CHROME, "Connection": "close"})
            statuses.append(answer.status_code)
        assert statuses == [202] * 30 + [429] * 15
    finally:
        server.stop(15)
