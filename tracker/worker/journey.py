"""One journey's state brought up to date: persons recomputed, time-driven changes swept, and a
new build computed in two steps (every state in one INSERT SELECT, then the transitions)."""
import time
from concurrent.futures import ThreadPoolExecutor

from ..journeys import engine, state, transitions
from ..store import mutations
from ..store.backend import Members
from ..journeys.state import PersonState
from .changes import visitors_of_persons

# People recomputed in one engine query. A query names their visitors, and ClickHouse reads a
# whole granule (8,192 rows) for each of them: many at once cost about one scan of the site.
PERSONS_PER_QUERY = 20_000
# Fewer people than twice this are one batch (two would each cost a query's fixed time).
PERSONS_PER_THREAD = 1000
# People whose history one slice of a new build derives.
PERSONS_PER_SLICE = 2000


def derive(site, journey, build, before, after, as_of):
    """The transitions to record when a person's state goes from ``before`` (None: never derived)
    to ``after`` at ``as_of``; sets ``after``'s computed time and next deadline."""
    derived_before = before is not None and before.computed_at > 0
    old_runs = transitions.runs_of_journey(before.attempts(), journey) if derived_before else []
    runs = transitions.runs_of_journey(after.attempts(), journey)
    old = transitions.implied(old_runs, before.touch_times, journey, before.computed_at) if derived_before else []
    new = transitions.implied(runs, after.touch_times, journey, as_of)
    if derived_before:
        new += transitions.lowered(old_runs, runs, as_of)
    # compared by what they say; only those to record are hashed into ids
    known = {transitions.identity(t) for t in old}
    fresh = {}
    for t in new:
        if transitions.identity(t) not in known:
            fresh.setdefault(transitions.identity(t), t)
    transitions.with_ids(site, journey["id"], build, after.person, fresh.values())
    after.computed_at = as_of
    deadline = transitions.next_deadline(runs, after.touch_times, journey, as_of)
    settles = after.settles_at(journey)
    after.settled = int(settles <= as_of)
    # the sweep comes back when the person settles, too: the sums then drop their open row
    after.next_deadline = deadline if after.settled else min(deadline or settles, settles)
    return list(fresh.values())


def _unchanged(before, after):
    keep = ("a_entry", "a_stage", "a_times", "a_values", "first_channel", "last_ts", "touch_times", "capped",
            "next_deadline", "settled")
    return before is not None and all(getattr(before, f) == getattr(after, f) for f in keep)


