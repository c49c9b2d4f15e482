"""Run the journey queries and shape their rows: the funnel, people lists, one person's stages."""
import base64
import json

from ..clock import DAY_MS
from ..clock import now_ms
from ..store.backend import submit
from . import engine, state, tally
from .definitions import window_ms
from .engine import QUERY_SETTINGS, Query


def _run(store, sql, q):
    return store.query(sql, q.params.values, settings=QUERY_SETTINGS)


def _ratio(part, whole):
    return round(part / whole, 4) if whole else None


def _seconds(values, present):
    return round(float(values), 3) if present else None


def _stages(journey, row):
    """Per-stage figures of one funnel row."""
    stages = []
    reached = row["reached"]
    for j, stage in enumerate(journey["stages"]):
        has_time = j > 0 and reached[j] > 0
        prev, start = row["from_previous"][j], row["from_start"][j]
        stages.append({
            "name": stage["name"],
            "reached": reached[j],
            "in_progress": row["in_progress"][j],
            "dropped": row["dropped"][j],
            "stalled": row["stalled"][j],
            "conversion_from_previous": _ratio(reached[j], reached[j - 1]) if j else _ratio(reached[0], row["people"]),
            "conversion_from_start": _ratio(reached[j], reached[0]),
            "median_seconds_from_previous": _seconds(prev[0], has_time),
            "p90_seconds_from_previous": _seconds(prev[1], has_time),
            "median_seconds_from_start": _seconds(start[0], has_time),
            "p90_seconds_from_start": _seconds(start[1], has_time),
        })
    return stages


def current_enough(as_of_ms):
    """Whether a read as of ``as_of_ms`` may come from journey state."""
    return as_of_ms >= now_ms() - state.AS_OF_SLACK_MS


def source(store, site, journey, as_of_ms):
    """(build to read, or None for the live engine; what to tell the reader about it)."""
    return _source(state.build_status(store, site, journey), as_of_ms, lambda: state.worker_lag(store))


def source_beside(store, site, pool):
    """``source`` as a function of (journey, as_of_ms) whose reads, which need only the site
    (its builds, the worker's lag), start now in ``pool``: beside the caller's own reads, such
    as the definition's."""
    builds, lag = submit(pool, state.builds, store, site), submit(pool, state.worker_lag, store)
    return lambda journey, as_of_ms: _source(state.status_in_builds(builds.result(), site, journey), as_of_ms,
                                             lag.result)


def _source(status, as_of_ms, lag):
    readable = status is not None and status["status"] in state.READABLE
    if not current_enough(as_of_ms):
        return None, {"source": "live", "reason": "as_of is in the past: computed from the touchpoints"}
    if not readable:
        return None, {"source": "live", "reason": "the journey's state is being built; computed from the touchpoints",
                      "rebuild": state.build_progress(status)}
    return status["build"], {"source": "state", "state_lag_seconds": lag()}


def _query(journey, site, start_ms, end_ms, as_of_ms, breakdown, build):
    """The query and the SQL of each person's chosen attempt: from journey state of ``build``,
    or (None) from the live engine."""
    q = Query(journey, site, start_ms, end_ms, as_of_ms, breakdown, state=build is not None)
    return q, (state.persons_sql(q, build) if build else None)


def funnel(store, journey, site, start_ms, end_ms, as_of_ms, breakdown=None, build=None):
    """The funnel of ``journey`` for entries in [start_ms, end_ms], as of ``as_of_ms``; from the
    journey state of ``build`` when given (its sums, for a range of whole days)."""
    range_days = tally.days(start_ms, end_ms, as_of_ms) if build else None
    if range_days:
        q = Query(journey, site, start_ms, end_ms, as_of_ms, breakdown)
        rows = tally.funnel_rows(store, q, build, range_days)
    else:
        q, persons = _query(journey, site, start_ms, end_ms, as_of_ms, breakdown, build)
        rows = _run(store, engine.funnel_sql(q, persons), q).dicts()
    total = next((r for r in rows if r["total"]), None)
    result = {"people": total["people"] if total else 0,
              "stages": _stages(journey, total) if total else _stages(journey, _empty(q.k))}
    if breakdown:
        result["breakdown_by"] = breakdown
        result["breakdown"] = [{"value": r["value"], "people": r["people"], "stages": _stages(journey, r)}
                               for r in rows if not r["total"]]
    return result


def _empty(k):
    zeros = [0] * k
    return {"people": 0, "reached": zeros, "in_progress": zeros, "dropped": zeros, "stalled": zeros,
            "from_previous": [[0, 0]] * k, "from_start": [[0, 0]] * k}


def encode_cursor(last_ts, person):
    return base64.urlsafe_b64encode(json.dumps([last_ts, person]).encode()).decode().rstrip("=")


def decode_cursor(text):
    """(last_ts, person) from a cursor; ValueError when it is not one of ours."""
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        last_ts, person = json.loads(raw)
    except (ValueError, TypeError) as exc:
        raise ValueError("not a cursor of this list") from exc
    if not isinstance(last_ts, int) or not isinstance(person, str):
        raise ValueError("not a cursor of this list")
    return last_ts, person


