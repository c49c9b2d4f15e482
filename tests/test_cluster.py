"""The cluster gives the answers of a single node: random touchpoints loaded into a database on
one server and into one on the two-shard cluster, every read compared (funnels with each
breakdown, people lists, person pages, journey state kept by the worker). Also: the schema
rewriting of every migration, and rows landing on the shard the Distributed tables pick."""
import hashlib
import os
import uuid

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from conftest import drop_database, new_database
from test_funnel_properties import BASE, EVENT, JOURNEYS, W, build_events, load
from tracker.journeys import definitions, persons, reports, state
from tracker.settings import load_settings
from tracker.store import open_store
from tracker.store.cluster_schema import SHARDED, Host, Layout, UnknownStatement, every_statement, for_host, shard_index
from tracker.store.migrations import available, migrate
from tracker.worker import JourneyWorker

AS_OF = BASE + 3 * W
STATUSES = ("reached", "at", "in_progress", "dropped", "stalled")


def migrated(url, **extra):
    store = open_store(load_settings(clickhouse_url=url, **extra))
    migrate(store)
    return store


@pytest.fixture(scope="module")
def pair(clickhouse_server, clickhouse_cluster):
    """(single node, cluster): a fresh migrated database on each, dropped afterwards."""
    single = migrated(f"{clickhouse_server}/{new_database()}")
    cluster = migrated(f"{clickhouse_cluster}/{new_database()}", clickhouse_cluster="tracker")
    yield single, cluster
    for store in (single, cluster):
        drop_database(store)
        store.close()


def reads(store, journey, site, build=None):
    """Every read of a journey the API offers, as plain values."""
    found = {}
    for start, end, breakdown in ((BASE, BASE + 1000, "channel"), (BASE, AS_OF, None),
                                  (BASE, AS_OF, "first_touch_channel")):
        found[("funnel", start, end, breakdown)] = reports.funnel(store, journey, site, start, end, AS_OF,
                                                                  breakdown, build=build)
    for status in STATUSES:
        for stage in (None, 2) if status == "at" else (None,):
            found[("people", status, stage)] = reports.people(store, journey, site, status, stage, AS_OF,
                                                              limit=500, build=build)[0]
    return found


def person_pages(store, site):
    people = ["u0", "u1", "anon-3", "anon-4", "u0-laptop"]
    return {person: persons.person_page(store, site, person, AS_OF) for person in people}


