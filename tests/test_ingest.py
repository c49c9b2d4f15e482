"""The three ingest endpoints on both backends: good input recorded right, bad input refused clearly."""
import json
import time

import pytest

from helpers import CHROME, GOOGLEBOT, post_batch, rows
from tracker.ingest.views import GIF


def test_collect_records_an_enriched_page_view(client, site, store, flush):
    response = post_batch(client, site["site"], [{
        "type": "pageview", "eid": "e-1", "title": "Alps <b>", "screen": "1440x900",
        "url": "https://example.com/trips/alps?utm_source=newsletter&utm_medium=email&utm_campaign=spring",
        "ref": "https://mail.google.com/", "sid": "s-1", "props": {"plan": "pro", "seats": 3, "trial": True},
    }])
    assert response.status_code == 202
    assert response.get_json() == {"accepted": 1}
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    flush()
    [row] = rows(store, site["site"])
    assert row["event_id"] == "e-1" and row["visitor_id"] == "v1" and row["session_id"] == "s-1"
    assert (row["host"], row["path"], row["title"], row["screen"]) == ("example.com", "/trips/alps", "Alps <b>", "1440x900")
    assert (row["utm_source"], row["utm_medium"], row["utm_campaign"]) == ("newsletter", "email", "spring")
    assert (row["channel"], row["source"], row["referrer_host"]) == ("email", "Gmail", "mail.google.com")
    assert (row["browser"], row["os"], row["device"], row["is_bot"]) == ("Chrome", "Linux", "desktop", 0)
    assert row["user_agent"] == CHROME
    assert dict(zip(row["prop_keys"], row["prop_values"])) == {"plan": "pro", "seats": "3", "trial": "true"}
    assert abs(row["event_time"] - time.time()) < 60


@pytest.mark.single_node
def test_collect_takes_json_content_type_too(client, site):
    assert post_batch(client, site["site"], [{"type": "pageview"}], content_type="application/json").status_code == 202


def test_identify_links_visitor_and_stores_traits(client, site, store, flush):
    post_batch(client, site["site"], [
        {"type": "pageview", "url": "https://example.com/"},
        {"type": "identify", "uid": "user-7", "traits": {"email": "ana@example.org", "company": "Acme"}},
        {"type": "pageview", "url": "https://example.com/after", "uid": "user-7"},
    ], vid="browser-1")
    flush()
    links = store.query("SELECT visitor_id, user_id FROM identities WHERE site = %(s)s", {"s": site["site"]})
    assert list(links) == [("browser-1", "user-7")]  # one row: later events do not link again
    traits = store.query("SELECT trait_keys, trait_values FROM persons WHERE site = %(s)s", {"s": site["site"]})
    assert dict(zip(*traits[0])) == {"email": "ana@example.org", "company": "Acme"}


def test_a_retried_event_counts_once(client, site, store, flush):
    event = {"type": "pageview", "url": "https://example.com/", "eid": "same-id", "ts": int(time.time() * 1000)}
    for _ in range(3):
        assert post_batch(client, site["site"], [event]).status_code == 202
    flush()
    assert store.query("SELECT count() FROM events FINAL WHERE site = %(s)s", {"s": site["site"]}).scalar() == 1
    assert store.query("SELECT uniqExact(event_id) FROM events WHERE site = %(s)s", {"s": site["site"]}).scalar() == 1


def test_bots_are_flagged(client, site, store, flush):
    post_batch(client, site["site"], [{"type": "pageview"}], ua=GOOGLEBOT, vid="bot")
    post_batch(client, site["site"], [{"type": "pageview"}], ua="python-requests/2.31", vid="script")
    post_batch(client, site["site"], [{"type": "pageview"}], ua=CHROME, vid="human")
    flush()
    flags = {r["visitor_id"]: (r["is_bot"], r["device"]) for r in rows(store, site["site"])}
    assert flags == {"bot": (1, "bot"), "script": (1, "bot"), "human": (0, "desktop")}


def test_the_raw_ip_address_is_never_stored(app, client, site, store, flush):
    app.config["TRACKER"]["trust_proxy"] = True
    client.post("/collect", data=json.dumps({"site": site["site"], "events": [{"type": "pageview"}]}),
                headers={"X-Forwarded-For": "203.0.113.77", "User-Agent": CHROME})
    client.get(f"/p.gif?site={site['site']}", headers={"X-Forwarded-For": "203.0.113.77"})
    flush()
    found = rows(store, site["site"])
    assert len(found) == 2
    assert all(r["ip_hash"] and "203.0.113" not in json.dumps(r) for r in found)
    # Cookieless: no vid, so the visitor is a daily hash of address and browser, the same for both hits.
    assert found[0]["visitor_id"].startswith("h:")


