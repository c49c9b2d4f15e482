"""/healthz (alive), /readyz (store reachable, migrations applied, spool draining), and the
request id and JSON line every request gets."""
import json
import logging
import time

from helpers import post_batch
from tracker import close_app, create_app
from tracker.requestlog import JsonLines


def test_ready_when_the_store_answers_and_everything_is_applied(client):
    answer = client.get("/readyz")
    assert answer.status_code == 200 and answer.get_json()["ready"] is True
    assert client.get("/healthz").get_json()["ok"] is True


def test_not_ready_while_a_migration_is_missing(client, store):
    store.execute("ALTER TABLE schema_migrations DELETE WHERE version = 40")
    deadline = time.monotonic() + 10
    while store.query("SELECT count() FROM schema_migrations WHERE version = 40").scalar():
        assert time.monotonic() < deadline
        time.sleep(0.1)
    answer = client.get("/readyz")
    assert answer.status_code == 503 and "0040_operations.sql" in answer.get_json()["reasons"][0]


def test_not_ready_while_the_spool_does_not_drain(test_config):
    app = create_app(dict(test_config, flush_seconds=30, journey_worker=False, ready_spool_seconds=0.5))
    try:
        from tracker.store.sites import create_site

        site = create_site(app.extensions["store"], "S", [])["site"]
        app.extensions["tracker"].sites.refresh()
        client = app.test_client()
        assert post_batch(client, site, [{"type": "pageview"}]).status_code == 202
        time.sleep(0.7)
        answer = client.get("/readyz")
        assert answer.status_code == 503 and "not draining" in answer.get_json()["reasons"][0]
    finally:
        close_app(app)
        app.extensions["store"].execute(f"DROP DATABASE IF EXISTS `{app.extensions['store'].database}`")


class Lines(logging.Handler):
    def __init__(self):
        super().__init__()
        self.lines = []
        self.setFormatter(JsonLines())

    def emit(self, record):
        self.lines.append(json.loads(self.format(record)))


def test_each_request_has_an_id_and_a_json_line(client, token):
    handler = Lines()
    logger = logging.getLogger("tracker.requests")
    logger.addHandler(handler)
    try:
        mine = client.get("/healthz", headers={"X-Request-Id": "lb-1234.abc"})
        made = client.get("/api/v1/sites/s/journeys", headers={"Authorization": f"Bearer {token}",
                                                             "X-Request-Id": "bad id; with spaces"})
    finally:
        logger.removeHandler(handler)
    assert mine.headers["X-Request-Id"] == "lb-1234.abc"
    assert len(made.headers["X-Request-Id"]) == 16 and made.headers["X-Request-Id"] != "bad id"
    first, second = handler.lines
    assert first["request_id"] == "lb-1234.abc" and first["status"] == 200 and first["path"] == "/healthz"
    assert second["request_id"] == made.headers["X-Request-Id"] and second["endpoint"] == "api.list_journeys"
    assert second["site"] == "s" and second["query_ms"] >= 0 and second["message"] == "request"


def test_a_requests_query_time_counts_the_queries_it_runs_in_the_pool(client, store, token, monkeypatch):
    # the funnel reads the site's journey builds in the query pool, beside the definition: made slow
    # there, it shows in the request's query time
    from tracker.journeys import definitions

    definitions.save(store, "s", "j", definitions.validate_definition(
        {"name": "J", "stages": [{"name": "seen", "match": {"type": "pageview"}}]}))
    slow, query = 0.3, store._query

    def slowed(sql, *args, **kwargs):
        if "FROM journey_builds" in sql:
            time.sleep(slow)
        return query(sql, *args, **kwargs)

    monkeypatch.setattr(store, "_query", slowed)
    handler = Lines()
    logger = logging.getLogger("tracker.requests")
    logger.addHandler(handler)
    try:
        answer = client.get("/api/v1/sites/s/journeys/j/funnel", headers={"Authorization": f"Bearer {token}"})
    finally:
        logger.removeHandler(handler)
    assert answer.status_code == 200
    assert handler.lines[0]["query_ms"] >= slow * 1000
