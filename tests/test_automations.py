"""Automations end to end: transitions recorded by the journey worker fire signed webhooks at a
real receiver (tests/receiver.py verifies each signature with ``standardwebhooks``); retries,
410, 429, a crash mid-delivery, scheduled triggers, filters, re-entry, backfill and the dry
run. Time is driven with ``run_once(as_of=…)`` and the sender's injected clock. Both backends."""
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
    """The sender's clock (Unix ms), moved by hand."""

    def __init__(self):
        self.now = int(time.time() * 1000)

    def __call__(self):
        return self.now

    def advance(self, ms):
        self.now += ms
        return self.now


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
    worker.run_once(as_of=start + 10_000)
    worker.run_once(as_of=start + 20_000)
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
