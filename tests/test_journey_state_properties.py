"""Property test of journey state: random touchpoints arrive in random batches and orders (late,
out of order, retried, a second device linked later, the definition edited on the way); once the
worker has caught up, every figure read from state equals the live engine, replaying a person's
transitions gives their stage, no transition is written twice, and a retry causes none."""
import os
import uuid

from hypothesis import HealthCheck, given, settings, strategies as st

from test_funnel_properties import BASE, DAY, EVENT, JOURNEYS, W, build_events, row
from tracker.ingest.touchpoints import EVENT_COLUMNS
from tracker.journeys import definitions, reports, state, transitions
from tracker.worker import JourneyWorker

AS_OF = BASE + 3 * W
DAY0 = BASE - BASE % DAY  # the UTC day of BASE (its touchpoints reach into the next two)
DAY1 = DAY0 + DAY
# Ranges that cut a day are read from the state rows, ranges of whole days from their sums.
RANGES = ((BASE, BASE + 1000), (BASE, AS_OF), (BASE + W, AS_OF),
          (DAY0, AS_OF), (DAY1, AS_OF), (0, DAY1 - 1), (DAY1, DAY1 + DAY - 1), (DAY0, DAY1 + DAY - 1))
STATUSES = ("reached", "at", "in_progress", "dropped", "stalled")


def catch_up(worker):
    """Rounds until the worker has nothing left to do (builds ready, changes applied)."""
    for _ in range(20):
        done = worker.run_once(as_of=AS_OF)
        assert done is not None, "the worker did not get its lease"
        if done == {"persons": 0, "transitions": 0}:
            return
    raise AssertionError("the worker did not settle")


def assert_state_equals_live(store, site, journey_id):
    journey = definitions.get(store, site, journey_id)
    build = state.build_of(journey)
    assert state.build_status(store, site, journey)["status"] == "ready"
    for start, end in RANGES:
        for breakdown in (None, "channel", "first_touch_channel"):
            live = reports.funnel(store, journey, site, start, end, AS_OF, breakdown)
            stored = reports.funnel(store, journey, site, start, end, AS_OF, breakdown, build=build)
            assert stored == live, (start, end, breakdown)
    for start, end in ((0, AS_OF), (DAY1, AS_OF), (0, DAY1 - 1)):
        for status in STATUSES:
            for stage in [None] + list(range(1, len(journey["stages"]) + 1)):
                if status != "reached" and stage is None and status != "at":
                    continue
                args = (store, journey, site, status, stage, AS_OF)
                live, _ = reports.people(*args, limit=500, start_ms=start, end_ms=end)
                stored, _ = reports.people(*args, limit=500, start_ms=start, end_ms=end, build=build)
                assert stored == live, (status, stage, start, end)
    return journey, build


def assert_transitions_replay(store, site, journey_id, build):
    stages = dict(store.query("SELECT person, arrayReduce('max', a_stage) FROM journey_state FINAL "
                              "WHERE site = %(site)s AND journey_id = %(j)s AND build = %(b)s",
                              {"site": site, "j": journey_id, "b": build}))
    rows = store.query("""SELECT person, kind, run_ms, from_stage, to_stage, at_ms FROM journey_transitions
        WHERE site = %(site)s AND journey_id = %(j)s AND build = %(b)s ORDER BY detected_ms, at_ms""",
                       {"site": site, "j": journey_id, "b": build})
    by_person = {}
    for person, kind, run_ms, from_stage, to_stage, at_ms in rows:
        by_person.setdefault(person, []).append(transitions.Transition(kind, run_ms, from_stage, to_stage, at_ms, 0))
    for person in set(stages) | set(by_person):
        assert transitions.replay(by_person.get(person, [])) == stages.get(person, 0), person
    repeated = store.query("SELECT id, count() AS n FROM journey_transitions WHERE site = %(site)s "
                           "GROUP BY id HAVING n > 1", {"site": site})
    assert list(repeated) == []


def count_transitions(store, site):
    return store.query("SELECT count() FROM journey_transitions WHERE site = %(site)s", {"site": site}).scalar()


@settings(max_examples=int(os.environ.get("PROPERTY_EXAMPLES", 4)), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(journey=JOURNEYS, edited=st.one_of(st.none(), JOURNEYS), specs=st.lists(EVENT, min_size=1, max_size=10),
       cuts=st.lists(st.integers(0, 10), max_size=3), shuffle=st.randoms(use_true_random=False),
       link_at=st.one_of(st.none(), st.integers(0, 3)), parted=st.booleans())
def test_state_equals_the_live_engine_whatever_the_arrival(store, journey, edited, specs, cuts, shuffle, link_at,
                                                          parted, monkeypatch):
    # parted: a rebuild (after the edit) in parts of three touchpoints' worth, as a big site's
    monkeypatch.setattr(state, "REBUILD_PART_TOUCHPOINTS", 3 if parted else state.REBUILD_PART_TOUCHPOINTS)
    site = "s_" + uuid.uuid4().hex[:8]
    events = build_events(specs, site)
    arrival = list(events)
    shuffle.shuffle(arrival)
    bounds = sorted({0, len(arrival), *[min(c, len(arrival)) for c in cuts]})
    batches = [arrival[a:b] for a, b in zip(bounds, bounds[1:])]
    definitions.save(store, site, "j", definitions.validate_definition(journey))
    worker = JourneyWorker(store)
    try:
        catch_up(worker)
        for i, batch in enumerate(batches):
            store.insert("events", EVENT_COLUMNS, [row(ev) for ev in batch])
            if link_at == i:
                store.insert("identities", ["site", "visitor_id", "user_id", "linked_at"],
                             [(site, "u0-laptop", "u0", BASE // 1000 + 10)])
            if edited is not None and i == len(batches) // 2:
                definitions.save(store, site, "j", definitions.validate_definition(edited))
            catch_up(worker)
        _, build = assert_state_equals_live(store, site, "j")
        assert_transitions_replay(store, site, "j", build)
        before = count_transitions(store, site)
        store.insert("events", EVENT_COLUMNS, [row(ev) for ev in batches[0]])  # a retry of the first batch
        catch_up(worker)
        assert count_transitions(store, site) == before
    finally:
        worker.stop()
