"""Privacy requests: a person exported, then erased from every table (not one row left, their
page 404), their visitor ids refused until a new consent, each request in the audit trail."""
import json
import time

from click.testing import CliRunner

from helpers import CHROME, post_batch, send
from conftest import command_env
from test_journey_worker import touchpoint
from tracker.cli import main as tracker
from tracker.ingest.touchpoints import EVENT_COLUMNS
from tracker.journeys import definitions
from tracker.privacy import audit
from tracker.privacy.requests import leftovers
from tracker.store import mutations
from tracker.worker import JourneyWorker
from tracker.worker.erasures import LateErasureStep

HOUR = 3_600_000
JOURNEY = {"name": "Trip", "window_days": 7, "stall_after_days": 3, "stages": [
    {"name": "look", "match": {"type": "pageview"}}, {"name": "book", "match": {"type": "purchase"}}]}


def auth(token):
    return {"Authorization": f"Bearer {token}"}


def story(client, site):
    """Ana browses anonymously on two devices, identifies on both and buys; Bob browses."""
    now = int(time.time() * 1000)
    for vid in ("ana-phone", "ana-laptop"):
        assert post_batch(client, site["site"], [
            {"type": "pageview", "url": "https://example.com/alps", "ts": now - 3 * HOUR},
            {"type": "identify", "uid": "ana", "traits": {"email": "ana@example.org", "name": "Ana"},
             "ts": now - 2 * HOUR}], vid=vid).status_code == 202
    send(client, site, [{"type": "purchase", "uid": "ana", "ts": now - HOUR}])
    assert post_batch(client, site["site"], [{"type": "pageview", "url": "https://example.com/"}],
                      vid="bob-1").status_code == 202


def test_export_then_erase_leaves_not_one_row(app, store, client, site, token, flush):
    definitions.save(store, site["site"], "trip", definitions.validate_definition(JOURNEY))
    worker = JourneyWorker(store)
    worker.run_once()
    story(client, site)
    flush()
    worker.run_once()
    base = f"/api/v1/sites/{site['site']}/people"
    assert client.get(f"{base}/ana", headers=auth(token)).status_code == 200

    exported = client.get(f"{base}/ana/export", headers=auth(token))
    assert exported.status_code == 200
    body = exported.get_json()
    assert len(body["touchpoints"]) == 5 and body["traits"] == {"email": "ana@example.org", "name": "Ana"}
    assert set(body["visitor_ids"]) == {"ana-phone", "ana-laptop"}
    assert {i["visitor_id"] for i in body["identities"]} == {"ana-phone", "ana-laptop"}
    assert body["journeys"][0]["stage"] == 2 and body["journey_transitions"]

    erased = client.delete(f"{base}/ana", headers=auth(token))
    assert erased.status_code == 200, erased.get_json()
    assert erased.get_json()["done"] is True and erased.get_json()["rows"]["events"] == 5
    assert client.get(f"{base}/ana", headers=auth(token)).status_code == 404
    assert client.get(f"{base}/ana/export", headers=auth(token)).status_code == 404
    assert leftovers(store, site["site"], "ana", ["ana", "u:ana", "ana-phone", "ana-laptop"]) == {}
    assert client.get(f"{base}/bob-1", headers=auth(token)).status_code == 200  # nobody else's
    assert client.get(f"{base}?q=ana", headers=auth(token)).get_json()["people"] == []
    actions = [(e["action"], e["actor"][:6]) for e in audit.entries(store, site["site"], "ana")]
    assert actions == [("export", "token:"), ("erase", "token:")]


def test_an_erased_person_is_refused_until_a_new_consent(app, store, client, site, token, flush):
    story(client, site)
    flush()
    assert client.delete(f"/api/v1/sites/{site['site']}/people/ana", headers=auth(token)).status_code == 200
    pixel = client.get(f"/p.gif?site={site['site']}&vid=ana-phone&type=pageview", headers={"User-Agent": CHROME})
    assert pixel.mimetype == "image/gif" and "erased" in pixel.headers["X-Tracker-Error"]
    later = post_batch(client, site["site"], [{"type": "pageview", "uid": "ana"}], vid="ana-tablet")
    assert later.status_code == 403 and "consent" in later.get_json()["error"]
    assert post_batch(client, site["site"], [{"type": "pageview"}], vid="bob-1").status_code == 202

    again = post_batch(client, site["site"], [{"type": "identify", "uid": "ana", "traits": {"consent": "granted"}},
                                              {"type": "pageview"}], vid="ana-phone")
    assert again.status_code == 202 and again.get_json()["accepted"] == 2
    assert post_batch(client, site["site"], [{"type": "pageview"}], vid="ana-laptop").status_code == 202
    assert [e["action"] for e in audit.entries(store, site["site"], "ana")] == ["erase"]


