"""The day-0 view: people by the week they entered a journey, and the share of them at each
stage N days after their own day 0 (the start of their run: their stage-1 touchpoint).

Read from the ``entered`` transitions of the journey's current build, one row per run. A run
counts on day N once N days have passed since its own day 0 (``eligible``), so a young cohort
is measured on the days it has lived, not diluted by people who could not have got there yet.
"""
from datetime import date, datetime, timedelta, timezone

from ..clock import DAY_MS

OFFSETS = (0, 1, 2, 3, 7, 14, 21, 30, 60, 90)
NOT_REACHED = 1_000_000  # days: a stage the run never reached


def offsets_for(window_ms):
    """The day offsets worth showing for a journey whose runs last ``window_ms`` at most."""
    last = max(1, -(-window_ms // DAY_MS))
    shown = [d for d in OFFSETS if d <= last]
    return shown if shown[-1] == last else shown + [last]


def day0_sql(k):
    """Per (week of entry, day offset): runs eligible, and per stage those that had reached it.
    ``k`` (the number of stages) is ours, never a request's."""
    reached = ", ".join(f"if(countIf(to_stage = {j}) > 0, minIf(day, to_stage = {j}), {NOT_REACHED})"
                        for j in range(1, k + 1))
    return f"""
        SELECT week, d, count() AS eligible, sumForEach(arrayMap(x -> toUInt64(x <= d), reached)) AS reached_by
        FROM (
            SELECT person, run_ms, toString(toMonday(toDate(toDateTime(intDiv(run_ms, 1000))))) AS week,
                   [{reached}] AS reached
            FROM (SELECT person, run_ms, to_stage, intDiv(at_ms - run_ms, {DAY_MS}) AS day
                  FROM journey_transitions
                  WHERE site = %(site)s AND journey_id = %(journey)s AND build = %(build)s AND kind = 'entered'
                    AND at_ms >= %(start)s AND run_ms >= %(start)s AND run_ms < %(end)s)
            GROUP BY person, run_ms)
        ARRAY JOIN %(offsets)s AS d
        WHERE run_ms + d * {DAY_MS} <= %(now)s
        GROUP BY week, d ORDER BY week, d"""


def monday(day):
    return day - timedelta(days=day.weekday())


def day0(store, site, journey, build, weeks, now_ms, offsets):
    """{"weeks": [{"week", "people", "days": {d: {"eligible", "reached": [per stage]}}}], newest
    week first; "totals": {d: {"eligible", "reached"}} over every week}."""
    today = datetime.fromtimestamp(now_ms // 1000, tz=timezone.utc).date()
    first = monday(today) - timedelta(weeks=weeks - 1)
    start = int((first - date(1970, 1, 1)).total_seconds() * 1000)
    rows = store.query(day0_sql(len(journey["stages"])),
                       {"site": site, "journey": journey["id"], "build": build, "start": start, "end": now_ms + 1,
                        "now": now_ms, "offsets": list(offsets)})
    k = len(journey["stages"])
    cohorts = {(first + timedelta(weeks=i)).isoformat(): {} for i in range(weeks)}
    totals = {d: {"eligible": 0, "reached": [0] * k} for d in offsets}
    for week, d, eligible, reached in rows:
        cohorts.setdefault(week, {})[d] = {"eligible": eligible, "reached": list(reached)}
        totals[d]["eligible"] += eligible
        totals[d]["reached"] = [a + b for a, b in zip(totals[d]["reached"], reached)]
    shown = [{"week": week, "people": days.get(0, {}).get("eligible", 0), "days": days}
             for week, days in sorted(cohorts.items(), reverse=True)]
    return {"weeks": shown, "totals": totals}
