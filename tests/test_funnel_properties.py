"""Property tests: random touchpoints and journeys, the engine against a plain-Python
implementation of the DESIGN's journey semantics, on both backends.

The reference below is written from the DESIGN text, by brute force (every sequence of
touchpoints, every matching), and shares nothing with the SQL builders.
"""
import os
import re
import uuid

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from tracker.ingest.touchpoints import EVENT_COLUMNS
from tracker.journeys import reports
from tracker.journeys.durations import bucket
from tracker.journeys.rules import glob_regex

DAY = 86_400_000
BASE = 1_700_000_000_000
W = DAY  # window_days = 1

# ---------------------------------------------------------------- the reference ----------


def matches(rule, ev):
    for field, value in rule.items():
        if field == "props":
            if any(ev["props"].get(k) != v for k, v in value.items()):
                return False
        elif field == "path" and "*" in value:
            if not re.match(glob_regex(value), ev["path"]):
                return False
        elif ev[field] != value:
            return False
    return True


def person_of(ev, links):
    return ev["user_id"] or links.get(ev["visitor_id"]) or ev["visitor_id"]


def sequences(evs, t0, stages, strict):
    """Every valid sequence (as a tuple of indexes) of one attempt entering at t0."""
    found = []

    def valid_strict(seq):
        first, last = evs[seq[0]]["ts"], evs[seq[-1]]["ts"]
        # touchpoints of the first (last) millisecond can be placed before (after) the run
        return all(i in seq or not first < e["ts"] < last for i, e in enumerate(evs))

    def extend(seq):
        found.append(seq)
        n = len(seq)
        if n == len(stages):
            return
        last = evs[seq[-1]]["ts"]
        for i, e in enumerate(evs):
            if i in seq or not (last <= e["ts"] <= t0 + W) or not e["stages"][n]:
                continue
            longer = seq + (i,)
            if strict and not valid_strict(longer):
                continue
            extend(longer)

    for i, e in enumerate(evs):
        if e["ts"] == t0 and e["stages"][0]:
            extend((i,))
    return found


def max_matching(evs, k):
    """Largest matching of stages to distinct touchpoints (augmenting paths)."""
    owner = {}

    def augment(stage, seen):
        for i, e in enumerate(evs):
            if e["stages"][stage] and i not in seen:
                seen.add(i)
                if i not in owner or augment(owner[i], seen):
                    owner[i] = stage
                    return True
        return False

    return sum(augment(stage, set()) for stage in range(k))


def attempt(evs, t0, journey):
    """(reach, times) of the attempt entering at t0, before exclusions."""
    k, order = len(journey["stages"]), journey["order"]
    if order == "any":
        in_window = [e for e in evs if t0 <= e["ts"] <= t0 + W]
        times = [None] * k
        for tend in sorted({e["ts"] for e in in_window}):
            count = max_matching([e for e in in_window if e["ts"] <= tend], k)
            for j in range(count):
                times[j] = tend if times[j] is None else times[j]
        reach = sum(t is not None for t in times)
        return reach, times
    seqs = sequences(evs, t0, journey["stages"], order == "strict")
    reach = max(len(s) for s in seqs)
    times = [min((evs[s[j]]["ts"] for s in seqs if len(s) > j), default=None) for j in range(k)]
    return reach, times


def reference(events, links, journey, start, end, as_of):
    """{person: (stage, entry, times, last_ts)} per the DESIGN."""
    k = len(journey["stages"])
    by_person = {}
    seen = set()
    for ev in sorted(events, key=lambda e: (e["ts"], e["event_id"])):
        if ev["event_id"] in seen or ev["ts"] > as_of:
            continue
        seen.add(ev["event_id"])
        ev = dict(ev, stages=[matches(s["match"], ev) for s in journey["stages"]],
                  excl=any(matches(r, ev) for r in journey["exclude"]))
        by_person.setdefault(person_of(ev, links), []).append(ev)
    result = {}
    for person, evs in by_person.items():
        entry_test = (lambda e: any(e["stages"])) if journey["order"] == "any" else (lambda e: e["stages"][0])
        best = None
        for t0 in sorted({e["ts"] for e in evs if entry_test(e) and start <= e["ts"] <= end}):
            reach, times = attempt(evs, t0, journey)
            finish = times[k - 1] if reach == k else t0 + W
            if any(e["excl"] and t0 < e["ts"] < finish for e in evs):
                continue
            if best is None or (reach, t0) >= (best[0], best[1]):
                best = (reach, t0, times)
        if best:
            result[person] = best + (max(e["ts"] for e in evs),)
    return result


def quantile(values, level):
    values = sorted(values)
    return values[min(int(level * len(values)), len(values) - 1)]


