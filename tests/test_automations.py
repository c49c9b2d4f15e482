"""Automations end to end: transitions recorded by the journey worker fire signed webhooks at a
real receiver (tests/receiver.py verifies each signature with ``standardwebhooks``); retries,
410, 429, a crash mid-delivery, scheduled triggers, filters, re-entry, backfill and the dry
run. Time is driven by ``tick``: a round for a moment, which the outbox's injected clock shows too. Both backends."""
import json
import time

import pytest
from prometheus_client import REGISTRY

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
    """A receiver on 127.0.0.1; every delivery it got must have verified with its secret."""
    found = Receiver()
    yield found
    found.stop()
    assert all(d["verified"] for d in found.received), [d["id"] for d in found.received if not d["verified"]]


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


@pytest.mark.cluster
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


@pytest.mark.cluster
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


def sent(outcome):
    """Webhook deliveries counted in /metrics with this outcome so far (this process)."""
    return REGISTRY.get_sample_value("tracker_webhook_deliveries_total", {"outcome": outcome}) or 0


@pytest.mark.cluster
def test_receiver_down_then_up_every_transition_arrives_once_with_retries_visible(
        app, client, token, store, worker, receiver, clock):
    automate(store, receiver, when={"entered": 1})
    before = {outcome: sent(outcome) for outcome in ("retry", "delivered", "failed")}
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
    assert {outcome: sent(outcome) - n for outcome, n in before.items()} == {"retry": 10, "delivered": 5, "failed": 0}


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
    silence = {"after_stage": 3, "days": 3, "match": [{"type": "email_sent"}, {"type": "offline", "name": "call"}]}
    automate(store, receiver, when={"no_touchpoint": silence})
    start = int(time.time() * 1000) + 1000
    books(store, "quiet", start)
    books(store, "served", start)
    books(store, "emailed", start)
    store.insert("events", EVENT_COLUMNS, [touchpoint("served", start + DAY, "offline", "call"),
                                           touchpoint("emailed", start + 2 * DAY, "email_sent"),
                                           touchpoint("quiet", start + DAY, "offline", "visit")])
    tick(worker, start + 5000)
    tick(worker, start + 3 * DAY + 3000)
    assert [d["data"]["data"]["person"]["id"] for d in receiver.received] == ["quiet"]
    assert receiver.received[0]["data"]["type"] == "journey.no_touchpoint"
    statuses = {d["person"]: d["status"] for d in deliveries(store)}
    assert statuses == {"quiet": "delivered", "served": "skipped", "emailed": "skipped"}


def traits(store, person, **values):
    store.insert("persons", ["site", "user_id", "trait_keys", "trait_values", "updated_at", "updated_ms"],
                 [(SITE, person, list(values), list(values.values()), int(time.time()), 0)])


def fired_for(receiver):
    return sorted(d["data"]["data"]["person"]["id"] for d in receiver.ok())


def test_filters_on_traits_and_on_the_channel_that_brought_them(store, worker, receiver):
    automate(store, receiver, when={"entered": 1}, filter={"traits": {"company": "Acme"}, "channel": ["paid", "email"]})
    start = int(time.time() * 1000) + 1000
    rows = []
    for person, company, channel in (("acme-paid", "Acme", "paid"), ("acme-direct", "Acme", ""),
                                     ("other-paid", "Globex", "paid"), ("acme-email", "Acme", "email")):
        traits(store, person, company=company)
        values = dict(zip(EVENT_COLUMNS, touchpoint(person, start, user=person)), channel=channel)
        rows.append(tuple(values[c] for c in EVENT_COLUMNS))
    store.insert("events", EVENT_COLUMNS, rows)
    tick(worker, start + 5000)
    assert fired_for(receiver) == ["acme-email", "acme-paid"]


def stalls_twice_then_books_again(store, worker, person, start):
    """Two stalls in one run, then a second run: stalled fires 2, 1 or 3 times by re-entry."""
    books(store, person, start, compare=False)
    tick(worker, start + 5000)
    tick(worker, start + 3 * DAY + 5000)  # stalled (3 silent days) in run 1
    store.insert("events", EVENT_COLUMNS, [touchpoint(person, start + 3 * DAY + 10_000, "event", "newsletter")])
    tick(worker, start + 3 * DAY + 20_000)  # reactivated
    tick(worker, start + 6 * DAY + 20_000)  # stalled again, same run (the 7-day window is open)
    books(store, person, start + 9 * DAY, compare=False)  # run 2
    tick(worker, start + 9 * DAY + 5000)
    tick(worker, start + 12 * DAY + 5000)  # stalled in run 2