@pytest.mark.single_node
def test_country_and_continent_come_from_the_address_which_is_not_stored(app, client, site, store, flush):
    app.config["TRACKER"]["trust_proxy"] = True
    post_batch(client, site["site"], [{"type": "pageview", "eid": "gb"}], headers={"X-Forwarded-For": "81.2.69.160"})
    client.get(f"/p.gif?site={site['site']}&eid=ie", headers={"X-Forwarded-For": "2a00:1450:4001::1"})
    post_batch(client, site["site"], [{"type": "pageview", "eid": "local"}], headers={"X-Forwarded-For": "10.0.0.1"})
    flush()
    found = {r["event_id"]: r for r in rows(store, site["site"])}
    assert {e: (r["country"], r["continent"]) for e, r in found.items()} == {
        "gb": ("GB", "EU"), "ie": ("IE", "EU"), "local": ("", "")}
    assert "81.2.69" not in json.dumps(list(found.values()))


@pytest.mark.single_node
def test_referrer_spam_is_dropped_and_counted(client, site, store, flush):
    response = post_batch(client, site["site"], [
        {"type": "pageview", "eid": "spam", "ref": "https://www.0-0.fr/offer"},
        {"type": "pageview", "eid": "real", "ref": "https://www.ecosia.org/search?q=alps"}])
    assert response.status_code == 202 and response.get_json() == {"accepted": 1}
    assert client.get(f"/p.gif?site={site['site']}&ref=https://1-best-seo.com/").status_code == 200
    flush()
    assert [(r["event_id"], r["channel"], r["source"]) for r in rows(store, site["site"])] == [
        ("real", "organic_search", "Ecosia")]
    assert client.get("/healthz").get_json()["dropped"] == {"referrer_spam_dropped": 2}


@pytest.mark.single_node
@pytest.mark.parametrize("body, status, field", [
    ("{not json", 400, "body"),
    ("[1, 2]", 400, "body"),
    (json.dumps({"events": [{"type": "pageview"}]}), 400, "site"),
    (json.dumps({"site": "x"}), 400, "events"),
    (json.dumps({"site": "x", "events": []}), 400, "events"),
    (json.dumps({"site": "x", "events": [{"type": "Page View"}]}), 400, "events.0.type"),
    (json.dumps({"site": "x", "events": [{"url": "javascript:alert(1)"}]}), 400, "events.0.url"),
    (json.dumps({"site": "x", "events": [{"ts": "yesterday"}]}), 400, "events.0.ts"),
    (json.dumps({"site": "x", "events": [{"props": {"k": {"nested": 1}}}]}), 400, "events.0.props"),
    (json.dumps({"site": "x", "events": [{"props": {f"k{i}": i for i in range(51)}}]}), 400, "events.0.props"),
    (json.dumps({"site": "x", "events": [{"name": "n" * 301}]}), 400, "events.0.name"),
    (json.dumps({"site": "x", "events": [{"typo_field": 1}]}), 400, "events.0.typo_field"),
    (json.dumps({"site": "x", "events": [{"type": "pageview"}] * 101}), 413, "events"),
])
def test_collect_names_what_is_wrong(client, body, status, field):
    response = client.post("/collect", data=body, content_type="text/plain")
    assert response.status_code == status
    payload = response.get_json()
    assert payload["error"] and any(name.startswith(field) for name in payload["fields"]), payload


@pytest.mark.single_node
def test_an_unpaired_surrogate_escape_is_refused_not_a_crash(client, site, store, flush):
    """json.loads turns "\\ud800" into a lone surrogate, which no UTF-8 store can hold; a pair
    (an escaped emoji) is ordinary text."""
    body = '{"site": "%s", "vid": "v", "events": [{"name": "a\\ud800b"}]}' % site["site"]
    response = client.post("/collect", data=body, content_type="text/plain")
    assert response.status_code == 400 and response.get_json()["fields"] == {"body": "unpaired surrogate"}
    pair = '{"site": "%s", "vid": "v", "events": [{"name": "\\ud83d\\ude00"}]}' % site["site"]
    assert client.post("/collect", data=pair, content_type="text/plain").status_code == 202
    flush()
    assert [r["name"] for r in rows(store, site["site"])] == ["\U0001f600"]


@pytest.mark.single_node
def test_collect_refuses_an_oversized_body(client, site):
    response = client.post("/collect", data="x" * 300_000, content_type="text/plain")
    assert response.status_code == 413
    assert "error" in response.get_json()


@pytest.mark.single_node
def test_unknown_site_is_not_recorded(client, store, site, flush):
    response = post_batch(client, "s_nosuchsite", [{"type": "pageview"}])
    assert response.status_code == 404 and response.get_json()["fields"] == {"site": "unknown"}


@pytest.mark.single_node
def test_a_page_on_another_domain_is_refused(client, site, store, flush):
    response = post_batch(client, site["site"], [{"url": "https://evil.example.net/"}])
    assert response.status_code == 403 and "events.0.url" in response.get_json()["fields"]
    assert post_batch(client, site["site"], [{"url": "https://www.example.com/"}]).status_code == 202
    assert post_batch(client, site["site"], [{"url": "https://shop.example.com/"}]).status_code == 202