@settings(max_examples=int(os.environ.get("PROPERTY_EXAMPLES", 8)), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(journey=JOURNEYS, specs=st.lists(EVENT, min_size=1, max_size=12), link=st.booleans())
def test_the_cluster_answers_as_one_node(pair, journey, specs, link):
    site = "c_" + uuid.uuid4().hex[:8]
    events = build_events(specs, site)
    journey = definitions.validate_definition(journey)
    for store in pair:
        load(store, events, link)
    single, cluster = pair
    assert reads(cluster, journey, site) == reads(single, journey, site)
    assert person_pages(cluster, site) == person_pages(single, site)


def test_journey_state_on_the_cluster_is_that_of_one_node(pair):
    """The worker keeps state on each; the reads from state agree, and agree with the live engine."""
    site = "w_" + uuid.uuid4().hex[:8]
    specs = [{"who": i % 5, "offset": off, "name": name, "type": "pageview", "path": "/p", "channel": ch,
              "plan": None, "repeat": 1, "step": 0}
             for i, (off, name, ch) in enumerate([(0, "a", "email"), (500, "b", "direct"), (1000, "c", "direct"),
                                                  (0, "a", "direct"), (60_000, "b", "email"), (W, "a", "direct"),
                                                  (W + 1, "b", "direct"), (1, "a", "email"), (2 * W, "c", "direct")])]
    journey = definitions.validate_definition({"name": "j", "window_days": 1, "stall_after_days": 1,
                                               "stages": [{"name": n, "match": {"name": n}} for n in "abc"]})
    answers = []
    for store in pair:
        load(store, build_events(specs, site), True)
        definitions.save(store, site, "j", journey)
        worker = JourneyWorker(store)
        try:
            for _ in range(10):
                if worker.run_once(as_of=AS_OF) == {"persons": 0, "transitions": 0}:
                    break
        finally:
            worker.stop()
        saved = definitions.get(store, site, "j")
        build = state.build_of(saved)
        assert state.build_status(store, site, saved)["status"] == "ready"
        from_state = reads(store, saved, site, build)
        assert from_state == reads(store, saved, site)
        history = store.query("SELECT person, kind, to_stage, at_ms FROM journey_transitions WHERE site = %(site)s "
                              "ORDER BY person, at_ms, kind, to_stage", {"site": site})
        answers.append((from_state, list(history)))
    assert answers[0] == answers[1]


# -- the schema ---------------------------------------------------------------------------

LAYOUTS = {"shards": Layout("tracker", "db", replicated=False), "replicas": Layout("tracker", "db", replicated=True)}
HOSTS = [Host(1, 1, "a", 1), Host(1, 2, "b", 1), Host(2, 1, "c", 1)]


@pytest.mark.parametrize("kind", sorted(LAYOUTS))
def test_every_migration_has_a_cluster_form(kind):
    for host in HOSTS:
        statements = every_statement(available(), LAYOUTS[kind], host)
        assert statements and all("ON CLUSTER" not in s for s in statements)


def test_a_table_becomes_a_local_table_and_a_distributed_one():
    create = "CREATE TABLE IF NOT EXISTS events (site String, visitor_id String) ENGINE = ReplacingMergeTree()\nORDER BY (site, visitor_id)"
    plain, replicated = (for_host(create, LAYOUTS[k], HOSTS[0]) for k in ("shards", "replicas"))
    assert plain == [
        "CREATE TABLE IF NOT EXISTS events_local (site String, visitor_id String) ENGINE = ReplacingMergeTree()\nORDER BY (site, visitor_id)",
        "CREATE TABLE IF NOT EXISTS events AS events_local ENGINE = Distributed(tracker, db, events_local, halfMD5(visitor_id))"]
    assert replicated[0].startswith("CREATE TABLE IF NOT EXISTS events_local (site String, visitor_id String) ENGINE = "
                                    "ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/db/events_local', '{replica}')")


def test_small_tables_live_on_the_first_shard_or_on_every_replica():
    create = "CREATE TABLE sites (site_key String, version UInt64) ENGINE = ReplacingMergeTree(version) ORDER BY site_key"
    assert for_host(create, LAYOUTS["shards"], HOSTS[0])[1].endswith("Distributed(tracker, db, sites_local, 0)")
    (replicated,) = for_host(create, LAYOUTS["replicas"], HOSTS[1])
    assert "ReplicatedReplacingMergeTree('/clickhouse/tables/all/db/sites', '{shard}-{replica}', version)" in replicated


def test_views_and_backfills_work_on_the_local_tables():
    view = "CREATE MATERIALIZED VIEW IF NOT EXISTS v_mv TO identities_by_user\nAS SELECT site FROM identities"
    assert for_host(view, LAYOUTS["shards"], HOSTS[0]) == [
        "CREATE MATERIALIZED VIEW IF NOT EXISTS v_mv TO identities_by_user_local AS SELECT site FROM identities_local"]
    backfill = "INSERT INTO identities_by_user SELECT site FROM identities"
    assert for_host(backfill, LAYOUTS["replicas"], HOSTS[1]) == []  # the first replica's copy replicates
    assert for_host(backfill, LAYOUTS["replicas"], HOSTS[2]) == [
        "INSERT INTO identities_by_user_local SELECT site FROM identities_local"]


def test_a_new_column_goes_to_the_local_table_once_per_replica_set_and_to_the_distributed_one():
    alter = "ALTER TABLE events ADD COLUMN x String"
    assert for_host(alter, LAYOUTS["shards"], HOSTS[2]) == ["ALTER TABLE events_local ADD COLUMN x String",
                                                             "ALTER TABLE events ADD COLUMN x String"]
    assert for_host(alter, LAYOUTS["replicas"], HOSTS[1]) == ["ALTER TABLE events ADD COLUMN x String"]
    assert for_host("ALTER TABLE sites ADD COLUMN y UInt8", LAYOUTS["replicas"], HOSTS[2]) == []


def test_an_unknown_statement_is_refused_with_the_way_out():
    with pytest.raises(UnknownStatement, match="cluster_schema.py"):
        for_host("ALTER TABLE events DROP COLUMN x", LAYOUTS["shards"], HOSTS[0])


def test_rows_land_on_the_shard_the_distributed_table_picks(pair):
    """The writer's routing (Python) and a Distributed insert (ClickHouse) agree, so a person's
    journey state has all its versions on one shard whoever wrote them."""
    _, cluster = pair
    site = "r_" + uuid.uuid4().hex[:8]
    people = [f"p{i}" for i in range(40)]
    cluster.execute("INSERT INTO journey_state (site, journey_id, person, build, version) "
                    "SELECT %(site)s, 'via-distributed', arrayJoin(%(people)s), 'b', 1", {"site": site, "people": people})
    cluster.insert("journey_state", ["site", "journey_id", "person", "build", "version"],
                   [(site, "via-writer", person, "b", 1) for person in people])
    for index, shard in enumerate(cluster.shards):
        host = cluster.replicas(shard)[0]
        rows = cluster.host(host).query("SELECT journey_id, person FROM journey_state_local WHERE site = %(site)s",
                                        {"site": site})
        placed = {(j, p) for j, p in rows}
        want = {p for p in people if shard_index(p, len(cluster.shards)) == index}
        assert placed == {(j, p) for p in want for j in ("via-distributed", "via-writer")}
        assert want, "forty people all on one shard: the routing is not spreading them"
    assert SHARDED["journey_state"] == "person"


def test_weighted_shards_take_their_share_of_slots():
    """A shard of weight 2 beside one of weight 1 takes the slots 1 and 2 of halfMD5 % 3."""
    values = [f"v{i}" for i in range(300)]
    placed = [shard_index(v, [1, 2]) for v in values]
    slots = [int.from_bytes(hashlib.md5(v.encode()).digest()[:8], "big") % 3 for v in values]
    assert placed == [0 if slot == 0 else 1 for slot in slots]


def test_the_automations_feed_lies_beside_the_transitions_it_copies(pair):
    """0030's view fires on each shard's local transitions and writes the feed there: the feed
    is sharded by person like them, so a person's feed and outbox rows share a shard."""
    _, cluster = pair
    site = "a_" + uuid.uuid4().hex[:8]
    people = [f"p{i}" for i in range(40)]
    values = {c: 0 if c.endswith(("_ms", "_stage")) else "" for c in state.TRANSITION_COLUMNS}
    cluster.insert("journey_transitions", state.TRANSITION_COLUMNS,
                   [tuple(dict(values, id=f"t-{p}", site=site, person=p, kind="entered").values()) for p in people])
    assert SHARDED["automation_feed"] == SHARDED["automation_outbox"] == SHARDED["journey_transitions"] == "person"
    for shard in cluster.shards:
        host = cluster.host(cluster.replicas(shard)[0])
        [transitions, feed] = [{p for (p,) in host.query(f"SELECT person FROM {table} WHERE site = %(site)s",
                                                          {"site": site})}
                               for table in ("journey_transitions_local", "automation_feed_local")]
        assert feed == transitions and transitions, f"shard {shard}"
    assert cluster.query("SELECT count() FROM automation_feed WHERE site = %(site)s", {"site": site}).scalar() == 40
