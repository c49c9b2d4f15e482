"""Visits are read from event times and the sender's session ids, whatever order, batch or
worker the touchpoints came through; a touchpoint with no source of its own counts under its
visit's channel, and only within that visit."""
import random
import re
import time

from helpers import send
from test_api_journeys import auth

DAY = 86_400_000
MIN = 60_000
T0 = int(time.time() * 1000) - 30 * DAY


def visits(client, site, token, person):
    body = client.get(f"/api/v1/sites/{site['site']}/people/{person}", headers=auth(token)).json
    return [[t["time_ms"] - T0 for t in visit["touchpoints"]] for visit in body["sessions"]], body


def test_touchpoints_sent_in_any_order_split_into_visits_by_event_time(client, site, token, flush):
    offsets = [0, 10 * MIN, 25 * MIN, 3 * DAY, 3 * DAY + 5 * MIN, 17 * DAY]
    events = [{"type": "offline", "name": f"call {i}", "uid": "carla", "ts": T0 + offset}
              for i, offset in enumerate(offsets)]
    random.Random(4).shuffle(events)
    for event in events:  # one batch each, the latest first or wherever the shuffle put it
        send(client, site, [event])
    flush()
    found, _ = visits(client, site, token, "carla")
    assert found == [offsets[:3], offsets[3:5], offsets[5:]]


def test_an_email_open_does_not_claim_page_views_days_later(client, site, token, flush):
    """The demo's cust-02979: an email open, then 17 days later page views inside the site."""
    send(client, site, [
        {"type": "email_open", "uid": "dora", "ts": T0, "utm_campaign": "welcome"},
        {"type": "pageview", "uid": "dora", "vid": "dora-laptop", "ts": T0 + 17 * DAY,
         "url": "https://example.com/compare", "ref": "https://example.com/"},
    ])
    flush()
    found, body = visits(client, site, token, "dora")
    assert found == [[0], [17 * DAY]]
    assert [v["channel"] for v in body["sessions"]] == ["email", "direct"]


def test_a_page_view_inside_a_visit_counts_under_the_visits_channel(client, site, token, flush):
    """The landing page came from a search engine; the next page and the download inside the
    same session id have no source of their own, and count as organic search from Google, in a
    stage rule and in the breakdowns. Another visit of the same browser a day later does not."""
    landing = {"type": "pageview", "vid": "eva", "sid": "visit-1", "ts": T0,
               "url": "https://example.com/trips", "ref": "https://www.google.com/"}
    inside = [{"type": "pageview", "vid": "eva", "sid": "visit-1", "ts": T0 + MIN,
               "url": "https://example.com/compare", "ref": "https://example.com/trips"},
              {"type": "event", "name": "guide", "vid": "eva", "sid": "visit-1", "ts": T0 + 2 * MIN,
               "url": "https://example.com/compare"}]
    later = {"type": "event", "name": "guide", "vid": "eva", "sid": "visit-2", "ts": T0 + DAY,
             "url": "https://example.com/compare"}
    send(client, site, [later] + inside)  # the landing page arrives last
    send(client, site, [landing])
    flush()
    journey = {"name": "Guide", "window_days": 1, "stages": [
        {"name": "guide from search", "match": {"name": "guide", "channel": "organic_search"}}]}
    base = f"/api/v1/sites/{site['site']}/journeys/guide"
    assert client.put(base, json=journey, headers=auth(token)).status_code == 201
    funnel = client.get(f"{base}/funnel?from=2000-01-01&breakdown=channel", headers=auth(token)).json
    assert funnel["stages"][0]["reached"] == 1
    assert [(b["value"], b["people"]) for b in funnel["breakdown"]] == [("organic_search", 1)]
    # A journey whose rules do not name the channel: the source breakdown still reads the visit.
    compare = {"name": "Compare", "window_days": 1, "stages": [
        {"name": "compare", "match": {"type": "pageview", "path": "/compare"}}]}
    assert client.put(f"{base}-compare", json=compare, headers=auth(token)).status_code == 201
    by_source = client.get(f"{base}-compare/funnel?from=2000-01-01&breakdown=source", headers=auth(token)).json
    assert [(b["value"], b["people"]) for b in by_source["breakdown"]] == [("Google", 1)]
    _, body = visits(client, site, token, "eva")
    origins = [[(t["channel"], t["source"]) for t in v["touchpoints"]] for v in body["sessions"]]
    assert origins == [[("organic_search", "Google")] * 3, [("direct", "")]]
    assert [v["referrer_source"] for v in body["sessions"]] == ["Google", ""]


def test_the_prospect_page_lists_visits_newest_first(app, client, site, flush):
    from tracker.store.accounts import create_user

    send(client, site, [{"type": "offline", "uid": "finn", "ts": T0 + offset, "name": f"n{offset}"}
                        for offset in (0, 2 * DAY, 5 * DAY)])
    flush()
    create_user(app.extensions["store"], "rep@example.org", "a long password", [site["site"]])
    page = client.get("/dashboard/login")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    client.post("/dashboard/login", data={"email": "rep@example.org", "password": "a long password",
                                          "csrf_token": csrf})
    html = client.get(f"/dashboard/{site['site']}/people/finn").get_data(as_text=True)
    starts = re.findall(r'aria-label="Session of ([^"]+)"', html)
    assert len(starts) == 3 and starts == sorted(starts, reverse=True)
