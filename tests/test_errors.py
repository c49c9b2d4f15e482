"""One error shape: what ClickHouse refuses reaches a client as a 503 with a reason, never a bare 500;
dashboard pages fail as HTML pages, the API and ingest as JSON."""
import pytest

from test_dashboards import logged_in, login, user  # noqa: F401  (fixtures)


def test_a_query_over_its_limit_is_a_503_with_a_reason(app, client, site, token, store):
    store.query_limits = dict(store.query_limits, max_execution_time=1)
    definition = {"name": "Heavy", "stages": [{"name": "Seen", "match": {"type": "pageview"}}]}
    auth = {"Authorization": "Bearer " + token}
    assert client.put(f"/api/v1/sites/{site['site']}/journeys/heavy", json=definition, headers=auth).status_code < 300
    store.query_limits = dict(store.query_limits, max_memory_usage=1000)  # no query fits
    response = client.get(f"/api/v1/sites/{site['site']}/journeys/heavy/funnel", headers=auth)
    assert response.status_code == 503 and "memory" in response.get_json()["error"]


def crash(*args, **kwargs):
    raise RuntimeError("secret detail of a bug")


def test_an_unexpected_error_on_a_dashboard_page_is_an_html_500_page(logged_in, site, monkeypatch):
    from tracker.journeys import definitions

    monkeypatch.setattr(definitions, "list_all", crash)  # the journeys page and the API both call it
    response = logged_in.get(f"/dashboard/{site['site']}/journeys/")
    html = response.get_data(as_text=True)
    assert response.status_code == 500 and response.mimetype == "text/html"
    assert "Something went wrong" in html and "secret detail" not in html and "Traceback" not in html


def test_an_unexpected_error_in_the_api_is_a_json_500(client, site, token, monkeypatch):
    from tracker.journeys import definitions

    monkeypatch.setattr(definitions, "list_all", crash)
    response = client.get(f"/api/v1/sites/{site['site']}/journeys", headers={"Authorization": "Bearer " + token})
    assert response.status_code == 500 and response.get_json() == {"error": "internal error"}


def test_unknown_urls_answer_in_the_format_of_their_part(client):
    page = client.get("/dashboard/no/such/page/here")
    assert page.status_code == 404 and page.mimetype == "text/html"
    assert "Not found" in page.get_data(as_text=True)
    not_allowed = client.delete("/dashboard/login")
    assert not_allowed.status_code == 405 and not_allowed.mimetype == "text/html"
    api = client.get("/api/v1/no/such")
    assert api.status_code == 404 and api.mimetype == "application/json" and "error" in api.get_json()
    elsewhere = client.get("/no-such-thing")
    assert elsewhere.status_code == 404 and elsewhere.mimetype == "application/json"


def test_a_statement_allowed_to_run_long_is_waited_for_past_the_socket_timeout(clickhouse_server):
    """A rebuild's INSERT SELECT sends nothing until it is done: the client must wait as long as
    the statement may run, not its usual socket timeout (a 100M rebuild failed so)."""
    from tracker.store.backend import StoreUnavailable
    from tracker.store.server import ServerBackend

    store = ServerBackend(f"{clickhouse_server}/default", send_receive_timeout=1)
    try:
        with pytest.raises(StoreUnavailable):
            store.execute("SELECT sleep(2)")
        store.execute("SELECT sleep(2)", settings={"max_execution_time": 10})
        assert store.query("SELECT 1").scalar() == 1  # and the usual timeout is back
        with pytest.raises(StoreUnavailable):
            store.execute("SELECT sleep(2)")
    finally:
        store.close()
