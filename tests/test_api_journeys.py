"""The analytics API over real ingest: auth, definitions, funnel, people, person page, search."""
import time

import pytest

from helpers import post_batch, send
from tracker import access
from tracker.store.sites import create_token, revoke_token

DAY = 86_400_000
NOW = int(time.time() * 1000)
T0 = NOW - 10 * DAY

BOOKING = {
    "name": "Booking",
    "window_days": 7,
    "stall_after_days": 3,
    "stages": [
        {"name": "discover", "match": {"type": "pageview", "path": "/destinations/*"}},
        {"name": "compare", "match": {"type": "pageview", "path": "/compare"}},
        {"name": "book", "match": {"type": "purchase"}},
    ],
}


def auth(token):
    return {"Authorization": f"Bearer {token}"}


def page(vid, path, ts, **extra):
    return dict({"type": "pageview", "url": f"https://example.com{path}", "ts": ts, "vid": vid}, **extra)


@pytest.fixture
def journey(client, site, token):
    response = client.put(f"/api/v1/sites/{site['site']}/journeys/booking", json=BOOKING, headers=auth(token))
    assert response.status_code == 201, response.json
    return "booking"


@pytest.fixture
def story(client, site, flush):
    """Ann converts on two devices and identifies after booking; Bob drops; Cy is in progress."""
    send(client, site, [
        page("ann-phone", "/destinations/rome", T0, utm_source="newsletter", channel="email"),
        page("ann-laptop", "/compare", T0 + 3600_000),
        {"type": "purchase", "vid": "ann-laptop", "ts": T0 + 7200_000, "name": "order"},
        {"type": "identify", "vid": "ann-laptop", "uid": "ann", "ts": T0 + 8000_000,
         "traits": {"email": "ann@example.org", "name": "Ann Arbor", "company": "Acme Travel"}},
        {"type": "identify", "vid": "ann-phone", "uid": "ann", "ts": T0 + 9000_000},
        page("bob", "/destinations/oslo", T0),
        page("bob", "/compare", T0 + 1000),
        page("cy", "/destinations/nice", NOW - DAY),
        {"type": "pageview", "url": "https://example.com/destinations/x", "vid": "robot", "ts": T0,
         "ua": "Googlebot/2.1"},
    ])
    flush()


@pytest.mark.single_node
def test_auth_required(client, site):
    base = f"/api/v1/sites/{site['site']}"
    for path in ("/journeys", "/journeys/x", "/journeys/x/funnel", "/journeys/x/people", "/people?q=ab",
                 "/people/ann"):
        assert client.get(base + path).status_code == 401
        assert client.get(base + path, headers=auth("tk_wrong")).status_code == 401
    assert client.put(base + "/journeys/x", json=BOOKING).status_code == 401


@pytest.mark.single_node
def test_token_of_another_site_gets_403(client, site, store):
    other = create_token(store, "other", ["s_other"])["token"]
    response = client.get(f"/api/v1/sites/{site['site']}/journeys", headers=auth(other))
    assert response.status_code == 403
    assert "error" in response.json


@pytest.mark.single_node
def test_an_empty_site_list_is_no_site_and_a_revoked_token_stops_at_once(client, site, store):
    journeys = f"/api/v1/sites/{site['site']}/journeys"
    nothing = create_token(store, "nothing", [])["token"]
    assert client.get(journeys, headers=auth(nothing)).status_code == 403
    every = create_token(store, "every")  # ["*"]: every site
    assert client.get(journeys, headers=auth(every["token"])).status_code == 200
    assert revoke_token(store, every["id"])
    time.sleep(access.CACHE_SECONDS + 0.1)
    assert client.get(journeys, headers=auth(every["token"])).status_code == 401


