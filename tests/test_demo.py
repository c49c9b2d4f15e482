"""The demo data set: it loads through the ingest API and tells its story in the funnels."""
import json
import time

from tracker.automations import definitions as automations
from tracker.store.accounts import authenticate
from tracker.demo import load
from tracker.demo.receiver import SECRETS_FILE
from tracker.demo.people import generate
from tracker.journeys import definitions
from tracker.journeys.reports import funnel


def test_the_same_seed_tells_the_same_story():
    first = [e["eid"] + e["type"] for batch in generate(50, seed=3) for e in batch]
    again = [e["eid"] + e["type"] for batch in generate(50, seed=3) for e in batch]
    assert first == again and len(first) > 100


def test_demo_loads_and_its_journeys_have_people_at_every_step(app, store):
    login = load(app, people=400, seed=11)
    assert login["touchpoints"] > 1000
    assert authenticate(store, login["email"], login["password"])["sites"] == [login["site"]]
    now = int(time.time() * 1000)
    trip = definitions.get(store, login["site"], "trip")
    figures = funnel(store, trip, login["site"], now - 200 * 86400_000, now, now)
    reached = [stage["reached"] for stage in figures["stages"]]
    assert reached == sorted(reached, reverse=True)
    assert reached[0] > 100 and reached[3] > 0, reached  # some book
    assert sum(stage["dropped"] for stage in figures["stages"]) > 0  # and some drop off
    bots = store.query("SELECT count() FROM events WHERE site = %(s)s AND is_bot = 1", {"s": login["site"]})
    assert bots.scalar() == 0
    # Its two automations post to the demo's receiver, which knows their secrets.
    found = {a["id"]: a for a in automations.list_all(store, login["site"], "trip")}
    assert set(found) == {"pre-trip-email", "no-contact-alert"} and all(a["enabled"] for a in found.values())
    assert all(a["definition"]["webhook"]["url"].startswith("http://127.0.0.1:8025/") for a in found.values())
    secrets = json.loads((app.config["TRACKER"]["data_dir"] / SECRETS_FILE).read_text())
    assert all(secrets[name] == found[name]["secret"] for name in found)


def test_the_demo_answers_from_journey_state(app, store):
    from tracker.journeys import state
    from tracker.worker import JourneyWorker

    login = load(app, people=300, seed=5)
    worker = JourneyWorker(store)
    worker.run_once()
    worker.stop()
    now = int(time.time() * 1000)
    for journey in definitions.list_all(store, login["site"]):
        build = state.build_status(store, login["site"], journey)
        assert build["status"] == "ready", journey["id"]
        live = funnel(store, journey, login["site"], now - 200 * 86400_000, now, now, "channel")
        stored = funnel(store, journey, login["site"], now - 200 * 86400_000, now, now, "channel", build["build"])
        assert stored == live, journey["id"]
