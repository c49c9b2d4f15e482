"""Automations end to end: transitions recorded by the journey worker fire signed webhooks at a
real receiver (tests/receiver.py verifies each signature with ``standardwebhooks``); retries,
410, 429, a crash mid-delivery, scheduled triggers, filters, re-entry, backfill and the dry
run. Time is driven by ``tick``: a round for a moment, which the outbox's injected clock shows too. Both backends."""
import json
import time

import pytest

from receiver import Receiver
from test_journey_worker import BOOKING, DAY, touchpoint
from tracker.automations import Automations, definitions, outbox
from tracker.automations.delivery import BACKOFF_MS
from tracker.ingest.touchpoints import EVENT_COLUMNS
from tracker.journeys import definitions as journeys
from tracker.worker import JourneyWorker

SITE = "s1"


class Clock:
    """The outbox's clock (Unix ms), moved by hand."""

    def __init__(self):
        self.now = int(time.time() * 1000)

    def __call__(self):
        return self.now


def tick(worker, moment):
    """A round of ``worker`` computed for ``moment``, which is also the outbox's time."""
    clock = worker.automations.clock
    clock.now = max(clock.now, moment)
    return worker.run_once(as_of=clock.now)


@pytest.fixture
def receiver():
    found = Receiver()
    yield found
    found.stop()


@pytest.fixture
def clock():
    return Clock()


def new_worker(store, clock):
    automations = Automations(store, public_url="https://tracker.example", allow_private=True, clock=clock,
                              budget_seconds=5)
    return JourneyWorker(store, automations=automations)


@pytest.fixture
def worker(store, clock):
    """A journey worker whose automations may reach 127.0.0.1, its journey built."""
    journeys.save(store, SITE, "booking", journeys.validate_definition(BOOKING))
    made = new_worker(store, clock)
    made.run_once()
    yield made
    made.stop()


def automate(store, receiver, automation_id="a1", **fields):
    """Save an enabled automation of the booking journey pointed at ``receiver``."""
    body = {"name": automation_id, "journey": "booking", "webhook": {"url": receiver.url}, "enabled": True, **fields}
    loaded = definitions.validate_definition(body, journeys.get(store, SITE, "booking"))
    secret = definitions.save(store, SITE, automation_id, loaded)
    receiver.secret = secret or receiver.secret
    return secret


def books(store, person, start, compare=True):
    """Touchpoints of ``person``: discover at ``start``, compare and book a second apart each."""
    rows = [touchpoint(person, start)]
    if compare:
        rows += [touchpoint(person, start + 1000, "event", "compare"), touchpoint(person, start + 2000, "purchase")]
    store.insert("events", EVENT_COLUMNS, rows)


def deliveries(store, automation_id="a1"):
    rows, _ = outbox.listing(store, SITE, automation_id, limit=500)
    return rows


def test_entered_fires_one_signed_webhook_with_the_contract_body(store, worker, receiver):
    secret = automate(store, receiver, when={"entered": 3})
    assert secret.startswith("whsec_")
    start = int(time.time() * 1000) + 1000
    books(store, "ann", start)
    tick(worker, start + 10_000)
    tick(worker, start + 20_000)
    assert len(receiver.received) == 1
    delivery = receiver.received[0]
    assert delivery["verified"] and delivery["id"].startswith("msg_")
    body = delivery["data"]
    assert body["type"] == "journey.entered"
    data = body["data"]
    assert data["site"] == SITE and data["journey"]["id"] == "booking" and data["person"]["id"] == "ann"
    assert data["from_stage"] == {"number": 2, "name": "compare"} and data["to_stage"] == {"number": 3, "name": "book"}
    assert data["dwell_seconds"] == 1 and data["days_since_day0"] == 0
    assert data["cause"]["type"] == "purchase"
    assert data["links"]["person"] == f"https://tracker.example/dashboard/{SITE}/people/ann"
    assert [d["status"] for d in deliveries(store)] == ["delivered"]


def test_a_rebuild_or_a_repeated_round_sends_nothing_twice(store, worker, receiver):
    automate(store, receiver, when={"entered": 1})
    start = int(time.time() * 1000) + 1000
    books(store, "bo", start, compare=False)
    tick(worker, start + 5000)
    journeys.request_rebuild(store, SITE, "booking")  # a new build: the same history under new ids
    for i in range(3):
        tick(worker, start + 6000 + i)
    assert len(store.query("SELECT DISTINCT build FROM journey_transitions WHERE person = 'bo'")) == 2
    assert [d["data"]["data"]["person"]["id"] for d in receiver.received] == ["bo"]


def api(client, token, method, path, **kwargs):
    return client.open(f"/api/v1/sites/{SITE}/automations{path}", method=method,
                       headers={"Authorization": f"Bearer {token}"}, **kwargs)


