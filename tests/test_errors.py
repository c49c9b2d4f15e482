"""One error shape: what ClickHouse refuses reaches a client as a 503 with a reason, never a bare 500."""
def test_a_query_over_its_limit_is_a_503_with_a_reason(app, client, site, token, store):
    store.query_limits = dict(store.query_limits, max_execution_time=1)
    definition = {"name": "Heavy", "stages": [{"name": "Seen", "match": {"type": "pageview"}}]}
    auth = {"Authorization": "Bearer " + token}
    assert client.put(f"/api/v1/sites/{site['site']}/journeys/heavy", json=definition, headers=auth).status_code < 300
    store.query_limits = dict(store.query_limits, max_memory_usage=1000)  # no query fits
    response = client.get(f"/api/v1/sites/{site['site']}/journeys/heavy/funnel", headers=auth)
    assert response.status_code == 503 and "memory" in response.get_json()["error"]
