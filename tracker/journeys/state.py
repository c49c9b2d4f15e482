"""Journey state: each person's place in each journey, kept in ``journey_state`` by the journey
worker (the only writer), and the stage changes in ``journey_transitions``.

A state row holds what the engine found (every clean attempt, the last touchpoint, the
touchpoint times); statuses (in progress, dropped, stalled) are derived when read, from those
times and ``as_of``, so time passing needs no write. A row belongs to a *build*: the definition
and engine it was computed with. After an edit the worker computes a new build in the
background, and until it is ready, reads of that journey use the live engine.

Every write replaces a person's row by a pair: a copy of the row it replaces with ``sign`` -1,
and the new row. Views over the table (migration 0050) keep its sums, ``journey_tally`` and
``journey_people``, from both, so the sums always describe the newest rows; funnels and people
lists read those (``tally.py``).
"""
import hashlib
import json
import time
from dataclasses import dataclass, field

from ..clock import DAY_MS
from ..clock import now_ms  # noqa: F401  (the worker reads it as state.now_ms)
from ..store.backend import Members
from . import engine, tally
from .definitions import window_ms
from .rules import ENTRY_BREAKDOWNS

# Raise when the engine's semantics or the state's shape change: every journey is rebuilt.
ENGINE_VERSION = "2"  # 2: the sums of migration 0050, times rounded (durations.py)
# What a definition may change without changing anyone's stage.
_DISPLAY_ONLY = ("id", "name", "description")

STATE_COLUMNS = ["site", "journey_id", "person", "build", "a_entry", "a_stage", "a_times", "a_values",
                 "stage", "entry", "times", "vals", "entry_min", "entry_max",
                 "first_channel", "last_ts", "touch_times", "capped", "computed_at", "next_deadline", "version",
                 "settled", "sign"]
TRANSITION_COLUMNS = ["id", "site", "journey_id", "person", "kind", "run_ms", "from_stage", "to_stage", "at_ms",
                      "detected_ms", "dwell_ms", "cause_event_id", "cause_type", "cause_name", "cause_url",
                      "cause_channel", "cause_campaign", "build"]
BUILD_COLUMNS = ["site", "journey_id", "build", "status", "persons", "transitions_done", "started_at",
                 "updated_at", "error", "version"]
# A rebuild computes every person of a journey in one statement: it may take long.
REBUILD_SECONDS = 3600
# A site with more touchpoints is rebuilt in parts of its people, each within the query limits.
REBUILD_PART_TOUCHPOINTS = 20_000_000
# A read as of "now" (give or take this) may come from journey state; an earlier as_of needs
# the touchpoints themselves, through the live engine. A person is settled (nothing changes
# for them with time) only once their last deadline is this far behind the computation, so a
# read from state, never earlier than that, sees them as settled too.
AS_OF_SLACK_MS = 60_000
ENGINE_COLUMNS = ["person", "a_entry", "a_stage", "a_times", "a_values", "stage", "entry", "times", "vals",
                  "entry_min", "entry_max", "first_channel", "last_ts", "touch_times", "capped"]


def build_of(journey):
    """The build a definition's state is computed as: its semantics and the engine's, hashed."""
    meaningful = {key: value for key, value in journey.items() if key not in _DISPLAY_ONLY}
    meaningful["stages"] = [stage["match"] for stage in journey["stages"]]
    text = json.dumps([ENGINE_VERSION, list(ENTRY_BREAKDOWNS), meaningful], sort_keys=True)
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