def reference_funnel(people, journey, as_of):
    k = len(journey["stages"])
    stages = []
    for j in range(k):
        at = [p for p in people.values() if p[0] == j + 1]
        open_ = [p for p in at if as_of <= p[1] + W]
        reached = [p for p in people.values() if p[0] >= j + 1]
        figures = {"reached": len(reached), "in_progress": len(open_) if j < k - 1 else 0,
                   "dropped": len(at) - len(open_) if j < k - 1 else 0}
        for name, base in (("previous", max(j - 1, 0)), ("start", 0)):
            values = [bucket(p[2][j] - p[2][base]) / 1000 for p in reached]  # as the funnel rounds them
            has = j > 0 and values
            figures[f"median_seconds_from_{name}"] = round(quantile(values, 0.5), 3) if has else None
            figures[f"p90_seconds_from_{name}"] = round(quantile(values, 0.9), 3) if has else None
        stages.append(figures)
    return {"people": len(people), "stages": stages}


# ---------------------------------------------------------------- generation -------------

NAMES = ["a", "b", "c", "x"]
OFFSETS = [0, 0, 1, 1, 500, 1000, 1000, 60_000, W - 1, W, W + 1, 2 * W]
RULES = st.one_of(
    st.builds(lambda n: {"name": n}, st.sampled_from(NAMES[:3])),
    st.just({"type": "pageview"}),
    st.just({"path": "/q/*"}),
    st.builds(lambda n: {"name": n, "channel": "email"}, st.sampled_from(NAMES[:3])),
    st.builds(lambda v: {"props": {"plan": v}}, st.sampled_from(["pro", "free"])),
)
JOURNEYS = st.builds(
    lambda stages, order, exclude: {
        "name": "j", "window_days": 1, "stall_after_days": 1, "order": order,
        "stages": [{"name": f"s{i}", "match": r} for i, r in enumerate(stages)],
        "exclude": [{"name": "x"}] if exclude else []},
    st.lists(RULES, min_size=1, max_size=4), st.sampled_from(["ordered", "strict", "any"]), st.booleans())
EVENT = st.fixed_dictionaries({
    "who": st.integers(0, 4), "offset": st.sampled_from(OFFSETS), "name": st.sampled_from(NAMES),
    "type": st.sampled_from(["pageview", "pageview", "event"]), "path": st.sampled_from(["/p", "/q/1"]),
    "channel": st.sampled_from(["direct", "email"]), "plan": st.sampled_from(["pro", "free", None]),
    "repeat": st.integers(0, 8), "step": st.sampled_from([0, 1000, 3600_000])})
# who: 0,1 = visitors of user u0 (one with user_id set, one linked later), 2 = u1 by user id,
# 3,4 = anonymous visitors.
VISITORS = {0: ("u0-phone", "u0"), 1: ("u0-laptop", ""), 2: ("u:u1", "u1"), 3: ("anon-3", ""), 4: ("anon-4", "")}


def build_events(specs, site):
    events = []
    for i, spec in enumerate(specs):
        visitor, user = VISITORS[spec["who"]]
        ts = BASE + spec["offset"] + spec["step"] * (i % 3)
        event_id = f"e{i}" if spec["repeat"] else f"e{i - 1 if i else 0}"  # now and then a retry
        events.append({"site": site, "event_id": event_id, "ts": ts, "visitor_id": visitor, "user_id": user,
                       "type": spec["type"], "name": spec["name"], "path": spec["path"],
                       "channel": spec["channel"], "props": {"plan": spec["plan"]} if spec["plan"] else {}})
    # a retried event is the same touchpoint: make its copies identical
    first = {}
    for ev in events:
        first.setdefault(ev["event_id"], ev)
    return [dict(first[ev["event_id"]]) for ev in events]


def row(ev):
    values = dict.fromkeys(EVENT_COLUMNS, "")
    values.update(site=ev["site"], event_id=ev["event_id"], event_time=ev["ts"] // 1000, event_ms=ev["ts"] % 1000,
                  received_at=ev["ts"] // 1000, visitor_id=ev["visitor_id"], user_id=ev["user_id"],
                  type=ev["type"], name=ev["name"], path=ev["path"], url="https://example.com" + ev["path"],
                  channel=ev["channel"], is_bot=0, prop_keys=list(ev["props"]), prop_values=list(ev["props"].values()))
    return tuple(values[c] for c in EVENT_COLUMNS)