def test_consent_through_the_api_and_the_commands(app, store, client, site, token, flush, test_config):
    story(client, site)
    flush()
    env = command_env(test_config)
    run = lambda *args: CliRunner().invoke(tracker, ["person", *args, "--site", site["site"], "ana"], env=env)  # noqa: E731
    exported = run("export")
    assert exported.exit_code == 0, exported.output
    assert len(json.loads(exported.output)["touchpoints"]) == 5
    erased = run("erase")
    assert erased.exit_code == 0 and json.loads(erased.output)["done"], erased.output
    app.extensions["tracker"].blocks.refresh()
    assert post_batch(client, site["site"], [{"type": "pageview"}], vid="ana-phone").status_code == 403
    answer = client.post(f"/api/v1/sites/{site['site']}/people/ana/consent", headers=auth(token))
    assert answer.status_code == 200 and set(answer.get_json()["visitor_ids"]) == {"ana-phone", "ana-laptop", "u:ana"}
    app.extensions["tracker"].blocks.refresh()
    assert post_batch(client, site["site"], [{"type": "pageview"}], vid="ana-phone").status_code == 202
    actors = [(e["action"], e["actor"].split(":")[0]) for e in audit.entries(store, site["site"], "ana")]
    assert actors == [("export", "cli"), ("erase", "cli"), ("consent", "token")]


def test_touchpoints_spooled_before_an_erasure_are_not_inserted_after_it(app, store, client, site, token, flush):
    story(client, site)
    flush()
    tracker_ = app.extensions["tracker"]
    tracker_.writer.flush_seconds = 3600  # the writer waits: the next batch stays in the spool
    time.sleep(0.5)  # its current wait (0.2 s) ends
    assert post_batch(client, site["site"], [{"type": "pageview", "url": "https://example.com/late"}],
                      vid="ana-phone").status_code == 202
    assert client.delete(f"/api/v1/sites/{site['site']}/people/ana", headers=auth(token)).status_code == 200
    tracker_.blocks.refresh()  # every node sees the erasure within seconds
    flush()
    assert leftovers(store, site["site"], "ana", ["ana", "u:ana", "ana-phone", "ana-laptop"]) == {}
    assert store.query("SELECT count() FROM events WHERE visitor_id = 'bob-1'").scalar() == 1


def test_rows_inserted_just_after_an_erasure_are_erased_again_unless_consent_came(
        app, store, client, site, token, flush):
    story(client, site)
    flush()
    assert client.delete(f"/api/v1/sites/{site['site']}/people/ana", headers=auth(token)).status_code == 200
    late = dict(site=site["site"], event_id="late", visitor_id="ana-laptop")
    row = tuple(late.get(c, v) for c, v in zip(EVENT_COLUMNS, touchpoint("x", int(time.time() * 1000))))
    store.insert("events", EVENT_COLUMNS, [row])  # another node's insert, under way at the erasure
    landed = {"events": 1, "journey_changes": 1}  # and the change feed's view of it
    assert leftovers(store, site["site"], "ana", ["ana-laptop"]) == landed
    done = LateErasureStep(store).maybe_run(force=True)
    assert [(person, found) for _, person, found in done] == [("ana", landed)]
    assert mutations.wait(store, list(landed), 30)  # a server deletes asynchronously
    assert leftovers(store, site["site"], "ana", ["ana", "u:ana", "ana-phone", "ana-laptop"]) == {}
    assert [e["action"] for e in audit.entries(store, site["site"], "ana")] == ["erase", "erase_late_arrivals"]

    assert client.post(f"/api/v1/sites/{site['site']}/people/ana/consent", headers=auth(token)).status_code == 200
    store.insert("events", EVENT_COLUMNS, [row])  # after a new consent, theirs to keep
    assert LateErasureStep(store).maybe_run(force=True) == []
    assert leftovers(store, site["site"], "ana", ["ana-laptop"]) == landed
