"""The journey pages through the Flask client: funnel, breakdown, comparison, drop-off lists,
CSV export, the editor's preview and its messages for a bad rule, prospects. Both backends."""
import csv
import io
import json
import re
import time

import pytest

from helpers import send
from test_dashboards import HOSTILE, csrf_of, logged_in, login, user  # noqa: F401  (fixtures)
from tracker.journeys import definitions

DAY = 86400

TRIAL = {
    "name": "Trial to paid",
    "window_days": 7,
    "stall_after_days": 3,
    "stages": [
        {"name": "Pricing", "match": {"type": "pageview", "path": "/pricing"}},
        {"name": "Sign up", "match": {"type": "signup"}},
        {"name": "Purchase", "match": {"type": "purchase"}},
    ],
}


@pytest.fixture
def journey(store, site):
    """The 'trial' journey of three stages on ``site``."""
    definitions.save(store, site["site"], "trial", definitions.validate_definition(TRIAL))
    return "trial"


def seed_people(client, site, flush, now=None):
    """ann converts (email campaign), bob dropped after sign-up 20 days ago, cy is in progress
    (mobile), =evil has a hostile name and a formula-like id."""
    now = now or int(time.time())
    pricing = "https://example.com/pricing"

    def at(days_ago, seconds=0):
        return (now - int(days_ago * DAY) + seconds) * 1000

    send(client, site, [
        {"type": "identify", "vid": "va", "uid": "ann", "ts": at(3), "eid": "a0",
         "traits": {"email": "ann@acme.example", "name": "Ann Archer", "company": "Acme"}},
        {"type": "pageview", "vid": "va", "url": pricing + "?utm_source=news&utm_medium=email&utm_campaign=spring",
         "ts": at(3, 1), "eid": "a1"},
        {"type": "signup", "uid": "ann", "ts": at(2), "eid": "a2"},
        {"type": "purchase", "uid": "ann", "ts": at(1), "eid": "a3"},
        {"type": "pageview", "uid": "bob", "url": pricing, "ts": at(20), "eid": "b1",
         "traits": {"email": "bob@bobco.example", "name": "Bob Baker"}},
        {"type": "signup", "uid": "bob", "ts": at(19), "eid": "b2"},
        {"type": "pageview", "uid": "cy", "url": pricing, "ts": at(1), "eid": "c1",
         "ua": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148"},
        {"type": "pageview", "uid": "=evil", "name": HOSTILE, "url": pricing, "ts": at(2), "eid": "e1",
         "traits": {"name": HOSTILE}},
    ])
    flush()


@pytest.fixture
def seeded(client, site, flush, journey):
    seed_people(client, site, flush)
    return site


def test_journey_list_and_funnel(logged_in, seeded):
    base = f"/dashboard/{seeded['site']}/journeys/"
    assert "Trial to paid" in logged_in.get(base).get_data(as_text=True)
    page = logged_in.get(base + "trial/")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and 'id="funnel-data"' in html
    data = re.search(r'id="funnel-data">(.*?)</script>', html, re.S).group(1)
    chart = json.loads(data)
    assert chart["labels"] == ["Pricing", "Sign up", "Purchase"]
    assert chart["reached"] == [4, 2, 1] and chart["dropped"] == [0, 1, 0]
    assert chart["drop_links"][0].startswith(f"/dashboard/{seeded['site']}/journeys/trial/people?")
    assert "<img src=x" not in html


def test_breakdown_and_previous_period(logged_in, seeded):
    today = time.strftime("%Y-%m-%d", time.gmtime())
    ten_ago = time.strftime("%Y-%m-%d", time.gmtime(time.time() - 10 * DAY))
    html = logged_in.get(f"/dashboard/{seeded['site']}/journeys/trial/?from={ten_ago}&to={today}"
                         f"&breakdown=utm_campaign&compare=1").get_data(as_text=True)
    assert "By campaign" in html and "spring" in html
    assert "Previous period" in html
    html = logged_in.get(f"/dashboard/{seeded['site']}/journeys/trial/?breakdown=device&compare=0").get_data(as_text=True)
    assert "By device" in html and "mobile" in html and "Previous period" not in html


def test_drop_off_list_and_csv(logged_in, seeded):
    first = time.strftime("%Y-%m-%d", time.gmtime(time.time() - 29 * DAY))
    url = f"/dashboard/{seeded['site']}/journeys/trial/people?stage=2&status=dropped&from={first}"
    html = logged_in.get(url).get_data(as_text=True)
    assert "Ann" not in html
    # Who (name, email, the user id), and the times that say where they stand: Bob signed up
    # 19 days ago and has not been seen since; his 7-day window closed 13 days ago.
    assert "Bob Baker" in html and "bob@bobco.example" in html and "<small>bob</small>" in html
    assert "19 days<br><small class=\"when\">since " in html and "19 days ago" in html and "window closed " in html
    export = logged_in.get(url + "&format=csv")
    assert export.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(export.get_data(as_text=True))))
    assert [r["person"] for r in rows] == ["bob"] and rows[0]["status"] == "dropped"
    entered, reached = (time.mktime(time.strptime(rows[0][k], "%Y-%m-%d %H:%M:%S"))
                        for k in ("entered_utc", "stage_reached_utc"))
    assert reached - entered == DAY
    reached = logged_in.get(f"/dashboard/{seeded['site']}/journeys/trial/people?stage=1&status=reached&from={first}")
    assert "Ann Archer" in reached.get_data(as_text=True) and '<td class="wrap">Acme</td>' in reached.get_data(as_text=True)
    everyone = logged_in.get(f"/dashboard/{seeded['site']}/journeys/trial/people?stage=1&status=reached"
                             f"&from={first}&format=csv").get_data(as_text=True)
    assert "'=evil" in everyone  # a formula-like cell is defused
    assert logged_in.get(url.replace("stage=2", "stage=9")).status_code == 400