@pytest.mark.parametrize("reentry, times", [("once_per_run", 2), ("every_time", 3), ("once_per_person", 1)])
def test_reentry_decides_how_often_one_person_fires(store, worker, receiver, reentry, times):
    automate(store, receiver, when={"stalled_at": 1}, reentry=reentry)
    stalls_twice_then_books_again(store, worker, "re", int(time.time() * 1000) + 1000)
    assert len(receiver.ok()) == times
    assert len({d["id"] for d in receiver.ok()}) == times


def test_enabling_never_fires_for_the_past_unless_backfill_from(store, worker, receiver):
    start = int(time.time() * 1000) - 3 * DAY
    books(store, "old", start, compare=False)
    tick(worker, int(time.time() * 1000))
    automate(store, receiver, "plain", when={"entered": 1})
    automate(store, receiver, "backfilled", when={"entered": 1},
             backfill_from=time.strftime("%Y-%m-%d", time.gmtime(start / 1000 - 86400)))
    tick(worker, int(time.time() * 1000) + 1000)
    assert [d["data"]["data"]["automation"]["id"] for d in receiver.ok()] == ["backfilled"]


def test_a_dry_run_equals_what_fires_on_the_same_history(store, worker, receiver, client, token):
    start = int(time.time() * 1000) - 5 * DAY
    for i in range(8):
        traits(store, f"h{i}", plan="pro" if i % 2 else "free")
        books(store, f"h{i}", start + i * 60_000, compare=i % 3 != 0)
    tick(worker, int(time.time() * 1000))
    body = {"name": "pros who booked", "journey": "booking", "webhook": {"url": receiver.url}, "enabled": False,
            "when": {"entered": 2}, "filter": {"traits": {"plan": "pro"}}}
    day = time.strftime("%Y-%m-%d", time.gmtime(start / 1000))
    assert api(client, token, "PUT", "/dry", json=body).status_code == 400  # 127.0.0.1 without the setting
    client.application.config["TRACKER"]["webhook_allow_private"] = True
    created = api(client, token, "PUT", "/dry", json=body)
    assert created.status_code == 201
    receiver.secret = created.get_json()["secret"]
    preview = api(client, token, "GET", f"/dry/dry-run?from={day}").get_json()
    unsaved = api(client, token, "POST", f"/dry-run?from={day}", json=body).get_json()
    assert preview["deliveries"] == unsaved["deliveries"] and preview["people"] == 3
    api(client, token, "PUT", "/dry", json=dict(body, enabled=True, backfill_from=day))
    tick(worker, int(time.time() * 1000) + 1000)
    fired = sorted((d["data"]["data"]["person"]["id"], d["data"]["data"]["at"]) for d in receiver.received)
    assert fired == sorted((d["person"], d["at"]) for d in preview["deliveries"])


def test_a_private_address_is_refused_at_save_and_at_send(app, client, token, store, worker, clock):
    journey = journeys.get(store, SITE, "booking")
    for url in ("http://127.0.0.1:9/x", "http://10.0.0.8/x", "http://169.254.169.254/latest", "http://[::1]/x",
                "http://localhost/x"):
        body = {"name": "x", "journey": "booking", "when": {"entered": 1}, "webhook": {"url": url}}
        response = api(client, token, "PUT", "/internal", json=body)
        assert response.status_code == 400 and "webhook.url" in response.get_json()["fields"], url
    # Saved past the check (another node allowed it): the sender refuses it all the same.
    loaded = definitions.validate_definition(dict(body, enabled=True), journey)
    definitions.save(store, SITE, "internal", loaded)
    worker.automations.sender.allow_private = False
    start = int(time.time() * 1000) + 1000
    books(store, "pv", start, compare=False)
    tick(worker, start + 5000)
    [row] = deliveries(store, "internal")
    assert row["status"] == "pending" and row["last_error"].startswith("refused: localhost resolves to")


def test_the_api_shows_the_secret_once_tests_retries_and_deletes(app, client, token, store, worker, receiver):
    app.config["TRACKER"]["webhook_allow_private"] = True
    body = {"name": "Pre-trip email", "journey": "booking", "when": {"entered": 3}, "webhook": {"url": receiver.url},
            "enabled": True}
    created = api(client, token, "PUT", "/pretrip", json=body)
    assert created.status_code == 201 and created.get_json()["secret"].startswith("whsec_")
    receiver.secret = created.get_json()["secret"]
    again = api(client, token, "PUT", "/pretrip", json=dict(body, name="Pre-trip mail"))
    assert again.status_code == 200 and "secret" not in again.get_json()
    shown = api(client, token, "GET", "/pretrip").get_json()
    assert shown["name"] == "Pre-trip mail" and "secret" not in shown and shown["enabled"] is True
    assert [a["id"] for a in api(client, token, "GET", "?journey=booking").get_json()["automations"]] == ["pretrip"]
    bad = api(client, token, "PUT", "/pretrip", json=dict(body, when={"entered": 9}))
    assert bad.status_code == 400 and "when.entered" in bad.get_json()["fields"]
    tested = api(client, token, "POST", "/pretrip/test").get_json()
    assert tested["ok"] and tested["last_code"] == 200 and receiver.received[-1]["verified"]
    assert receiver.received[-1]["data"]["test"] is True
    log = api(client, token, "GET", "/pretrip/deliveries").get_json()["deliveries"]
    assert [d["test"] for d in log] == [True]
    retried = api(client, token, "POST", f"/pretrip/deliveries/{log[0]['id']}/retry")
    assert retried.status_code == 202 and retried.get_json()["status"] == "pending"
    assert api(client, token, "POST", f"/pretrip/deliveries/{log[0]['id']}/retry").status_code == 409
    tick(worker, int(time.time() * 1000) + 1000)
    assert [d["id"] for d in receiver.received] == [log[0]["id"]] * 2
    assert api(client, token, "DELETE", "/pretrip").status_code == 204
    assert api(client, token, "GET", "/pretrip").status_code == 404


