"""Which recorded transitions fire an automation: its trigger, its filter, its re-entry rule,
and the moment from which it acts. One implementation, used by the worker's step and by the
dry run, so a dry run shows exactly what firing does.

Transitions are rows of ``journey_transitions`` as dicts (``state.TRANSITION_COLUMNS``).
"""
from ..journeys import engine, state
from ..journeys.rules import RULE_COLUMNS, Params, rule_sql
from ..journeys.persons import traits_of
from .definitions import TRIGGER_KINDS, delay_ms, rules_of, trigger, trigger_stage

PAGE = 20_000


def kind_matches(definition, transition):
    """Whether the transition is of the trigger's kind and stage (the scheduled triggers start
    at an ``entered`` of their stage). Dropped and stalled rows have from = to = the stage."""
    stage = trigger_stage(definition)
    return (transition["kind"] == TRIGGER_KINDS[trigger(definition)]
            and (stage == 0 or transition["to_stage"] == stage))


def recorded(store, site, definition, build, at_from, at_to, limit=PAGE):
    """Transitions of the automation's journey (build ``build``) that its trigger watches, with
    ``at_from`` <= at <= ``at_to``, oldest first."""
    stage = trigger_stage(definition)
    rows = store.query(f"""
        SELECT {', '.join(state.TRANSITION_COLUMNS)} FROM journey_transitions
        WHERE site = %(site)s AND journey_id = %(journey)s AND build = %(build)s AND kind = %(kind)s
          AND at_ms >= %(from)s AND at_ms <= %(to)s {'AND to_stage = %(stage)s' if stage else ''}
        ORDER BY at_ms, person LIMIT %(limit)s""",
                       {"site": site, "journey": definition["journey"], "build": build, "stage": stage,
                        "kind": TRIGGER_KINDS[trigger(definition)], "from": at_from, "to": at_to, "limit": limit})
    return rows.dicts()


def entry_touchpoints(store, site, journey_id, keys):
    """{(person, run_ms): (channel, campaign)} of the touchpoints that started those runs."""
    if not keys:
        return {}
    rows = store.query("""
        SELECT person, run_ms, any(cause_channel), any(cause_campaign) FROM journey_transitions
        WHERE site = %(site)s AND journey_id = %(journey)s AND person IN %(persons)s AND kind = 'entered'
          AND to_stage = 1 AND run_ms IN %(runs)s
        GROUP BY person, run_ms""", {"site": site, "journey": journey_id, "persons": tuple({p for p, _ in keys}),
                                     "runs": tuple({r for _, r in keys})})
    return {(person, run): (channel, campaign) for person, run, channel, campaign in rows}


def _filtered(store, site, definition, transitions):
    """Those of ``transitions`` whose person and run pass the automation's filter."""
    wanted = definition.get("filter") or {}
    if not wanted or not transitions:
        return transitions
    traits = traits_of(store, site, sorted({t["person"] for t in transitions})) if wanted.get("traits") else {}
    entries = {}
    if wanted.get("channel") or wanted.get("campaign"):
        entries = entry_touchpoints(store, site, definition["journey"],
                                    {(t["person"], t["run_ms"]) for t in transitions})
    kept = []
    for t in transitions:
        mine = traits.get(t["person"], {})
        if any(mine.get(key) != value for key, value in (wanted.get("traits") or {}).items()):
            continue
        channel, campaign = entries.get((t["person"], t["run_ms"]), ("", ""))
        if wanted.get("channel") and channel not in wanted["channel"]:
            continue
        if wanted.get("campaign") and campaign not in wanted["campaign"]:
            continue
        kept.append(t)
    return kept


def select(store, site, definition, transitions, already=frozenset(), since_ms=0):
    """The transitions that fire the automation, oldest first: of its trigger, at or after
    ``since_ms``, each moment once, passing its filter, and within its re-entry rule given the
    (person, run) pairs it ``already`` fired for."""
    chosen, seen = [], set()
    for t in sorted(transitions, key=lambda t: (t["at_ms"], t["person"])):
        key = (t["person"], t["at_ms"])
        if t["at_ms"] >= since_ms and kind_matches(definition, t) and key not in seen:
            seen.add(key)
            chosen.append(t)
    fired_runs = set(already)
    fired_persons = {person for person, _ in fired_runs}
    kept = []
    for t in _filtered(store, site, definition, chosen):
        if definition["reentry"] == "once_per_run" and (t["person"], t["run_ms"]) in fired_runs:
            continue
        if definition["reentry"] == "once_per_person" and t["person"] in fired_persons:
            continue
        fired_runs.add((t["person"], t["run_ms"]))
        fired_persons.add(t["person"])
        kept.append(t)
    return kept


def touched(store, site, match, windows):
    """Of ``windows`` [(person, start_ms, end_ms)], those in which the person had a touchpoint
    matching the rule ``match`` (or any of a list of rules; start excluded, end included): a
    set of the window tuples."""
    if not windows:
        return set()
    from ..worker.changes import visitors_of_persons  # the worker's person → visitors lookup

    persons = sorted({person for person, _, _ in windows})
    visitors = set().union(*visitors_of_persons(store, site, persons).values())
    params = Params({"site": site, "visitors": tuple(visitors), "persons": tuple(persons),
                     "first": min(w[1] for w in windows), "last": max(w[2] for w in windows)})
    condition = "(" + " OR ".join(rule_sql(rule, params) for rule in rules_of(match)) + ")"
    where = ("site = %(site)s AND visitor_id IN %(visitors)s AND event_time >= toDateTime(intDiv(%(first)s, 1000)) "
             "AND event_time <= toDateTime(intDiv(%(last)s, 1000))")
    columns = ["visitor_id", "user_id", engine.TS, *RULE_COLUMNS]
    touchpoints = engine.touchpoints_sql(columns, where + " AND is_bot = 0",
                                         where.replace('%(first)s', '%(first)s - 86400000'))
    rows = store.query(f"""
        SELECT person, groupArray(ts) FROM (
            {engine.with_person("ts", touchpoints, " AND visitor_id IN %(visitors)s")}
            WHERE {condition} AND ts > %(first)s AND ts <= %(last)s)
        WHERE person IN %(persons)s GROUP BY person""", params.values)
    times = dict(rows)
    return {w for w in windows if any(w[1] < ts <= w[2] for ts in times.get(w[0], ()))}


def due_at(definition, transition):
    """When the automation's delivery for ``transition`` is due (now, or day 0 + N days)."""
    return transition["at_ms"] + delay_ms(definition)