@pytest.mark.single_node
def test_browsers_may_not_set_server_fields(client, site):
    response = post_batch(client, site["site"], [{"type": "pageview", "channel": "paid", "ua": "x"}])
    assert response.status_code == 400
    assert set(response.get_json()["fields"]) == {"events.0.channel", "events.0.ua"}


@pytest.mark.single_node
def test_cors_preflight(client):
    response = client.open("/collect", method="OPTIONS", headers={
        "Origin": "https://example.com", "Access-Control-Request-Method": "POST"})
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "POST" in response.headers["Access-Control-Allow-Methods"]


def test_public_times_out_of_range_become_arrival_time(client, site, store, flush):
    week_ago = int((time.time() - 7 * 86400) * 1000)
    post_batch(client, site["site"], [{"type": "pageview", "eid": "old", "ts": week_ago}])
    flush()
    [row] = rows(store, site["site"])
    assert abs(row["event_time"] - time.time()) < 60


def test_pixel_records_an_email_open(client, site, store, flush):
    response = client.get(f"/p.gif?site={site['site']}&type=email_open&uid=u-42&utm_source=newsletter"
                          f"&utm_campaign=autumn&eid=open-1&p.variant=B")
    assert response.status_code == 200 and response.data == GIF
    assert response.mimetype == "image/gif" and "no-store" in response.headers["Cache-Control"]
    assert "X-Tracker-Error" not in response.headers
    flush()
    [row] = rows(store, site["site"])
    assert (row["type"], row["user_id"], row["visitor_id"], row["channel"]) == ("email_open", "u-42", "u:u-42", "email")
    assert (row["utm_source"], row["utm_campaign"]) == ("newsletter", "autumn")
    assert dict(zip(row["prop_keys"], row["prop_values"])) == {"variant": "B"}


@pytest.mark.single_node
@pytest.mark.parametrize("query, reason", [
    ("", "site"),
    ("site=s_unknown", "unknown site"),
    ("site={site}&type=BAD", "type"),
    ("site={site}&url=https://evil.example.net/", "not a domain"),
    ("site={site}&ts=never", "ts"),
    ("site={site}&bogus=1", "bogus"),
])
def test_a_bad_pixel_is_still_a_gif(client, site, store, flush, query, reason):
    response = client.get("/p.gif?" + query.format(site=site["site"]))
    assert response.status_code == 200 and response.data == GIF and response.mimetype == "image/gif"
    assert reason in response.headers["X-Tracker-Error"]
    flush()
    assert rows(store, site["site"]) == []


@pytest.mark.single_node
def test_server_api_needs_the_site_secret(client, site):
    body = {"site": site["site"], "events": [{"type": "purchase", "uid": "u1"}]}
    assert client.post("/api/v1/touchpoints", json=body).status_code == 401
    wrong = client.post("/api/v1/touchpoints", json=body, headers={"Authorization": "Bearer sk_wrong"})
    assert wrong.status_code == 401 and "error" in wrong.get_json()


@pytest.mark.single_node
def test_server_api_refuses_another_sites_key(client, site):
    response = client.post("/api/v1/touchpoints", json={"site": "s_other", "events": [{"uid": "u1"}]},
                           headers={"Authorization": "Bearer " + site["secret"]})
    assert response.status_code == 403


@pytest.mark.single_node
def test_server_api_needs_someone_to_attach_to(client, site):
    response = client.post("/api/v1/touchpoints", json={"site": site["site"], "events": [{"type": "purchase"}]},
                           headers={"Authorization": "Bearer " + site["secret"]})
    assert response.status_code == 400 and response.get_json()["fields"] == {"events.0": "needs uid or vid"}


def test_server_api_records_offline_touchpoints_with_their_own_time(client, site, store, flush):
    when = "2025-03-01T09:30:00Z"
    response = client.post("/api/v1/touchpoints", headers={"Authorization": "Bearer " + site["secret"]}, json={
        "site": site["site"], "events": [
            {"type": "offline", "name": "call centre", "uid": "u-9", "ts": when, "eid": "call-1"},
            {"type": "purchase", "uid": "u-9", "ts": when, "props": {"amount": 1299.5},
             "ua": CHROME, "channel": "paid"}]})
    assert response.status_code == 202 and response.get_json() == {"accepted": 2}
    flush()
    found = rows(store, site["site"])
    assert [r["event_time"] for r in found] == [1740821400, 1740821400]
    by_type = {r["type"]: r for r in found}
    assert by_type["offline"]["channel"] == "offline" and by_type["offline"]["device"] == "server"
    assert by_type["purchase"]["channel"] == "paid" and by_type["purchase"]["browser"] == "Chrome"



def test_the_server_api_names_the_channels_that_enrichment_assigns():
    from tracker.ingest.channels import CHANNELS
    from tracker.ingest.schemas import EventSchema

    [one_of] = EventSchema().fields["channel"].validators
    assert tuple(one_of.choices) == ("", *CHANNELS)