def test_definition_crud(client, site, token, journey):
    base = f"/api/v1/sites/{site['site']}/journeys"
    got = client.get(f"{base}/booking", headers=auth(token)).json
    assert got["stages"][0]["match"]["path"] == "/destinations/*" and got["order"] == "ordered"
    changed = dict(BOOKING, name="Booking v2", order="strict")
    assert client.put(f"{base}/booking", json=changed, headers=auth(token)).status_code == 200
    listed = client.get(base, headers=auth(token)).json["journeys"]
    assert [(j["id"], j["name"], j["order"]) for j in listed] == [("booking", "Booking v2", "strict")]
    assert client.delete(f"{base}/booking", headers=auth(token)).status_code == 204
    assert client.get(f"{base}/booking", headers=auth(token)).status_code == 404
    assert client.delete(f"{base}/booking", headers=auth(token)).status_code == 404
    assert client.get(base, headers=auth(token)).json["journeys"] == []


@pytest.mark.single_node
@pytest.mark.parametrize("change, field", [
    ({"stages": [{"name": "a", "match": {"type": "pageview"}}, {"name": "b", "match": {"type": "x"}},
                 {"name": "c", "match": {"path": "/a b"}}]}, "stages.2.match.path"),
    ({"stages": [{"name": "a", "match": {}}]}, "stages.0.match"),
    ({"stages": [{"name": "a", "match": {"colour": "red"}}]}, "stages.0.match.colour"),
    ({"stages": [{"match": {"type": "x"}}]}, "stages.0.name"),
    ({"stages": [{"name": str(i), "match": {"type": "x"}} for i in range(21)]}, "stages"),
    ({"stages": []}, "stages"),
    ({"order": "random"}, "order"),
    ({"window_days": 0}, "window_days"),
    ({"exclude": [{"name": ""}]}, "exclude.0.name"),
    ({"stages": [{"name": "a", "match": {"props": {"plan": 3}}}]}, "stages.0.match.props"),
    ({"order": "any", "stages": [{"name": str(i), "match": {"type": "x"}} for i in range(9)]}, "stages"),
])
def test_bad_definition_names_stage_and_field(client, site, token, change, field):
    response = client.put(f"/api/v1/sites/{site['site']}/journeys/j1", json=dict(BOOKING, **change),
                          headers=auth(token))
    assert response.status_code == 400
    assert any(key == field or key.startswith(field + ".") for key in response.json["fields"]), response.json


@pytest.mark.single_node
def test_bad_body_and_id(client, site, token):
    base = f"/api/v1/sites/{site['site']}/journeys"
    assert client.put(f"{base}/j1", data="nope", headers=auth(token)).status_code == 400
    assert client.put(f"{base}/bad%20id", json=BOOKING, headers=auth(token)).json["fields"] == {
        "id": "letters, digits, '_', '.', '-'; at most 64"}


def test_funnel_over_real_ingest(client, site, token, journey, story):
    response = client.get(f"/api/v1/sites/{site['site']}/journeys/booking/funnel", headers=auth(token))
    assert response.status_code == 200, response.json
    body = response.json
    assert body["people"] == 3  # ann (two devices, one person), bob, cy; the bot is left out
    discover, compare, book = body["stages"]
    assert (discover["reached"], compare["reached"], book["reached"]) == (3, 2, 1)
    assert discover["in_progress"] == 1 and discover["dropped"] == 0  # cy: window still open
    assert compare["dropped"] == 1 and compare["in_progress"] == 0  # bob: window closed
    assert compare["conversion_from_previous"] == pytest.approx(2 / 3, abs=1e-3)
    assert book["conversion_from_start"] == pytest.approx(1 / 3, abs=1e-3)
    assert book["median_seconds_from_previous"] == 3600 and book["median_seconds_from_start"] == 7200
    assert compare["median_seconds_from_previous"] in (1, 3600)


def test_funnel_breakdown_and_range(client, site, token, journey, story):
    base = f"/api/v1/sites/{site['site']}/journeys/booking/funnel"
    body = client.get(base + "?breakdown=utm_source", headers=auth(token)).json
    by_value = {row["value"]: row["people"] for row in body["breakdown"]}
    assert by_value == {"newsletter": 1, "": 2}
    first = client.get(base + "?breakdown=first_touch_channel", headers=auth(token)).json
    assert {row["value"]: row["people"] for row in first["breakdown"]}["email"] == 1
    # The range bounds entry only: Ann's later stages count although outside the range.
    day = time.strftime("%Y-%m-%d", time.gmtime(T0 / 1000))
    ranged = client.get(f"{base}?from={day}&to={day}", headers=auth(token)).json
    assert ranged["people"] == 2 and ranged["stages"][2]["reached"] == 1
    bad = client.get(base + "?breakdown=ip_hash", headers=auth(token))
    assert bad.status_code == 400 and "breakdown" in bad.json["fields"]
    assert client.get(base + "?from=yesterday", headers=auth(token)).json["fields"].keys() == {"from"}


