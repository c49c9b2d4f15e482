"""Retention: the months a site no longer keeps are dropped by the journey worker, exactly those;
a month another site still keeps loses only the expiring site's rows; reports say from when."""
import time
from datetime import datetime, timezone

import pytest
from click.testing import CliRunner

from test_journey_worker import touchpoint
from conftest import command_env
from tracker.cli import main as tracker
from tracker.ingest.touchpoints import EVENT_COLUMNS
from tracker.journeys import definitions
from tracker.privacy import audit
from tracker.store.sites import create_site, get_site, update_site
from tracker.worker import JourneyWorker
from tracker.worker.retention import apply_retention, first_kept_month

DAY = 86_400_000


def month_start_ms(months_ago):
    today = datetime.now(timezone.utc)
    index = today.year * 12 + today.month - 1 - months_ago
    return int(datetime(index // 12, index % 12 + 1, 2, tzinfo=timezone.utc).timestamp() * 1000)


def event(site, vid, ms):
    row = dict(zip(EVENT_COLUMNS, touchpoint(vid, ms)), site=site)
    return tuple(row[c] for c in EVENT_COLUMNS)


def months(store, site=None):
    where = "WHERE site = %(site)s" if site else ""
    return sorted(r[0] for r in store.query(f"SELECT DISTINCT toYYYYMM(event_time) FROM events {where}",
                                            {"site": site}))


def partitions(store):
    return sorted(int(p.strip("'")) for p in store.partitions("events"))


@pytest.mark.single_node  # on the cluster: the worker's drop below, and privacy's deletes
def test_the_months_a_site_no_longer_keeps_are_dropped_exactly(store, client, token, test_config):
    shop = create_site(store, "Shop", [])["site"]
    blog = create_site(store, "Blog", [])["site"]  # keeps everything
    store.insert("events", EVENT_COLUMNS, [event(shop, f"v{m}", month_start_ms(m)) for m in range(7)]
                 + [event(blog, "b", month_start_ms(6))])
    all_months = months(store)
    env = command_env(test_config)
    updated = CliRunner().invoke(tracker, ["site", "update", shop, "--retention-months", "3", "--json"], env=env)
    assert updated.exit_code == 0 and '"retention_months": 3' in updated.output, updated.output

    keep = first_kept_month(3)
    gone = apply_retention(store)
    assert sorted(gone[shop]) == [m for m in all_months if m < keep]
    deadline = time.monotonic() + 20
    while months(store, shop) != [m for m in all_months if m >= keep]:  # the shared month's mutation
        assert time.monotonic() < deadline, months(store, shop)
        time.sleep(0.2)
    assert months(store, blog) == [all_months[0]]
    assert partitions(store) == [all_months[0]] + [m for m in all_months if m >= keep]
    assert apply_retention(store) == {}  # nothing left to do
    assert audit.entries(store, shop)[0]["action"] == "retention"

    definitions.save(store, shop, "j", definitions.validate_definition(
        {"name": "J", "window_days": 7, "stages": [{"name": "a", "match": {"type": "pageview"}}]}))
    funnel = client.get(f"/api/v1/sites/{shop}/journeys/j/funnel", headers={"Authorization": f"Bearer {token}"})
    data_from = funnel.get_json()["data_from"]
    assert datetime.fromtimestamp(data_from / 1000, timezone.utc).strftime("%Y%m") == str(keep)
    assert "data_from" not in client.get(f"/api/v1/sites/{blog}/journeys/j/funnel",
                                         headers={"Authorization": f"Bearer {token}"}).get_json()


def test_the_journey_worker_runs_retention(store):
    shop = create_site(store, "Shop", [])["site"]
    store.insert("events", EVENT_COLUMNS, [event(shop, "old", month_start_ms(5)), event(shop, "new", month_start_ms(0))])
    update_site(store, shop, retention_months=2)
    worker = JourneyWorker(store)
    try:
        worker.run_once(as_of=int(time.time() * 1000))
    finally:
        worker.stop()
    assert months(store, shop) == [first_kept_month(0)]


def test_a_sites_retention_is_read_from_its_own_newest_row_among_others(store):
    # the API reads its site's retention on every funnel and list, from that site's rows alone
    sites = [create_site(store, f"Site {i}", [f"s{i}.example"])["site"] for i in range(3)]
    update_site(store, sites[1], retention_months=2)
    update_site(store, sites[1], retention_months=5)
    assert [get_site(store, key)["retention_months"] for key in sites] == [0, 5, 0]
    assert get_site(store, sites[1])["domains"] == ["s1.example"]
    assert get_site(store, "s_unknown") is None