def test_receiver_down_then_up_every_transition_arrives_once_with_retries_visible(
        app, client, token, store, worker, receiver, clock):
    automate(store, receiver, when={"entered": 1})
    receiver.stop()
    start = int(time.time() * 1000) + 1000
    for i in range(5):
        books(store, f"p{i}", start + i, compare=False)
    tick(worker, start + 5000)
    shown = api(client, token, "GET", "/a1/deliveries").get_json()["deliveries"]
    assert len(shown) == 5 and {d["status"] for d in shown} == {"pending"}
    assert all(d["attempts"] == 1 and d["last_error"] and d["next_try_at"] for d in shown)
    tick(worker, start + 5000 + BACKOFF_MS[0])  # still down: the second wait is longer
    assert {d["attempts"] for d in deliveries(store)} == {2}
    assert all(d["next_ms"] == clock.now + BACKOFF_MS[1] for d in deliveries(store))
    receiver.start()
    tick(worker, clock.now + BACKOFF_MS[1])
    ids = [d["id"] for d in receiver.received]
    assert len(ids) == 5 and len(set(ids)) == 5 and all(d["verified"] for d in receiver.received)
    shown = api(client, token, "GET", "/a1/deliveries").get_json()["deliveries"]
    assert {d["id"] for d in shown} == set(ids) and {d["status"] for d in shown} == {"delivered"}
    assert all([a["code"] for a in d["attempt_log"]] == [None, None, 200] for d in shown)


def test_410_disables_the_automation(store, worker, receiver):
    automate(store, receiver, when={"entered": 1})
    receiver.answer = lambda delivery: (410, {})
    start = int(time.time() * 1000) + 1000
    books(store, "gone1", start, compare=False)
    tick(worker, start + 5000)
    found = definitions.get(store, SITE, "a1")
    assert not found["enabled"] and "410" in found["disabled_reason"]
    books(store, "gone2", start + 10_000, compare=False)
    tick(worker, start + 15_000)
    assert len(receiver.received) == 1
    assert [d["status"] for d in deliveries(store)] == ["failed"]


def test_429_waits_as_long_as_retry_after_says(store, worker, receiver, clock):
    automate(store, receiver, when={"entered": 1})
    receiver.answer = lambda delivery: (429, {"Retry-After": "120"}) if len(receiver.received) < 1 else (200, {})
    start = int(time.time() * 1000) + 1000
    books(store, "busy", start, compare=False)
    tick(worker, start + 5000)
    assert deliveries(store)[0]["next_ms"] == clock.now + 120_000
    tick(worker, clock.now + 60_000)
    assert len(receiver.received) == 1
    tick(worker, clock.now + 60_000)
    assert [d["status"] for d in receiver.received] == [429, 200]
    assert receiver.received[0]["id"] == receiver.received[1]["id"]


def test_a_worker_killed_mid_delivery_loses_nothing(store, worker, receiver, clock):
    automate(store, receiver, when={"entered": 1})

    def slow(delivery):
        time.sleep(1.5)
        return 200, {}

    receiver.answer = slow
    worker.automations.sender.budget_seconds = 0.3
    start = int(time.time() * 1000) + 1000
    for i in range(3):
        books(store, f"k{i}", start + i, compare=False)
    tick(worker, start + 5000)  # claims and sends; the answers come after the round
    assert {d["status"] for d in deliveries(store)} == {"pending"}
    worker.stop()  # killed: what its threads learn is never written
    receiver.answer = lambda delivery: (200, {})
    successor = new_worker(store, clock)
    try:
        tick(successor, clock.now + outbox.CLAIM_MS)
    finally:
        successor.stop()
    assert {d["status"] for d in deliveries(store)} == {"delivered"}
    ids = {d["id"] for d in receiver.received}
    assert ids == {d["delivery_id"] for d in deliveries(store)} and len(ids) == 3  # again, never as a new id


def test_days_after_fires_on_each_persons_own_day(store, worker, receiver):
    automate(store, receiver, when={"days_after": 2, "stage": 1}, reentry="once_per_person")
    start = int(time.time() * 1000) + 1000
    books(store, "d1", start, compare=False)
    tick(worker, start + 5000)
    books(store, "d2", start + DAY, compare=False)
    tick(worker, start + DAY + 5000)
    tick(worker, start + 2 * DAY - 1000)
    assert receiver.received == []
    tick(worker, start + 2 * DAY + 1000)
    assert [d["data"]["data"]["person"]["id"] for d in receiver.received] == ["d1"]
    tick(worker, start + 3 * DAY + 1000)
    sent = [d["data"] for d in receiver.received]
    assert [s["data"]["person"]["id"] for s in sent] == ["d1", "d2"]
    assert {s["type"] for s in sent} == {"journey.day"} and sent[1]["data"]["schedule"]["days"] == 2
    assert sent[1]["data"]["days_since_day0"] == 2


def test_no_touchpoint_within_days_alerts_only_the_silent(store, worker, receiver):
    automate(store, receiver, when={"no_touchpoint": {"after_stage": 3, "days": 3, "match": {"type": "email_sent"}}})
    start = int(time.time() * 1000) + 1000
    books(store, "quiet", start)
    books(store, "served", start)
    store.insert("events", EVENT_COLUMNS, [touchpoint("served", start + DAY, "email_sent")])
    tick(worker, start + 5000)
    tick(worker, start + 3 * DAY + 3000)
    assert [d["data"]["data"]["person"]["id"] for d in receiver.received] == ["quiet"]
    assert receiver.received[0]["data"]["type"] == "journey.no_touchpoint"
    statuses = {d["person"]: d["status"] for d in deliveries(store)}
    assert statuses == {"quiet": "delivered", "served": "skipped"}