def _stage_info(journey, stage, entry, times, last_ts, as_of_ms):
    """Stage number and name, stage times, status of one person in one journey."""
    q_window = window_ms(journey)
    k = len(journey["stages"])
    stalled = 0 < stage < k and last_ts < as_of_ms - journey["stall_after_days"] * DAY_MS
    if stage == k:
        status = "completed"
    elif as_of_ms <= entry + q_window:
        status = "in_progress"
    else:
        status = "dropped"
    return {
        "stage": stage,
        "stage_name": journey["stages"][stage - 1]["name"] if stage else None,
        "stage_time_ms": times[stage - 1] if stage else None,
        "entered_ms": entry,
        "status": status,
        "stalled": stalled,
        "stages": [{"name": s["name"], "reached_ms": times[j] if j < stage else None}
                   for j, s in enumerate(journey["stages"])],
        "last_touch_ms": last_ts,
    }


def people(store, journey, site, status, stage, as_of_ms, limit=50, cursor=None, descending=True,
           start_ms=0, end_ms=None, build=None):
    """A page of the people of a journey with ``status`` (at/in_progress/dropped/stalled/reached);
    from the journey state of ``build`` when given."""
    end_ms = as_of_ms if end_ms is None else end_ms
    range_days = tally.days(start_ms, end_ms, as_of_ms) if build else None
    if range_days:
        q = Query(journey, site, start_ms, end_ms, as_of_ms)
        rows = tally.people_rows(store, q, build, range_days, status, stage, descending, cursor, limit + 1)
    else:
        q, persons = _query(journey, site, start_ms, end_ms, as_of_ms, None, build)
        rows = _run(store, engine.people_sql(q, status, stage, descending, cursor, limit + 1, persons), q)
    page = [dict(person=r[0], **_stage_info(journey, r[1], r[2], list(r[3]), r[4], as_of_ms)) for r in rows[:limit]]
    next_cursor = encode_cursor(rows[limit - 1][4], rows[limit - 1][0]) if len(rows) > limit else None
    return page, next_cursor


def person_stages_from_state(store, journeys, site, person, as_of_ms):
    """{journey id: the person's place} in the ``journeys`` whose state is readable
    ({journey id: (definition, build)}), in one query."""
    if not journeys:
        return {}
    rows_filter, builds_filter, params = _person_keys(site, person, journeys)
    columns = ["a_entry", "a_stage", "a_times", "a_values", "last_ts", "capped"]
    rows = store.query(f"""
        SELECT journey_id, best.1 AS stage, best.2 AS entry, best.3 AS times, last_ts, capped
        FROM ({state.newest_sql(columns, rows_filter, builds_filter)})
        ARRAY JOIN {engine.pick_best_sql(state.ATTEMPTS_UNTIL_AS_OF)} AS best""", dict(params, as_of=as_of_ms))
    return {r["journey_id"]: dict(_stage_info(journeys[r["journey_id"]][0], r["stage"], r["entry"], list(r["times"]),
                                              r["last_ts"], as_of_ms), capped=bool(r["capped"]))
            for r in rows.dicts()}


def _person_keys(site, person, journeys):
    """Filters on one person's rows in ``journeys``' builds ({journey id: (definition, build)}):
    of the tables' keys (site, journey, person), so that it reads a few granules, and of the
    builds; and their values."""
    params = {"site": site, "person": person}
    terms = []
    for i, (journey_id, (_, build)) in enumerate(sorted(journeys.items())):
        params[f"j{i}"], params[f"b{i}"] = journey_id, build
        terms.append(f"(journey_id = %(j{i})s AND build = %(b{i})s)")
    ids = ", ".join(f"%(j{i})s" for i in range(len(terms)))
    return f"site = %(site)s AND person = %(person)s AND journey_id IN ({ids})", " OR ".join(terms), params


def stage_history(store, site, person, journeys):
    """{journey id: the person's transitions in it, oldest first} in ``journeys``' current builds
    ({journey id: (definition, build)})."""
    if not journeys:
        return {}
    rows_filter, builds_filter, params = _person_keys(site, person, journeys)
    rows = store.query(f"""
        SELECT journey_id, kind, from_stage, to_stage, at_ms, dwell_ms, run_ms FROM journey_transitions FINAL
        WHERE {rows_filter} AND ({builds_filter})
        ORDER BY at_ms, detected_ms, kind LIMIT 1000""", params)
    history = {}
    for journey_id, kind, from_stage, to_stage, at_ms, dwell_ms, run_ms in rows:
        history.setdefault(journey_id, []).append({
            "kind": kind, "from_stage": from_stage, "to_stage": to_stage, "at": at_ms,
            "dwell_seconds": round(dwell_ms / 1000, 3), "run": run_ms})
    return history


def person_stages(store, journey, site, visitors, person, as_of_ms):
    """One person's place in ``journey`` (all of their history up to ``as_of``), or None."""
    q = Query(journey, site, 0, as_of_ms, as_of_ms, visitors=visitors, person=person)
    rows = _run(store, engine.persons_sql(q), q)
    if not rows:
        return None
    r = rows.dicts()[0]
    return _stage_info(journey, r["stage"], r["entry"], list(r["times"]), r["last_ts"], as_of_ms)
