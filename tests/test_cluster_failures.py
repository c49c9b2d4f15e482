"""Failures on a replicated cluster (two shards of two replicas, Debian's ZooKeeper; started by
``scripts/clickhouse-cluster.sh`` on ports of its own): one replica of each shard stopped, reads
and writes go on; a whole shard stopped, ingest still answers 202 and spools, reads answer 503
with the reason, and once the shard is back every touchpoint is there exactly once."""
import os
import subprocess
import time
import uuid

import pytest

from conftest import CH_HOST, ROOT, drop_database, new_database
from helpers import post_batch
from tracker import close_app, create_app
from tracker.store.sites import create_site, create_token

pytestmark = pytest.mark.slow

BASE_PORT = 29500
ENV = dict(os.environ, SHARDS="2", REPLICAS="2", BASE_PORT=str(BASE_PORT))
JOURNEY = {"name": "Buy", "window_days": 7, "stall_after_days": 3,
           "stages": [{"name": "Visit", "match": {"type": "pageview"}}, {"name": "Buy", "match": {"name": "buy"}}]}


def cluster(*args):
    subprocess.run([str(ROOT / "scripts" / "clickhouse-cluster.sh"), *args], env=ENV, check=True,
                   stdout=subprocess.DEVNULL)


def node_url(n):
    return f"{CH_HOST}:{BASE_PORT + n}"


@pytest.fixture(scope="module")
def replicated():
    cluster("start")
    yield
    cluster("stop")


@pytest.fixture
def app(replicated, tmp_path):
    # The app reaches node 1, and node 2 (the other replica of its shard) when node 1 is down.
    url = f"clickhouse://default@{node_url(1)}/{new_database()}?alt_hosts={node_url(2)}"
    app = create_app({"clickhouse_url": url, "clickhouse_cluster": "tracker", "data_dir": str(tmp_path / "data"),
                      "flush_seconds": 0.2, "journey_worker": False})
    yield app
    for n in range(1, 5):
        cluster("start-node", str(n))
    close_app(app)
    drop_database(app.extensions["store"])


@pytest.fixture
def site(app):
    created = create_site(app.extensions["store"], "Replicated", ["example.com"])
    app.extensions["tracker"].sites.refresh()
    return created["site"]


def send(client, site, count, prefix):
    """``count`` batches of a page view and a purchase from visitors of their own; their event ids."""
    ids = []
    for i in range(count):
        eids = [f"{prefix}-{i}-view", f"{prefix}-{i}-buy"]
        response = post_batch(client, site, [{"type": "pageview", "url": "https://example.com/", "eid": eids[0]},
                                             {"type": "event", "name": "buy", "eid": eids[1]}], vid=f"{prefix}-v{i}")
        assert response.status_code == 202, response.get_data(as_text=True)
        ids += eids
    return ids


def stored(store, site):
    """{event id: copies} as stored on the shards (no FINAL: a duplicate would show), once every
    replica has the parts of the others (replication is asynchronous: a read right after a
    write may go to the replica that is still fetching it)."""
    for host in store.hosts:
        if store.host(host).ping():  # (a replica stopped by the test has nothing to catch up now)
            store.host(host).execute("SYSTEM SYNC REPLICA events_local")
    return dict(store.query("SELECT event_id, count() FROM events WHERE site = %(site)s GROUP BY event_id",
                            {"site": site}))


def funnel(client, site, token):
    return client.get(f"/api/v1/sites/{site}/journeys/buy/funnel?from=2000-01-01&to=2100-01-01",
                      headers={"Authorization": f"Bearer {token}"})


def put_journey(client, site, token):
    response = client.put(f"/api/v1/sites/{site}/journeys/buy", json=JOURNEY,
                          headers={"Authorization": f"Bearer {token}"})
    assert response.status_code in (200, 201), response.get_data(as_text=True)


@pytest.fixture
def running(app, site):
    """The site with a journey and ten visitors' touchpoints stored: (client, token, their event ids)."""
    client = app.test_client()
    token = create_token(app.extensions["store"], "t")["token"]
    put_journey(client, site, token)
    ids = send(client, site, 10, "before")
    assert app.extensions["tracker"].writer.flush(timeout=30)
    return client, token, ids


def test_one_replica_of_each_shard_down_reads_and_writes_go_on(app, site, running):
    store, writer = app.extensions["store"], app.extensions["tracker"].writer
    client, token, ids = running
    cluster("stop-node", "1")  # the app's own host, and the holder of the locks
    cluster("stop-node", "3")
    ids += send(client, site, 10, "during")
    assert writer.flush(timeout=30)
    assert stored(store, site) == dict.fromkeys(ids, 1)
    response = funnel(client, site, token)
    assert response.status_code == 200 and response.get_json()["people"] == 20
    cluster("start-node", "1")
    cluster("start-node", "3")
    for n in (1, 3):  # the stopped replicas catch up from the others
        replica = app.extensions["store"].host(app.extensions["store"].hosts[n - 1])
        replica.execute("SYSTEM SYNC REPLICA events_local")
        local = replica.query("SELECT count() FROM events_local WHERE site = %(site)s", {"site": site}).scalar()
        other = app.extensions["store"].host(app.extensions["store"].hosts[n]).query(
            "SELECT count() FROM events_local WHERE site = %(site)s", {"site": site}).scalar()
        assert local == other > 0


def test_a_whole_shard_down_spools_answers_503_and_loses_nothing(app, site, running):
    store, writer = app.extensions["store"], app.extensions["tracker"].writer
    client, token, ids = running
    cluster("stop-node", "3")
    cluster("stop-node", "4")
    ids += send(client, site, 20, "during")
    time.sleep(1.5)
    health = client.get("/healthz").get_json()
    assert health["spooled_segments"] > 0 and health["shards_answering"] == {"1": 2, "2": 0}
    response = funnel(client, site, token)
    assert response.status_code == 503
    assert "shard" in response.get_json()["error"]
    cluster("start-node", "3")
    cluster("start-node", "4")
    assert writer.flush(timeout=60)
    assert stored(store, site) == dict.fromkeys(ids, 1)
    response = funnel(client, site, token)
    assert response.status_code == 200 and response.get_json()["people"] == 30
