"""The automation pages, Recently moved, the day-0 view and the prospect page's automations,
through the Flask client, on transitions the journey worker recorded. Both backends."""
import json
import re
import time

import pytest

from helpers import send
from test_dashboards import HOSTILE, csrf_of, logged_in, user  # noqa: F401  (fixtures)
from test_automations import receiver  # noqa: F401  (fixture)
from test_dashboards_journeys import journey, seed_people  # noqa: F401  (fixture)
from tracker.automations import Automations, definitions
from tracker.worker import JourneyWorker


@pytest.fixture
def worker(store):
    made = JourneyWorker(store, automations=Automations(store, allow_private=True))
    yield made
    made.stop()


@pytest.fixture
def moved(client, site, flush, journey, worker):
    """The trial journey's people (ann converted, bob dropped, cy in progress, a hostile name),
    their transitions recorded by the worker."""
    seed_people(client, site, flush)
    worker.run_once()
    return site


def chart_of(html, name):
    return json.loads(re.search(rf'id="{name}">(.*?)</script>', html, re.S).group(1))


def test_recently_moved_newest_first_and_filtered(logged_in, moved):
    base = f"/dashboard/{moved['site']}/moved"
    html = logged_in.get(base).get_data(as_text=True)
    assert "Recently moved" in html and "Ann Archer" in html and "Bob Baker" not in html  # bob moved 19 days ago
    assert "<img src=x" not in html and "&lt;img src=x" in html
    rows = re.findall(r"<td>(\d{4}-\d\d-\d\d \d\d:\d\d UTC)</td>", html)
    assert rows and rows == sorted(rows, reverse=True)
    html = logged_in.get(base + "?journey=trial&stage=2&kind=dropped&kind=entered&days=30").get_data(as_text=True)
    assert "Bob Baker" in html and "Ann Archer" in html and "cy" not in re.findall(r'people/([^"]+)"', html)
    html = logged_in.get(base + "?journey=trial&kind=dropped&days=30").get_data(as_text=True)
    assert re.findall(r'people/([^"]+)"', html) == ["bob"]


def test_day0_view_by_week_of_entry(logged_in, moved):
    page = logged_in.get(f"/dashboard/{moved['site']}/journeys/trial/day0?stage=2")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Reached stage 2 (Sign up) by day" in html
    chart = chart_of(html, "day0-data")
    assert chart["labels"][0] == "day 0" and chart["series"]
    assert all(0 <= v <= 1 for s in chart["series"] for v in s["data"] if v is not None)
    assert "Every stage, all these weeks together" in html


def test_create_dry_run_test_and_retry_an_automation(app, logged_in, moved, receiver, client, flush, worker, store):
    site = moved["site"]
    base = f"/dashboard/{site}/journeys/trial/automations"
    html = logged_in.get(base).get_data(as_text=True)
    assert "No automations yet" in html and "3. Purchase" in html
    form = {"csrf_token": csrf_of(html), "name": "Welcome", "trigger": "entered", "stage": "2", "days": "3",
            "url": receiver.url, "reentry": "once_per_run", "action": "dry_run"}
    refused = logged_in.post(base, data=form)
    assert refused.status_code == 400 and "Webhook URL:" in refused.get_data(as_text=True)  # 127.0.0.1
    app.config["TRACKER"]["webhook_allow_private"] = True
    preview = logged_in.post(base, data=form).get_data(as_text=True)
    assert "Would have fired for <strong>2 people</strong> in the last 30 days" in preview
    created = logged_in.post(base, data=dict(form, action="save", stage="1", enabled="on"))
    html = created.get_data(as_text=True)
    assert created.status_code == 201 and "Signing secret (shown once)" in html
    receiver.secret = re.search(r'value="(whsec_[^"]+)"', html).group(1)
    [automation] = definitions.list_all(store, site, "trial")
    assert automation["id"] == "welcome" and automation["enabled"]
    page = f"/dashboard/{site}/automations/welcome"
    tested = logged_in.post(page, data={"csrf_token": csrf_of(html), "action": "test"}, follow_redirects=True)
    assert "the receiver answered 200" in tested.get_data(as_text=True) and receiver.received[-1]["verified"]
    send(client, moved, [{"type": "pageview", "uid": "dee", "url": "https://example.com/pricing",
                          "ts": int(time.time() * 1000) + 500, "eid": "d1", "traits": {"name": HOSTILE}}])
    flush()
    time.sleep(0.6)
    worker.run_once()
    assert [d["data"]["data"]["person"]["id"] for d in receiver.received[1:]] == ["dee"]
    html = logged_in.get(page).get_data(as_text=True)
    assert "<em>test</em>" in html and "people/dee" in html and "delivered" in html
    retry = re.search(r'action="(/dashboard/[^"]+/retry)"', html).group(1)
    assert logged_in.post(retry, data={"csrf_token": csrf_of(html)}).status_code == 302
    prospect = logged_in.get(f"/dashboard/{site}/people/dee").get_data(as_text=True)
    assert "Automations that fired" in prospect and "Welcome" in prospect and "<img src=x" not in prospect


def test_edit_disable_and_delete_an_automation(app, logged_in, moved, receiver, store):
    site = moved["site"]
    app.config["TRACKER"]["webhook_allow_private"] = True
    body = {"name": "Nudge", "journey": "trial", "when": {"stalled_at": 2}, "webhook": {"url": receiver.url},
            "enabled": True}
    loaded, _ = definitions.checked(store, site, body, allow_private=True)
    definitions.save(store, site, "nudge", loaded)
    page = f"/dashboard/{site}/automations/nudge"
    html = logged_in.get(page).get_data(as_text=True)
    assert "When a person stalls at stage 2 (Sign up)" in html and "Would have fired for" in html
    csrf = csrf_of(html)
    edited = logged_in.post(page, data={"csrf_token": csrf, "action": "save", "name": "Nudge later",
                                        "trigger": "days_after", "stage": "1", "days": "x", "url": receiver.url,
                                        "reentry": "once_per_run", "enabled": "on"})
    assert edited.status_code == 400 and "Days:" in edited.get_data(as_text=True)
    logged_in.post(page, data={"csrf_token": csrf, "action": "save", "name": "Nudge later", "trigger": "days_after",
                               "stage": "1", "days": "7", "url": receiver.url, "reentry": "once_per_run",
                               "enabled": "on", "traits": "plan=pro"})
    found = definitions.get(store, site, "nudge")["definition"]
    assert found["when"] == {"days_after": 7, "stage": 1} and found["filter"] == {"traits": {"plan": "pro"}}
    logged_in.post(page, data={"csrf_token": csrf, "action": "disable"})
    assert not definitions.get(store, site, "nudge")["enabled"]
    gone = logged_in.post(page, data={"csrf_token": csrf, "action": "delete"})
    assert gone.status_code == 302 and definitions.get(store, site, "nudge") is None