def form_for(html, **fields):
    """The editor's form fields as the browser would post them."""
    data = {"csrf_token": csrf_of(html), "name": "Trial to paid", "window_value": "7", "window_unit": "day",
            "stall_after_days": "3",
            "order": "ordered", "description": ""}
    data.update(fields)
    return data


def test_editor_preview_save_and_bad_rule(logged_in, seeded, store):
    site = seeded["site"]
    html = logged_in.get(f"/dashboard/{site}/journeys/new").get_data(as_text=True)
    stages = {"stage_label": ["Pricing", "Bought"], "stage_type": ["pageview", "purchase"],
              "stage_path": ["/pricing", ""], "stage_name": ["", ""], "stage_channel": ["", ""],
              "stage_utm_source": ["", ""], "stage_utm_medium": ["", ""], "stage_utm_campaign": ["", ""],
              "stage_props": ["", ""]}
    preview = logged_in.post(f"/dashboard/{site}/journeys/new",
                             data=form_for(html, id="quick", action="preview", **stages))
    text = preview.get_data(as_text=True)
    assert preview.status_code == 200 and "Preview" in text and "not saved yet" in text
    assert definitions.get(store, site, "quick") is None
    bad = dict(stages, stage_path=["/pri cing", ""], stage_props=["", "plan"])
    refused = logged_in.post(f"/dashboard/{site}/journeys/new", data=form_for(html, id="quick", action="save", **bad))
    text = refused.get_data(as_text=True)
    assert refused.status_code == 400
    assert "Stage 2 “Bought”, Properties: write properties as key=value" in text
    empty = dict(stages, stage_type=["pageview", ""])
    refused = logged_in.post(f"/dashboard/{site}/journeys/new", data=form_for(html, id="quick", action="save", **empty))
    assert "Stage 2 “Bought”, rule: give at least one of" in refused.get_data(as_text=True)
    saved = logged_in.post(f"/dashboard/{site}/journeys/new", data=form_for(html, id="quick", action="save", **stages))
    assert saved.status_code == 302 and saved.headers["Location"].endswith("/journeys/quick/")
    assert [s["name"] for s in definitions.get(store, site, "quick")["stages"]] == ["Pricing", "Bought"]
    edit = logged_in.get(f"/dashboard/{site}/journeys/quick/edit").get_data(as_text=True)
    assert 'value="Bought"' in edit and "Journey state: waiting for the journey worker" in edit
    minutes = logged_in.post(f"/dashboard/{site}/journeys/quick/edit",
                             data=form_for(edit, action="save", window_value="15", window_unit="minute", **stages))
    assert minutes.status_code == 302
    assert definitions.get(store, site, "quick")["window"] == {"value": 15, "unit": "minute"}
    too_long = logged_in.post(f"/dashboard/{site}/journeys/quick/edit",
                              data=form_for(edit, action="save", window_value="1441", window_unit="minute", **stages))
    assert too_long.status_code == 400 and "Window" in too_long.get_data(as_text=True)


def test_journey_pages_need_the_site(logged_in, store, journey):
    from tracker.store.sites import create_site

    other = create_site(store, "Other", ["other.example"])
    definitions.save(store, other["site"], "trial", definitions.validate_definition(TRIAL))
    assert logged_in.get(f"/dashboard/{other['site']}/journeys/trial/").status_code == 403
    assert logged_in.get(f"/dashboard/{other['site']}/journeys/trial/people?stage=1&format=csv").status_code == 403


def test_search_and_prospect_page(logged_in, seeded):
    site = seeded["site"]
    one = logged_in.get(f"/dashboard/{site}/people?q=acme")
    assert one.status_code == 302 and one.headers["Location"].endswith(f"/dashboard/{site}/people/ann")
    page = logged_in.get(one.headers["Location"]).get_data(as_text=True)
    assert "Ann Archer" in page and "Stage <strong>3 of 3: Purchase</strong>" in page
    assert "completed" in page and "spring" in page and "email" in page
    several = logged_in.get(f"/dashboard/{site}/people?q=b").get_data(as_text=True)
    assert "at least 2 characters" in several
    several = logged_in.get(f"/dashboard/{site}/people?q=.example").get_data(as_text=True)
    assert "Ann Archer" in several and "Bob Baker" in several
    bob = logged_in.get(f"/dashboard/{site}/people/bob").get_data(as_text=True)
    assert "dropped" in bob and "stalled" in bob
    evil = logged_in.get(f"/dashboard/{site}/people/=evil").get_data(as_text=True)
    assert "<img src=x" not in evil and "&lt;img src=x" in evil
    assert logged_in.get(f"/dashboard/{site}/people/nobody-at-all").status_code == 404


def test_pages_read_journey_state_once_built(logged_in, seeded, store):
    from tracker.worker import JourneyWorker

    site = seeded["site"]
    funnel = logged_in.get(f"/dashboard/{site}/journeys/trial/").get_data(as_text=True)
    assert "computed from the touchpoints while the journey's state is rebuilt" in funnel
    worker = JourneyWorker(store)
    worker.run_once()
    worker.stop()
    funnel = logged_in.get(f"/dashboard/{site}/journeys/trial/").get_data(as_text=True)
    assert "rebuilt" not in funnel and ">Stalled</th>" in funnel
    bob = logged_in.get(f"/dashboard/{site}/people/bob").get_data(as_text=True)
    assert "Stage history" in bob and "<strong>dropped</strong> after" in bob
    ann = logged_in.get(f"/dashboard/{site}/people/ann").get_data(as_text=True)
    assert "<strong>completed</strong> the journey" in ann
