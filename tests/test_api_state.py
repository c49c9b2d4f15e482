"""The analytics API over journey state: figures from state equal the live engine, a past as_of
or a journey being rebuilt reads live and says so, the transitions list, the person's stage
history, conversion windows in PostHog's units, and the prospect search's own index."""
import pytest

from helpers import send
from test_api_journeys import BOOKING, DAY, NOW, T0, auth, journey, page, story  # noqa: F401 (fixtures)
from test_journey_worker import stop_merges
from tracker.clock import now_ms
from tracker.journeys import definitions, reports
from tracker.worker import JourneyWorker


@pytest.fixture
def worker(store):
    worker = JourneyWorker(store)
    yield worker
    worker.stop()


@pytest.fixture
def booked(site, journey, story):
    """test_api_journeys' story: Ann books on two devices, Bob drops after compare, Cy has just entered."""
    return f"/api/v1/sites/{site['site']}/journeys/booking"


def test_reads_come_from_state_once_built_and_equal_the_live_engine(client, store, site, token, booked, worker):
    before = client.get(booked + "/funnel?from=2000-01-01&breakdown=channel", headers=auth(token)).json
    assert before["source"] == "live" and before["rebuild"]["status"] == "waiting"
    assert client.get(booked, headers=auth(token)).json["state"]["status"] == "waiting"
    worker.run_once()
    assert client.get(booked, headers=auth(token)).json["state"]["status"] == "ready"
    after = client.get(booked + "/funnel?from=2000-01-01&breakdown=channel", headers=auth(token)).json
    assert after["source"] == "state" and after["state_lag_seconds"] == 0
    journey = definitions.get(store, site["site"], "booking")
    live = reports.funnel(store, journey, site["site"], after["from"], after["to"], after["as_of"], "channel")
    assert {k: after[k] for k in live} == live
    assert [s["reached"] for s in after["stages"]] == [3, 2, 1] and after["stages"][1]["stalled"] == 1
    people = client.get(booked + "/people?status=dropped&stage=2", headers=auth(token)).json
    assert people["source"] == "state" and [p["person"] for p in people["people"]] == ["bob"]
    past = client.get(booked + f"/funnel?as_of={NOW - 2 * DAY}", headers=auth(token)).json
    assert past["source"] == "live" and "past" in past["reason"]


def test_an_edited_journey_reads_live_until_rebuilt(client, store, site, token, booked, worker):
    worker.run_once()
    changed = dict(BOOKING, stages=BOOKING["stages"][:2])
    assert client.put(booked, json=changed, headers=auth(token)).status_code == 200
    during = client.get(booked + "/funnel?from=2000-01-01", headers=auth(token)).json
    assert during["source"] == "live" and len(during["stages"]) == 2
    worker.run_once()
    rebuilt = client.get(booked + "/funnel?from=2000-01-01", headers=auth(token)).json
    assert rebuilt["source"] == "state" and [s["reached"] for s in rebuilt["stages"]] == [3, 2]
    assert client.post(booked + "/rebuild", headers=auth(token)).status_code == 202
    assert client.get(booked + "/funnel", headers=auth(token)).json["source"] == "live"
    worker.run_once()
    assert client.get(booked, headers=auth(token)).json["state"]["status"] == "ready"


def test_the_transitions_list(client, site, token, booked, worker):
    worker.run_once()
    body = client.get(booked + "/transitions?since=2000-01-01&limit=3", headers=auth(token)).json
    moved = body["transitions"]
    assert len(moved) == 3 and [t["at"] for t in moved] == sorted((t["at"] for t in moved), reverse=True)
    rest = client.get(booked + f"/transitions?since=2000-01-01&limit=100&cursor={body['next_cursor']}",
                      headers=auth(token)).json
    everything = moved + rest["transitions"]
    assert rest["next_cursor"] is None and len({t["id"] for t in everything}) == len(everything)
    entered = client.get(booked + "/transitions?since=2000-01-01&kind=entered&stage=3", headers=auth(token)).json
    [booking] = entered["transitions"]
    assert (booking["person"], booking["from_stage"], booking["to_stage"], booking["at"]) == ("ann", 2, 3, T0 + 7200_000)
    assert booking["dwell_seconds"] == 3600 and booking["cause"]["type"] == "purchase"
    kinds = client.get(booked + "/transitions?since=2000-01-01&kind=dropped,stalled", headers=auth(token)).json
    assert {(t["person"], t["kind"]) for t in kinds["transitions"]} == {("bob", "dropped"), ("bob", "stalled")}
    bad = client.get(booked + "/transitions?kind=teleported", headers=auth(token))
    assert bad.status_code == 400 and "kind" in next(iter(bad.json["fields"]))