def test_people_list_with_cursor(client, site, token, journey, story):
    base = f"/api/v1/sites/{site['site']}/journeys/booking/people"
    first = client.get(base + "?status=reached&stage=1&limit=2", headers=auth(token)).json
    assert [p["person"] for p in first["people"]] == ["cy", "ann"]  # newest last touchpoint first
    assert first["people"][1]["traits"]["email"] == "ann@example.org"
    rest = client.get(f"{base}?status=reached&stage=1&limit=2&cursor={first['next_cursor']}",
                      headers=auth(token)).json
    assert [p["person"] for p in rest["people"]] == ["bob"] and rest["next_cursor"] is None
    dropped = client.get(base + "?status=dropped&stage=2", headers=auth(token)).json["people"]
    assert [(p["person"], p["stage"], p["stage_name"]) for p in dropped] == [("bob", 2, "compare")]
    progress = client.get(base + "?status=in_progress", headers=auth(token)).json["people"]
    assert [p["person"] for p in progress] == ["cy"]
    stalled = client.get(base + "?status=stalled", headers=auth(token)).json["people"]
    assert [p["person"] for p in stalled] == ["bob"]
    assert client.get(base + "?cursor=zzz", headers=auth(token)).status_code == 400
    assert client.get(base + "?stage=9", headers=auth(token)).json["fields"] == {"stage": "must be between 1 and 3"}


def test_funnel_by_country_and_source(app, client, site, token, journey, flush):
    """Entries through the browser: country from the address, source from the referrer."""
    app.config["TRACKER"]["trust_proxy"] = True
    for vid, ip, ref in (("uk-1", "81.2.69.160", "https://www.ecosia.org/"), ("uk-2", "81.2.69.161", ""),
                         ("ie-1", "2a00:1450:4001::1", "https://chatgpt.com/")):
        post_batch(client, site["site"], [{"type": "pageview", "url": "https://example.com/destinations/rome",
                                           "ref": ref}], vid=vid, headers={"X-Forwarded-For": ip})
    flush()
    base = f"/api/v1/sites/{site['site']}/journeys/booking/funnel?breakdown="
    by_country = client.get(base + "country", headers=auth(token)).json["breakdown"]
    assert {row["value"]: row["people"] for row in by_country} == {"GB": 2, "IE": 1}
    by_source = client.get(base + "source", headers=auth(token)).json["breakdown"]
    assert {row["value"]: row["people"] for row in by_source} == {"Ecosia": 1, "": 1, "ChatGPT": 1}


def test_person_page(client, site, token, journey, story):
    body = client.get(f"/api/v1/sites/{site['site']}/people/ann", headers=auth(token)).json
    assert body["traits"]["company"] == "Acme Travel"
    assert body["visitor_ids"] == ["ann-laptop", "ann-phone"]
    [booking] = body["journeys"]
    assert booking["stage"] == 3 and booking["stage_name"] == "book" and booking["status"] == "completed"
    assert [s["reached_ms"] for s in booking["stages"]] == [T0, T0 + 3600_000, T0 + 7200_000]
    times = [t["time_ms"] for s in body["sessions"] for t in s["touchpoints"]]
    assert times == sorted(times) and len(times) == 5
    assert body["sessions"][0]["channel"] == "email"
    assert client.get(f"/api/v1/sites/{site['site']}/people/nobody", headers=auth(token)).status_code == 404


def test_search(client, site, token, story):
    base = f"/api/v1/sites/{site['site']}/people?q="
    for text in ("ann@example", "ARBOR", "acme", "ann"):
        found = client.get(base + text, headers=auth(token)).json["people"]
        assert [p["person"] for p in found] == ["ann"], text
    assert client.get(base + "zzz", headers=auth(token)).json["people"] == []
    assert client.get(base + "a", headers=auth(token)).status_code == 400