def load(store, events, link_laptop):
    site = events[0]["site"] if events else None
    store.insert("events", EVENT_COLUMNS, [row(ev) for ev in events])
    if link_laptop and site:
        store.insert("identities", ["site", "visitor_id", "user_id", "linked_at"],
                     [(site, "u0-laptop", "u0", BASE // 1000 + 10)])
    return {"u0-laptop": "u0"} if link_laptop else {}


# ---------------------------------------------------------------- the properties ---------

@settings(max_examples=int(os.environ.get("PROPERTY_EXAMPLES", 20)), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(journey=JOURNEYS, specs=st.lists(EVENT, min_size=1, max_size=10), link=st.booleans(),
       end_offset=st.sampled_from([0, 1000, 2 * W]), as_of_offset=st.sampled_from([W // 2, W + 500, 3 * W]))
def test_funnel_and_people_match_reference(store, journey, specs, link, end_offset, as_of_offset):
    site = "p_" + uuid.uuid4().hex[:8]
    events = build_events(specs, site)
    links = load(store, events, link)
    start, end, as_of = BASE, BASE + end_offset, BASE + as_of_offset
    expected = reference(events, links, journey, start, end, as_of)

    got = reports.funnel(store, journey, site, start, end, as_of)
    want = reference_funnel(expected, journey, as_of)
    assert got["people"] == want["people"], (expected, got)
    for stage, figures in zip(got["stages"], want["stages"]):
        assert {key: stage[key] for key in figures} == figures, (expected, got)

    page, _ = reports.people(store, journey, site, "reached", None, as_of, limit=100, start_ms=start, end_ms=end)
    assert {p["person"] for p in page} == set(expected)
    for p in page:
        stage, entry, times, last_ts = expected[p["person"]]
        assert (p["stage"], p["entered_ms"], p["last_touch_ms"]) == (stage, entry, last_ts), (p, expected)
        assert [s["reached_ms"] for s in p["stages"]] == [t if j < stage else None for j, t in enumerate(times)]


# ---------------------------------------------------------------- chosen edge cases ------

def _ev(i, offset, name, who=3, type_="pageview"):
    return {"who": who, "offset": offset, "name": name, "type": type_, "path": "/p", "channel": "direct",
            "plan": None, "repeat": 1, "step": 0, "_i": i}


def _stage(name):
    return {"name": name, "match": {"name": name}}


EDGE_CASES = {
    # one touchpoint fills one stage, even when two stages share a rule
    "repeated stage needs two touchpoints": (["a", "b", "b"], "ordered", [(0, "a"), (5, "b")], 2),
    "repeated stage, two touchpoints": (["a", "b", "b"], "ordered", [(0, "a"), (5, "b"), (9, "b")], 3),
    # same millisecond, inserted in the "wrong" order: either order may fill the stages
    "same millisecond, reverse arrival": (["a", "b"], "ordered", [(7, "b"), (7, "a")], 2),
    "same second, b one ms earlier": (["a", "b"], "ordered", [(101, "a"), (100, "b")], 1),
    "stages out of order": (["a", "b", "c"], "ordered", [(0, "a"), (5, "c"), (9, "b")], 2),
    "window end is inclusive": (["a", "b"], "ordered", [(0, "a"), (W, "b")], 2),
    "one ms past the window": (["a", "b"], "ordered", [(0, "a"), (W + 1, "b")], 1),
    "strict: another touchpoint between": (["a", "b"], "strict", [(0, "a"), (5, "c"), (9, "b")], 1),
    "strict: spare touchpoint of the entry millisecond goes first":
        (["a", "b", "x2"], "strict", [(0, "a"), (0, "b"), (5, "b"), (9, "x2")], 3),
    "any: order does not matter": (["a", "b", "c"], "any", [(0, "c"), (5, "a"), (9, "b")], 3),
    "exclusion inside the attempt": (["a", "b"], "ordered", [(0, "a"), (3, "x"), (5, "b")], None),
}


@pytest.mark.single_node  # on the cluster, the property test above covers these
@pytest.mark.parametrize("case", sorted(EDGE_CASES))
def test_edge_case(store, case):
    stage_names, order, touchpoints, expected = EDGE_CASES[case]
    journey = {"name": "j", "window_days": 1, "stall_after_days": 1, "order": order,
               "stages": [_stage(n) for n in stage_names],
               "exclude": [{"name": "x"}] if case.startswith("exclusion") else []}
    site = "e_" + uuid.uuid4().hex[:8]
    events = [dict(e, event_id=f"e{i}") for i, e in enumerate(
        build_events([_ev(i, off, name) for i, (off, name) in enumerate(touchpoints)], site))]
    load(store, events, False)
    want = reference(events, {}, journey, BASE, BASE + 1000, BASE + 3 * W)
    assert (want["anon-3"][0] if want else None) == expected, "the reference disagrees with the case"
    page, _ = reports.people(store, journey, site, "reached", None, BASE + 3 * W, start_ms=BASE, end_ms=BASE + 1000)
    assert [(p["person"], p["stage"]) for p in page] == ([("anon-3", expected)] if expected else [])