@dataclass
class PersonState:
    """One person's state in one journey (a row of ``journey_state``)."""

    person: str
    a_entry: list = field(default_factory=list)
    a_stage: list = field(default_factory=list)
    a_times: list = field(default_factory=list)
    a_values: list = field(default_factory=list)
    stage: int = 0
    entry: int = 0
    times: list = field(default_factory=list)
    vals: list = field(default_factory=list)
    entry_min: int = 0
    entry_max: int = 0
    first_channel: str = ""
    last_ts: int = 0
    touch_times: list = field(default_factory=list)
    capped: int = 0
    computed_at: int = 0
    next_deadline: int = 0
    settled: int = 0
    version: int = 0

    @classmethod
    def from_row(cls, row):
        return cls(**{key: (list(value) if isinstance(value, (list, tuple)) else value)
                      for key, value in row.items() if key in cls.__dataclass_fields__})

    def attempts(self):
        """Clean attempts as ``[(entry, stage, times)]``."""
        return [(e, s, list(t)) for e, s, t in zip(self.a_entry, self.a_stage, self.a_times)]

    def row(self, site, journey_id, build, version, sign=1):
        values = dict(self.__dict__, site=site, journey_id=journey_id, build=build, version=version, sign=sign)
        return tuple(values[c] for c in STATE_COLUMNS)

    def settles_at(self, journey):
        """When nothing about the person changes with time any more (every window from their
        entries closed, silent past the stall time), with the read slack: then ``settled``."""
        last = max(self.entry_max + window_ms(journey), self.last_ts + journey["stall_after_days"] * DAY_MS)
        return last + AS_OF_SLACK_MS + 1


_KEY_FILTER = "site = %(site)s AND journey_id = %(journey)s"


def _state_filter():
    return f"{_KEY_FILTER} AND build = %(build)s"


def newest_sql(columns, rows_filter, builds_filter):
    """The rows FINAL would read, for a few people: of each journey and person among the rows
    ``rows_filter`` selects by the key (site, journey, person), the newest version, if of a
    build ``builds_filter`` takes; with journey_id, person, ``columns`` and build. One GROUP BY of
    those rows, where FINAL merges the parts' rows in key order: one person's state at 10M
    touchpoints, parts unmerged after a catch-up, 36-40 -> 15 ms on the server, 12 -> 6 ms on chDB."""
    newest = ", ".join(f"newest.{i + 1} AS {c}" for i, c in enumerate(columns))
    return f"""
        SELECT journey_id, person, {newest}, newest.{len(columns) + 1} AS build
        FROM (SELECT journey_id, person, argMax(({', '.join(columns)}, build), version) AS newest
              FROM journey_state WHERE {rows_filter}
              GROUP BY journey_id, person)
        WHERE {builds_filter}"""


def read_states(store, site, journey_id, build, persons):
    """{person: PersonState} of ``persons`` in the build (those without a row are left out)."""
    if not persons:
        return {}
    columns = [c for c in STATE_COLUMNS if c in PersonState.__dataclass_fields__ and c != "person"]
    # 5,000 people of 1M on the server, parts unmerged: 1.6 s with FINAL, 0.3 s so
    rows = store.query(newest_sql(columns, f"{_KEY_FILTER} AND person IN %(persons)s", "build = %(build)s"),
                       {"site": site, "journey": journey_id, "build": build, "persons": Members(sorted(persons))})
    return {row["person"]: PersonState.from_row(row) for row in rows.dicts()}


def write_states(store, site, journey_id, build, states, replaced=()):
    """Store new versions of person states (an empty one stands for a person who left), each
    with the copy that takes its previous row (``replaced``: the rows as read, None for a person
    who had none) out of the sums. One insert: the sums change at once."""
    version = time.time_ns()
    rows = [old.row(site, journey_id, build, old.version, sign=-1) for old in replaced if old and old.a_entry]
    newest = max((old.version for old in replaced if old), default=0)
    rows += [state.row(site, journey_id, build, max(version, newest + 1) + i) for i, state in enumerate(states)]
    store.insert("journey_state", STATE_COLUMNS, rows)


def computed_states(store, journey, site, persons, visitors, as_of):
    """{person: PersonState} of ``persons`` as the engine finds them now (their touchpoints are
    on ``visitors``); a person with no clean attempt is left out."""
    q = engine.Query(journey, site, 0, as_of, as_of, visitors=visitors, state=True)
    rows = store.query(engine.state_sql(q), q.params.values, settings=engine.QUERY_SETTINGS)
    wanted = set(persons)
    return {row["person"]: PersonState.from_row(row) for row in rows.dicts()
            if row["person"] in wanted and row["a_entry"]}