def update_persons(store, site, journey, build, persons, as_of=None):
    """Recompute ``persons`` with the engine; record their new transitions and states. Returns
    (persons written, transitions written).

    Batches of people run two at a time: while ClickHouse computes one, Python derives the
    other's transitions (and each insert's views get a core of their own)."""
    as_of = as_of or state.now_ms()
    count = max(-(-len(persons) // PERSONS_PER_QUERY), 2 if len(persons) >= 2 * PERSONS_PER_THREAD else 1)
    size = -(-len(persons) // count) if persons else 1
    batches = [persons[i:i + size] for i in range(0, len(persons), size)]
    if len(batches) == 1:
        done = [_update_batch(store, site, journey, build, batches[0], as_of)]
    else:
        with ThreadPoolExecutor(2, thread_name_prefix="journey-batch") as pool:
            done = list(pool.map(lambda batch: _update_batch(store, site, journey, build, batch, as_of), batches))
    return sum(w for w, _ in done), sum(f for _, f in done)


def _update_batch(store, site, journey, build, batch, as_of):
    visitors = visitors_of_persons(store, site, batch)
    old = state.read_states(store, site, journey["id"], build, batch)
    new = state.computed_states(store, journey, site, batch, set().union(*visitors.values()), as_of)
    states, replaced, changes = [], [], []
    for person in batch:
        before = old.get(person)
        if before is None and person not in new:
            continue
        after = new.get(person) or PersonState(person)  # nothing left: the person left the journey
        derived = derive(site, journey, build, before, after, as_of)
        if derived or not _unchanged(before, after):
            changes += [(person, t) for t in derived]
            states.append(after)
            replaced.append(before)
    record(store, site, journey, build, changes, visitors, as_of)
    state.write_states(store, site, journey["id"], build, states, replaced)
    return len(states), len(changes)


def record(store, site, journey, build, changes, visitors, detected_ms):
    """Store transitions ``[(person, Transition)]`` with the touchpoints that caused them."""
    if not changes:
        return
    causes = _causes(store, site, {(person, t.cause_ms) for person, t in changes if t.cause_ms}, visitors)
    rows = []
    for person, t in changes:
        cause = causes.get((person, t.cause_ms), {})
        rows.append((t.id, site, journey["id"], person, t.kind, t.run_ms, t.from_stage, t.to_stage, t.at_ms,
                     detected_ms, t.dwell_ms, cause.get("event_id", ""), cause.get("type", ""),
                     cause.get("name", ""), cause.get("url", ""), cause.get("channel", ""),
                     cause.get("utm_campaign", ""), build))
    store.insert("journey_transitions", state.TRANSITION_COLUMNS, rows)


def _causes(store, site, wanted, visitors):
    """{(person, ms): the touchpoint of that person at that moment} (type, name, url, channel…)."""
    if not wanted:
        return {}
    persons = {person for person, _ in wanted}
    person_of_visitor = {}
    for person in persons:
        for visitor in visitors.get(person, ()):
            person_of_visitor.setdefault(visitor, set()).add(person)
    moments = sorted({ms for _, ms in wanted})
    where = (f"site = %(site)s AND {engine.VISITOR_IN} AND event_time >= toDateTime(intDiv(%(first)s, 1000)) "
             "AND event_time <= toDateTime(intDiv(%(last)s, 1000))")
    columns = ["visitor_id", "user_id", "event_id", engine.TS, "type", "name", "url", "utm_campaign"]
    rows = store.query(f"""
        SELECT visitor_id, user_id, event_id, ts, type, name, url, channel, utm_campaign
        FROM ({engine.touchpoints_sql(columns, where, where.replace('%(first)s', '%(first)s - 86400000'))})
        WHERE ts IN %(moments)s ORDER BY event_id""",
                       {"site": site, "visitors": Members(sorted(person_of_visitor)), "first": moments[0],
                        "last": moments[-1], "moments": Members(moments, "UInt64"), "as_of": moments[-1]})
    found = {}
    for row in rows.dicts():
        for person in person_of_visitor.get(row["visitor_id"], ()):
            if row["user_id"] in ("", person) and (person, row["ts"]) in wanted:
                found.setdefault((person, row["ts"]), row)
    return found


def sweep(store, journeys, as_of=None):
    """Record the time-driven changes that are due (windows closed, silences grown long).
    ``journeys``: {(site, journey_id): definition} of the current builds. Returns the number of
    transitions written."""
    as_of = as_of or state.now_ms()
    written = 0
    due = state.due_states(store, as_of)
    by_journey = {}
    for site, journey_id, build, person_state in due:
        by_journey.setdefault((site, journey_id, build), []).append(person_state)
    for (site, journey_id, build), states in by_journey.items():
        journey = journeys.get((site, journey_id))
        if journey is None or state.build_of(journey) != build:
            continue
        changes, replaced = [], []
        for person_state in states:
            before = PersonState(**{**person_state.__dict__})
            replaced.append(before)
            changes += [(person_state.person, t) for t in derive(site, journey, build, before, person_state, as_of)]
        visitors = visitors_of_persons(store, site, [s.person for s in states]) if changes else {}
        record(store, site, journey, build, changes, visitors, as_of)
        state.write_states(store, site, journey_id, build, states, replaced)
        written += len(changes)
    return written


def rebuild_states(store, site, journey, build, as_of=None):
    """A new build's first step: every person's state, in ClickHouse (and its sums, by the
    views). Readable afterwards. A build computed again (after a failure) starts empty."""
    state.record_build(store, site, journey["id"], build, "building")
    # any of them: sums left without their states (one table restored, or emptied) would
    # otherwise count their people twice
    if any(store.query(f"SELECT count() FROM {table} WHERE site = %(site)s AND journey_id = %(j)s "
                       "AND build = %(build)s", {"site": site, "j": journey["id"], "build": build}).scalar()
           for table in state.BUILD_TABLES):
        state.delete_builds(store, site, journey["id"], "build = %(b)s", build)
        mutations.wait(store, state.BUILD_TABLES, timeout=state.REBUILD_SECONDS)
    state.insert_all_states(store, dict(journey, id=journey["id"]), site, build, as_of or state.now_ms())
    # the rebuild's own rows (sign 2): one a person, no FINAL needed
    persons = store.query("SELECT count() FROM journey_state WHERE site = %(site)s AND journey_id = %(j)s "
                          "AND build = %(build)s AND sign = 2",
                          {"site": site, "j": journey["id"], "build": build}).scalar()
    state.record_build(store, site, journey["id"], build, "transitions", persons=persons)
    return persons


def derive_history(store, site, journey, build, status, budget_seconds=2.0, as_of=None, cursor=None):
    """A new build's second step, a slice of people at a time: the transitions of those whose
    state has none derived yet. ``cursor`` (a dict the caller keeps between calls) holds the
    slices' bounds and how far it got. Returns True when none is left (the build is 'ready')."""
    deadline = time.monotonic() + budget_seconds
    done = status.get("transitions_done", 0)
    cursor = cursor if cursor is not None else {}
    if "bounds" not in cursor:
        cursor.update(bounds=state.person_slices(store, site, journey["id"], build, PERSONS_PER_SLICE), at=0)
    while time.monotonic() < deadline:
        bounds, at = cursor["bounds"], cursor["at"]
        if at > len(bounds):
            state.record_build(store, site, journey["id"], build, "ready", persons=status.get("persons", 0),
                               transitions_done=done)
            return True
        after, until = (bounds[at - 1] if at else ""), (bounds[at] if at < len(bounds) else None)
        pending = state.states_without_transitions(store, site, journey["id"], build, after, until)
        now = as_of or state.now_ms()
        changes, replaced = [], [PersonState(**{**s.__dict__}) for s in pending]
        for person_state in pending:
            changes += [(person_state.person, t) for t in derive(site, journey, build, None, person_state, now)]
        if pending:
            visitors = visitors_of_persons(store, site, [s.person for s in pending])
            record(store, site, journey, build, changes, visitors, now)
            state.write_states(store, site, journey["id"], build, pending, replaced)
        done += len(pending)
        cursor["at"] = at + 1
    state.record_build(store, site, journey["id"], build, "transitions", persons=status.get("persons", 0),
                       transitions_done=done)
    return False


def forget_other_builds(store, site, journey_id, build):
    """Delete the state rows (and sums) of a journey's earlier builds once ``build`` is ready
    (the transitions of every build stay: they are the log)."""
    state.delete_builds(store, site, journey_id, "build != %(b)s", build)
