"""The day-0 view: people by the week they entered a journey, and the share of them at each
stage N days after their own day 0 (the start of their run: their stage-1 touchpoint).

Read from the ``entered`` transitions of the journey's current build, counted in ClickHouse by
(week of day 0, days since day 0 now, stage, days from day 0 to that stage): a few thousand
rows, whatever the number of people. A run counts on day N once N days have passed since its
own day 0 (``eligible``), so a young cohort is measured on the days it has lived, not diluted
by people who could not have got there yet. A run enters each stage once in the log; when a
late touchpoint moved a stage earlier, the log holds both times and that run counts twice at
that stage (deduplicating by person would cost a GROUP BY over every person).
"""
from datetime import date, datetime, timedelta, timezone

from ..clock import DAY_MS

OFFSETS = (0, 1, 2, 3, 7, 14, 21, 30, 60, 90)


def offsets_for(window_ms):
    """The day offsets worth showing for a journey whose runs last ``window_ms`` at most."""
    last = max(1, -(-window_ms // DAY_MS))
    shown = [d for d in OFFSETS if d <= last]
    return shown if shown[-1] == last else shown + [last]


DAY0_SQL = f"""
    SELECT toString(toMonday(toDate(toDateTime(intDiv(run_ms, 1000))))) AS week,
           least(intDiv(%(now)s - run_ms, {DAY_MS}), %(last)s) AS age, to_stage,
           least(intDiv(at_ms - run_ms, {DAY_MS}), %(last)s + 1) AS day, count() AS runs
    FROM journey_transitions
    WHERE site = %(site)s AND journey_id = %(journey)s AND build = %(build)s AND kind = 'entered'
      AND at_ms >= %(start)s AND run_ms >= %(start)s AND run_ms <= %(now)s
    GROUP BY week, age, to_stage, day"""


def monday(day):
    return day - timedelta(days=day.weekday())


def day0(store, site, journey, build, weeks, now_ms, offsets):
    """{"weeks": [{"week", "people", "days": {d: {"eligible", "reached": [per stage]}}}], newest
    week first; "totals": {d: {"eligible", "reached"}} over every week}."""
    today = datetime.fromtimestamp(now_ms // 1000, tz=timezone.utc).date()
    first = monday(today) - timedelta(weeks=weeks - 1)
    start = int((first - date(1970, 1, 1)).total_seconds() * 1000)
    rows = store.query(DAY0_SQL, {"site": site, "journey": journey["id"], "build": build, "start": start,
                                  "now": now_ms, "last": max(offsets)})
    k = len(journey["stages"])
    counted = {(first + timedelta(weeks=i)).isoformat(): [] for i in range(weeks)}
    for week, age, stage, day, runs in rows:
        counted.setdefault(week, []).append((age, stage, day, runs))
    totals = {d: {"eligible": 0, "reached": [0] * k} for d in offsets}
    shown = []
    for week, found in sorted(counted.items(), reverse=True):
        days = {}
        for d in offsets:
            cell = {"eligible": sum(n for age, stage, _, n in found if stage == 1 and age >= d),
                    "reached": [sum(n for age, stage, day, n in found if stage == j and day <= d and age >= d)
                                for j in range(1, k + 1)]}
            days[d] = cell
            totals[d]["eligible"] += cell["eligible"]
            totals[d]["reached"] = [a + b for a, b in zip(totals[d]["reached"], cell["reached"])]
        shown.append({"week": week, "people": days[0]["eligible"], "days": days})
    return {"weeks": shown, "totals": totals}