def insert_all_states(store, journey, site, build, as_of):
    """Compute every person's state in ClickHouse and store it (a rebuild's first step), with
    no transitions derived yet (``computed_at`` 0), and add it to the sums. Returns nothing: it
    is an INSERT SELECT into the state, then one into each of its sums."""
    version = time.time_ns()
    touchpoints = store.query("SELECT count() FROM events WHERE site = %(site)s", {"site": site}).scalar()
    parts = max(1, -(-touchpoints // REBUILD_PART_TOUCHPOINTS))
    for part in range(parts):  # one part at a time: the memory a rebuild takes is a part's
        q = engine.Query(journey, site, 0, as_of, as_of, state=True, part=(part, parts) if parts > 1 else None)
        q.params.values.update(journey_id=journey["id"], build=build, version=version, stall=q.stall_ms,
                               slack=AS_OF_SLACK_MS)
        # settled: as PersonState.settles_at says
        store.execute(f"""
            INSERT INTO journey_state ({', '.join(STATE_COLUMNS)})
            SELECT %(site)s, %(journey_id)s, person, %(build)s, {', '.join(ENGINE_COLUMNS[1:])},
                   toUInt64(0), toUInt64(0), toUInt64(%(version)s),
                   toUInt8(greatest(entry_max + %(window)s, last_ts + %(stall)s) + %(slack)s + 1 <= %(as_of)s), toInt8(2)
            FROM ({engine.state_sql(q)})
            WHERE notEmpty(a_entry)""", q.params.values, settings=rebuild_settings(store))
    tally.sum_rebuilt(store, site, journey["id"], build, version, settings=rebuild_settings(store))


def rebuild_settings(store):
    """A rebuild's statements: as a report's query (spilling its GROUP BY to disk, past half
    the memory it may use), with the rebuild's own time limit."""
    limits = store.limited(dict(engine.QUERY_SETTINGS, max_execution_time=REBUILD_SECONDS))
    return dict(limits, max_bytes_before_external_group_by=limits["max_memory_usage"] // 2)


def person_slices(store, site, journey_id, build, size):
    """Bounds that cut a build's people, in key order, into slices of about ``size``: a slice
    is then a range of the primary key, read without scanning the rest."""
    rows = store.query(f"""
        SELECT person FROM (SELECT DISTINCT person FROM journey_state WHERE {_state_filter()} ORDER BY person)
        WHERE modulo(rowNumberInAllBlocks(), %(size)s) = %(size)s - 1""",
                       {"site": site, "journey": journey_id, "build": build, "size": size})
    return [person for (person,) in rows]


def states_without_transitions(store, site, journey_id, build, after, until=None):
    """The states of people in (``after``, ``until``] (None: to the end) whose transitions were
    never derived: a rebuild's second step walks the people a slice at a time."""
    columns = [c for c in STATE_COLUMNS if c in PersonState.__dataclass_fields__]
    upper = " AND person <= %(until)s" if until is not None else ""
    rows = store.query(f"""
        SELECT {', '.join(columns)} FROM journey_state FINAL
        WHERE {_state_filter()} AND person > %(after)s{upper} AND computed_at = 0 AND notEmpty(a_entry)
        ORDER BY person""", {"site": site, "journey": journey_id, "build": build, "after": after, "until": until})
    return [PersonState.from_row(row) for row in rows.dicts()]


def due_states(store, as_of, limit=5000):
    """States whose next time-driven change is due: [(site, journey_id, build, PersonState)].

    The candidates come from a plain read of the deadlines (FINAL over the whole table would
    merge every row); only theirs are read with FINAL, and kept if still due."""
    candidates = store.query("""
        SELECT site, journey_id, groupUniqArray(person) FROM (
            SELECT DISTINCT site, journey_id, person FROM journey_state
            WHERE next_deadline > 0 AND next_deadline <= %(as_of)s AND sign > 0 LIMIT %(limit)s)
        GROUP BY site, journey_id""", {"as_of": as_of, "limit": limit})
    columns = [c for c in STATE_COLUMNS if c in PersonState.__dataclass_fields__]
    due = []
    for site, journey_id, persons in candidates:
        rows = store.query(f"""
            SELECT build, {', '.join(columns)} FROM journey_state FINAL
            WHERE site = %(site)s AND journey_id = %(journey)s AND person IN %(persons)s""",
                           {"site": site, "journey": journey_id, "persons": Members(sorted(persons))})
        due += [(site, journey_id, r["build"], PersonState.from_row(r)) for r in rows.dicts()
                if 0 < r["next_deadline"] <= as_of]
    return due


def cancel_persons(store, site, persons):
    """Take ``persons`` out of every journey's sums (before their rows are erased): a copy of
    each of their rows with ``sign`` -1."""
    if not persons:
        return
    rows = store.query(f"""
        SELECT {', '.join(STATE_COLUMNS)} FROM journey_state FINAL
        WHERE site = %(site)s AND person IN %(persons)s AND notEmpty(a_entry)""",
                       {"site": site, "persons": Members(sorted(persons))})
    cancels = [tuple(-1 if c == "sign" else v for c, v in zip(STATE_COLUMNS, row)) for row in rows]
    if cancels:
        store.insert("journey_state", STATE_COLUMNS, cancels)


# The tables of one build: its rows, and the sums kept from them.
BUILD_TABLES = ("journey_state", "journey_tally", "journey_people", "journey_people_hours")


def delete_builds(store, site, journey_id, condition, build):
    """Delete the rows of a journey's builds where ``condition`` holds of ``build`` ('build =
    %(b)s': a build computed again after a failure; 'build != %(b)s': the old builds, once
    ``build`` is ready) from the state and its sums."""
    for table in BUILD_TABLES:
        store.delete_where(table, f"site = %(site)s AND journey_id = %(j)s AND {condition}",
                           {"site": site, "j": journey_id, "b": build})


# -- builds -------------------------------------------------------------------------------

def builds(store, site=None):
    """{(site, journey_id): {build: status row}} of every build (of one site, if given)."""
    where = "WHERE site = %(site)s" if site else ""
    rows = store.query(f"""
        SELECT site, journey_id, build, argMax(status, version) AS status, argMax(persons, version) AS persons,
               argMax(transitions_done, version) AS transitions_done, min(started_at) AS started_at,
               max(updated_at) AS updated_at, argMax(error, version) AS error
        FROM journey_builds {where} GROUP BY site, journey_id, build""", {"site": site})
    found = {}
    for row in rows.dicts():
        found.setdefault((row["site"], row["journey_id"]), {})[row["build"]] = row
    return found


def record_build(store, site, journey_id, build, status, persons=0, transitions_done=0, error=""):
    now = int(time.time())
    store.insert("journey_builds", BUILD_COLUMNS, [(site, journey_id, build, status, persons, transitions_done,
                                                    now, now, error[:2000], time.time_ns())])


def build_status(store, site, journey):
    """The state build of ``journey``'s current definition: None when it has none yet, else
    {"build", "status" ('building'; 'transitions' while history is derived, readable; 'ready';
    'failed'), "persons", "transitions_done", "started_at", "updated_at", "error"}."""
    return status_in_builds(builds(store, site), site, journey)


def status_in_builds(found, site, journey):
    """``build_status`` of ``journey`` among the site's builds ``found`` (as ``builds`` returns)."""
    build = build_of(journey)
    status = found.get((site, journey["id"]), {}).get(build)
    return dict(status, build=build) if status else None


READABLE = ("transitions", "ready")


def build_progress(status):
    """What a reader is told of a build under way (None when there is none yet)."""
    if status is None:
        return {"status": "waiting", "persons": 0, "transitions_done": 0}
    keys = ("status", "persons", "transitions_done", "started_at", "updated_at", "error")
    return {key: status[key] for key in keys}


def worker_lag(store):
    """Seconds the journey worker is behind what arrived (None when no worker has reported)."""
    text = store.query("SELECT argMax(value, version) FROM worker_status WHERE name = 'status' "
                       "HAVING count() > 0").scalar()
    return json.loads(text).get("lag_seconds") if text else None


def readable_builds(store, site, journeys):
    """{journey id: build} of ``journeys`` whose current build can be read."""
    found = builds(store, site)
    readable = {}
    for journey in journeys:
        build = build_of(journey)
        if found.get((site, journey["id"]), {}).get(build, {}).get("status") in READABLE:
            readable[journey["id"]] = build
    return readable


# -- reads --------------------------------------------------------------------------------

# A state row's attempts (as the engine's tuples) with their entry up to ``as_of``.
ATTEMPTS_UNTIL_AS_OF = ("arrayFilter(a -> a.2 <= %(as_of)s, arrayMap((e, s, t, v) -> (s, e, t, toUInt8(0), v), "
                        "a_entry, a_stage, a_times, a_values))")


# A person all of whose entries lie in the range: their furthest attempt of all is the one.
_ALL_IN_RANGE = "entry_min >= %(start)s AND entry_max <= %(end)s"


def persons_sql(q, build):
    """Each person's chosen attempt from state (the furthest with its entry in the range), in
    the shape of ``engine.persons_sql``, so the funnel and people builders read either. ``q``
    is a ``state=True`` query (every entry breakdown is kept).

    Two parts: the people all of whose entries lie in the range (nearly everyone, for the
    usual ranges) are read from the flat columns, without touching the attempt arrays; only
    those with entries on both sides of a bound have their attempts picked from."""
    q.params.values.update(journey_id=q.journey["id"], build=build)
    mine = "site = %(site)s AND journey_id = %(journey_id)s AND build = %(build)s"
    # One lambda: 18.16 spends about a millisecond analysing each lambda of a query, which here
    # would cost more than reading the rows.
    rank = f"arrayMap((e, s) -> if(e >= %(start)s AND e <= %(end)s, s * {engine.ENTRY_SCALE} + e, 0), a_entry, a_stage)"
    return f"""SELECT person, stage, entry, times, last_ts, {engine.bd_sql(q, 'vals')} AS bd
        FROM journey_state FINAL
        WHERE {mine} AND {_ALL_IN_RANGE}
    UNION ALL
    SELECT person, a_stage[i] AS stage, a_entry[i] AS entry, a_times[i] AS times, last_ts,
           {engine.bd_sql(q, 'a_values[i]')} AS bd
    FROM (SELECT person, a_entry, a_stage, a_times, a_values, last_ts, first_channel,
                 {rank} AS rank, indexOf(rank, arrayReduce('max', rank)) AS i
          FROM journey_state FINAL
          WHERE {mine} AND entry_max >= %(start)s AND entry_min <= %(end)s AND NOT ({_ALL_IN_RANGE}))
    WHERE rank[i] > 0"""


# -- the transitions log ------------------------------------------------------------------

def transitions_page(store, site, journey_id, build, since_ms, kinds=None, stage=None, limit=50, cursor=None):
    """Who moved in a journey (build), newest first: ([transition], next cursor (at, id) or None)."""
    where = ["site = %(site)s", "journey_id = %(journey)s", "build = %(build)s", "at_ms >= %(since)s"]
    params = {"site": site, "journey": journey_id, "build": build, "since": since_ms, "limit": limit + 1}
    if kinds:
        where.append("kind IN %(kinds)s")
        params["kinds"] = tuple(kinds)
    if stage is not None:
        where.append("to_stage = %(stage)s")
        params["stage"] = stage
    if cursor is not None:
        where.append("(at_ms < %(c_at)s OR (at_ms = %(c_at)s AND id < %(c_id)s))")
        params.update(c_at=cursor[0], c_id=cursor[1])
    rows = store.query(f"""
        SELECT id, person, kind, from_stage, to_stage, at_ms, detected_ms, dwell_ms, run_ms,
               cause_event_id, cause_type, cause_name, cause_url, cause_channel, cause_campaign
        FROM journey_transitions
        WHERE {' AND '.join(where)}
        ORDER BY at_ms DESC, id DESC
        LIMIT 1 BY id
        LIMIT %(limit)s""", params).dicts()
    page = [_transition(row) for row in rows[:limit]]
    next_cursor = (rows[limit - 1]["at_ms"], rows[limit - 1]["id"]) if len(rows) > limit else None
    return page, next_cursor


def _transition(row):
    cause = None
    if row["cause_event_id"]:
        cause = {"event_id": row["cause_event_id"], "type": row["cause_type"], "name": row["cause_name"],
                 "url": row["cause_url"], "channel": row["cause_channel"], "campaign": row["cause_campaign"]}
    return {"id": row["id"], "person": row["person"], "kind": row["kind"], "from_stage": row["from_stage"],
            "to_stage": row["to_stage"], "at": row["at_ms"], "detected_at": row["detected_ms"],
            "dwell_seconds": round(row["dwell_ms"] / 1000, 3), "run": row["run_ms"], "cause": cause}