def test_the_person_page_has_the_stage_history(client, site, token, booked, worker):
    worker.run_once()
    body = client.get(f"/api/v1/sites/{site['site']}/people/ann", headers=auth(token)).json
    [booking] = body["journeys"]
    assert booking["source"] == "state" and booking["stage"] == 3 and booking["capped"] is False
    assert [(h["kind"], h["to_stage"], h["dwell_seconds"]) for h in booking["history"]] == [
        ("entered", 1, 0), ("entered", 2, 3600), ("completed", 3, 7200), ("entered", 3, 3600)]


def test_the_person_page_reads_the_newest_of_a_persons_states_left_unmerged(client, store, site, token, booked,
                                                                         worker, flush):
    worker.run_once()
    stop_merges(store, "journey_state")  # Bob's states, old and new, stay side by side
    send(client, site, [page("bob", "/destinations/oslo", NOW - 90_000), page("bob", "/compare", NOW - 60_000),
                        {"type": "purchase", "vid": "bob", "ts": NOW - 30_000, "name": "order"}])
    flush()
    worker.run_once()
    rows = store.query("SELECT count() FROM journey_state WHERE site = %(site)s AND person = 'bob'",
                       {"site": site["site"]}).scalar()
    body = client.get(f"/api/v1/sites/{site['site']}/people/bob", headers=auth(token)).json
    [booking] = body["journeys"]
    live = reports.person_stages(store, definitions.get(store, site["site"], "booking"), site["site"], ["bob"], "bob",
                                 now_ms())
    assert rows >= 3  # his first state, its copy taken back, and the new one
    assert booking["source"] == "state" and booking["stage"] == 3
    same = ("stage", "entered_ms", "stages", "status", "last_touch_ms")
    assert {key: booking[key] for key in same} == {key: live[key] for key in same}


def test_windows_in_minutes(client, site, token, flush, worker):
    no_days = {key: value for key, value in BOOKING.items() if key != "window_days"}
    minutes = dict(no_days, window={"value": 15, "unit": "minute"})
    base = f"/api/v1/sites/{site['site']}/journeys/quick"
    stored = client.put(base, json=minutes, headers=auth(token))
    assert stored.status_code == 201 and stored.json["window"] == {"value": 15, "unit": "minute"}
    assert "window_days" not in stored.json
    start = NOW - DAY
    send(client, site, [page("fast", "/destinations/a", start), page("fast", "/compare", start + 15 * 60_000),
                        page("slow", "/destinations/b", start), page("slow", "/compare", start + 15 * 60_000 + 1)])
    flush()
    worker.run_once()
    funnel = client.get(base + "/funnel", headers=auth(token)).json
    assert funnel["source"] == "state" and [s["reached"] for s in funnel["stages"]] == [2, 1, 0]
    both = client.put(base, json=dict(minutes, window_days=7), headers=auth(token))
    assert both.status_code == 400 and "window" in both.json["fields"]
    for window, field in (({"value": 61, "unit": "minute"}, None), ({"value": 0, "unit": "hour"}, "window.value"),
                          ({"value": 2, "unit": "fortnight"}, "window.unit")):
        answer = client.put(base, json=dict(no_days, window=window), headers=auth(token))
        assert answer.status_code == (200 if field is None else 400), answer.json
        if field:
            assert field in answer.json["fields"]


def test_search_by_prefix_and_words_from_its_index(client, site, token, booked, flush):
    base = f"/api/v1/sites/{site['site']}/people?q="
    found = lambda text: [p["person"] for p in client.get(base + text, headers=auth(token)).json["people"]]  # noqa: E731
    for text in ("ann@exa", "arbor ann", "ACME tra", "ann", "example.org"):
        assert found(text) == ["ann"], text
    assert found("nn@example") == [] and found("travelx") == []
    send(client, site, [{"type": "identify", "uid": "ann", "vid": "ann-laptop", "ts": NOW,
                         "traits": {"email": "ann.new@example.com"}}])
    send(client, site, [{"type": "purchase", "uid": "zed-42", "ts": NOW}])
    flush()
    assert found("example.org") == [] and found("ann.new@") == ["ann"]
    assert found("zed") == ["zed-42"] and found("42") == ["zed-42"]