def test_apply_a_file_of_automations(store, test_config, tmp_path, receiver):
    from click.testing import CliRunner

    from tracker.cli import main as tracker

    journeys.save(store, SITE, "booking", journeys.validate_definition(BOOKING))
    path = tmp_path / "automations.yaml"
    path.write_text(json.dumps({"automations": {"pretrip": {
        "name": "Pre-trip email", "journey": "booking", "when": {"entered": 3}, "enabled": True,
        "webhook": {"url": receiver.url}}}}))
    env = {"TRACKER_DATA_DIR": test_config["data_dir"], "TRACKER_CLICKHOUSE_URL": test_config["clickhouse_url"],
           "TRACKER_DATABASE": test_config.get("database", "tracker")}
    refused = CliRunner().invoke(tracker, ["automation", "apply", str(path), "--site", SITE], env=env)
    assert refused.exit_code == 1 and "loopback" in refused.output
    result = CliRunner().invoke(tracker, ["automation", "apply", str(path), "--site", SITE],
                                env=dict(env, TRACKER_WEBHOOK_ALLOW_PRIVATE="1"))
    assert result.exit_code == 0 and "signing secret whsec_" in result.output
    assert definitions.get(store, SITE, "pretrip")["enabled"]


def test_the_openapi_document_describes_automations_and_their_answers(app, client, token, store, worker, receiver):
    from openapi_spec_validator import validate

    from tracker.api import automations as api_automations

    document = client.get("/api/v1/openapi.json").get_json()
    validate(document)
    put = document["paths"]["/sites/{site}/automations/{automation_id}"]["put"]
    assert put["requestBody"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Automation"}
    deliveries = document["paths"]["/sites/{site}/automations/{automation_id}/deliveries"]["get"]
    assert {p["name"] for p in deliveries["parameters"] if p["in"] == "query"} == {"status", "limit", "before"}
    app.config["TRACKER"]["webhook_allow_private"] = True
    body = {"name": "n", "journey": "booking", "when": {"entered": 1}, "webhook": {"url": receiver.url}}
    receiver.secret = api(client, token, "PUT", "/n", json=body).get_json()["secret"]
    for method, path, body_, schema in [
            ("PUT", "/n", body, api_automations.StoredAutomationSchema),
            ("GET", "/n", None, api_automations.StoredAutomationSchema),
            ("GET", "", None, api_automations.AutomationListSchema),
            ("POST", "/n/test", None, api_automations.DeliverySchema),
            ("GET", "/n/deliveries?limit=1", None, api_automations.DeliveryPageSchema),
            ("GET", "/n/dry-run", None, api_automations.DryRunSchema)]:
        response = api(client, token, method, path, json=body_)
        assert response.status_code in (200, 201), (path, response.get_json())
        assert schema().validate(response.get_json()) == {}, path
    bad = api(client, token, "GET", "/n/deliveries?limit=0&status=lost")
    assert bad.status_code == 400 and set(bad.get_json()["fields"]) == {"limit", "status"}


@pytest.mark.cluster
def test_the_feed_keeps_no_day_it_has_read(store, worker):
    from tracker.automations.feed import KEEP_DAYS
    from tracker.journeys.state import TRANSITION_COLUMNS

    feed = worker.automations.feed
    old = feed.watermark - (KEEP_DAYS + 3) * 86400
    values = {c: 0 if c.endswith(("_ms", "_stage")) else "" for c in TRANSITION_COLUMNS}
    for moment in (old, feed.watermark):
        store.insert("automation_feed", TRANSITION_COLUMNS + ["inserted_at"],
                     [tuple(values.values()) + (moment,)])
    assert feed.prune() == 1
    left = store.query("SELECT toUInt32(inserted_at) FROM automation_feed WHERE id = ''")
    assert [r[0] for r in left] == [feed.watermark]
