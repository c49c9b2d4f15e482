"""/metrics in Prometheus' format, counted over every gunicorn worker, read with prometheus-client's
own parser and checked against the traffic sent."""
import json
import os
import time

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from conftest import new_database
from helpers import CHROME, post_batch
from processes import Gunicorn, free_port, tracker_cli


def samples(text):
    """{(name, frozenset(labels)): value} of an exposition."""
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(found, name, **labels):
    return found.get((name, frozenset(labels.items())), 0.0)


def test_metrics_need_an_api_token(app, client, token, site):
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer nope"}).status_code == 401
    before = samples(client.get("/metrics", headers={"Authorization": f"Bearer {token}"}).get_data(as_text=True))
    assert post_batch(client, site["site"], [{"type": "pageview", "url": "https://example.com/"}] * 3).status_code == 202
    client.get(f"/api/v1/sites/{site['site']}/people?q=ana", headers={"Authorization": f"Bearer {token}"})
    answer = client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200 and answer.mimetype == "text/plain"
    after = samples(answer.get_data(as_text=True))
    grew = lambda name, **labels: value(after, name, **labels) - value(before, name, **labels)  # noqa: E731
    assert grew("tracker_touchpoints_accepted_total", endpoint="collect") == 3
    assert grew("tracker_touchpoints_spooled_total") == 3
    assert grew("tracker_query_seconds_count", endpoint="api.search_people") == 1
    assert grew("tracker_request_seconds_count", endpoint="api.search_people") == 1


@pytest.mark.slow
def test_every_worker_counts_and_a_separate_address_serves_them(clickhouse_server, tmp_path):
    database = new_database()
    metrics_port = free_port()
    env = dict(os.environ, TRACKER_DATA_DIR=str(tmp_path / "data"), TRACKER_CLICKHOUSE_URL=f"{clickhouse_server}/{database}",
               TRACKER_FLUSH_SECONDS="0.2", TRACKER_METRICS_BIND=f"127.0.0.1:{metrics_port}")
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    site = json.loads(tracker_cli(env, "site", "create", "--name", "Shop", "--domain", "example.com", "--json"))
    server = Gunicorn(env, workers=3)
    server.start()
    try:
        fresh = {"User-Agent": CHROME, "Connection": "close"}  # any worker may answer each
        for i in range(12):
            requests.get(f"{server.base}/p.gif", params={"site": site["site"], "type": "email_open", "uid": f"u{i}"},
                         headers=fresh, timeout=10)
        for _ in range(5):
            requests.get(f"{server.base}/p.gif", params={"site": "s_nope"}, headers=fresh, timeout=10)
        body = json.dumps({"site": site["site"], "vid": "v", "events": [{"type": "pageview", "url": "https://example.com/"}] * 4})
        for _ in range(6):
            requests.post(server.base + "/collect", data=body, headers=fresh, timeout=10)
        assert requests.get(server.base + "/metrics", timeout=10).status_code == 404  # served elsewhere

        # A scrape reads each worker's files one after another, not at one instant: an insert
        # may land between the histogram's file and the counter's, so wait for both.
        deadline = time.monotonic() + 20
        while True:
            found = samples(requests.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10).text)
            settled = (value(found, "tracker_touchpoints_inserted_total") >= 36
                       and value(found, "tracker_insert_seconds_count") >= 1)
            if settled or time.monotonic() > deadline:
                break
            time.sleep(0.3)
        assert value(found, "tracker_touchpoints_accepted_total", endpoint="pixel") == 12
        assert value(found, "tracker_touchpoints_accepted_total", endpoint="collect") == 24
        assert value(found, "tracker_touchpoints_refused_total", endpoint="pixel", reason="unknown_site") == 5
        assert value(found, "tracker_touchpoints_spooled_total") == 36
        assert value(found, "tracker_touchpoints_inserted_total") == 36
        assert value(found, "tracker_insert_seconds_count") >= 1
        assert ("tracker_spool_segments", frozenset()) in found
    finally:
        server.stop(15)
