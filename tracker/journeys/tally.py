"""Funnels and people lists read from the sums of journey state (``journey_tally``,
``journey_people`` and ``journey_people_hours``, kept by the views of migrations/0050 and 0060
from every write of ``journey_state``).

A funnel over whole days is a sum over the tally's rows whose rectangle of days holds the
range: a few thousand rows, however many people the journey has. In progress and stalled, which
move with time, are counted from the open rows of people not yet settled, against ``as_of``.
A people list reads one stage of ``journey_people``, newest last touchpoint first, from the
hour its page starts in (which the counts by hour in ``journey_people_hours`` tell) on. Rows
come in pairs until ClickHouse merges them (a row and the copy with ``n`` -1 that took it
back): sums are unaffected, and a list drops the pairs it reads.

Ranges whose bounds cut a day are read from the state rows themselves (``state.persons_sql``).

A rebuild's rows (``sign`` 2) pass the views by; ``sum_rebuilt`` sums them with the views' own
SELECTs, read from the migration, so both sums are one definition (``rebuilt_select`` only
groups them in steps that suit a million people at once).
"""
import re
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from functools import cache

from ..clock import DAY_MS
from ..store import migrations
from .durations import LEVELS, quantile
from .engine import STATUSES, status_sql

# The rectangle bound that stands for "no end of the range" (UInt16).
NO_END = 65535


def days(start_ms, end_ms, as_of_ms):
    """The entry range as whole UTC days (first, last) the sums answer for, or None when a bound
    cuts a day. A range that ends at or after ``as_of`` has no end: every entry is in it."""
    if start_ms <= 0:
        first = 0
    elif start_ms % DAY_MS == 0:
        first = start_ms // DAY_MS
    else:
        return None
    if end_ms >= as_of_ms:
        last = NO_END
    elif end_ms % DAY_MS == DAY_MS - 1:
        last = end_ms // DAY_MS
    else:
        return None
    return (first, last) if first <= min(last, NO_END) else None


_IN_RANGE = "hi_a >= %(first)s AND lo_a <= %(first)s AND hi_b >= %(last)s AND lo_b <= %(last)s"


def _params(q, build, range_days):
    q.params.values.update(journey_id=q.journey["id"], build=build, first=range_days[0], last=range_days[1],
                           stall=q.stall_ms)
    return q.params.values


def funnel_rows(store, q, build, range_days):
    """The funnel's rows, as the live SQL gives them (``engine.funnel_sql``): one with the totals
    (``total`` 1), and with a breakdown one per value of it that has people."""
    dims = ("", q.breakdown) if q.breakdown else ("",)
    params = dict(_params(q, build, range_days), dims=dims)
    rows = store.query(f"""
        SELECT dim, value, at_stage, metric, if(metric >= 2, bucket, 0) AS b, sum(n) AS people,
               sumIf(n, metric = 1 AND %(as_of)s <= bucket + %(window)s) AS open,
               sumIf(n, metric = 1 AND touch_ms + %(stall)s >= %(as_of)s) AS fresh
        FROM journey_tally
        WHERE site = %(site)s AND journey_id = %(journey_id)s AND build = %(build)s AND dim IN %(dims)s
          AND {_IN_RANGE}
        GROUP BY dim, value, at_stage, metric, b""", params)
    at, open_, fresh = defaultdict(lambda: [0] * (q.k + 1)), defaultdict(lambda: [0] * (q.k + 1)), defaultdict(
        lambda: [0] * (q.k + 1))
    times = defaultdict(lambda: defaultdict(lambda: defaultdict(int)))
    for dim, value, stage, metric, bucket, people, opened, unstalled in rows:
        key = (dim, value if dim else "")
        if metric == 0:
            at[key][stage] += people
        elif metric == 1:
            open_[key][stage] += opened
            fresh[key][stage] += unstalled
        elif people:
            times[key][metric][bucket] += people
    found = [_figures(q, key, at[key], open_[key], fresh[key], times[key]) for key in at]
    found = [row for row in found if row["people"]]
    found.sort(key=lambda r: (-r["total"], -r["people"], r["value"]))
    return found


def _figures(q, key, at, open_, fresh, times):
    """One funnel row from the counts of one breakdown value (stages 1..k)."""
    k = q.k
    reached = [sum(at[j:]) for j in range(1, k + 1)]
    in_progress = [open_[j] if j < k else 0 for j in range(1, k + 1)]
    dropped = [at[j] - open_[j] if j < k else 0 for j in range(1, k + 1)]
    stalled = [at[j] - fresh[j] if j < k else 0 for j in range(1, k + 1)]
    from_previous, from_start = [[0, 0]], [[0, 0]]
    for j in range(2, k + 1):
        from_previous.append(_quantiles(times.get(2 * j)))
        from_start.append(_quantiles(times.get(2 * j + 1 if j > 2 else 2 * j)))
    return {"total": int(key[0] == ""), "value": key[1], "people": reached[0], "reached": reached,
            "in_progress": in_progress, "dropped": dropped, "stalled": stalled,
            "from_previous": from_previous, "from_start": from_start}


def _quantiles(counts):
    """[median, p90] in seconds of a histogram of rounded times (ms), [0, 0] when empty."""
    if not counts or sum(counts.values()) <= 0:
        return [0, 0]
    return [quantile(counts, level) / 1000 for level in LEVELS]


def people_rows(store, q, build, range_days, status, stage, descending, cursor, limit):
    """A page of people from ``journey_people``: [(person, stage, entry, times, last_ts)], at most
    ``limit`` (the caller asks for one more than it shows, to know whether a next page exists)."""
    statuses = status_sql(q, stage)
    params = _params(q, build, range_days)
    op, direction = ("<", "DESC") if descending else (">", "ASC")
    where = statuses[status]
    if cursor is not None:
        params.update(c_ts=cursor[0], c_person=cursor[1])
        where += f" AND (last_ts {op} %(c_ts)s OR (last_ts = %(c_ts)s AND person {op} %(c_person)s))"
    mine = f"site = %(site)s AND journey_id = %(journey_id)s AND build = %(build)s AND {_IN_RANGE} AND {where}"
    reach = ">=" if descending else "<="
    # From the hour the page starts in (as the counts of the hours say), then from further
    # back, then from the start. A person recomputed leaves a row and its copy (n -1) until
    # ClickHouse merges their parts, which a big part can put off for long, and they sit where
    # that person was, often at the top (the stalled who came back): the read sums them away,
    # over the few rows from the bound on.
    for bound in _hour_bounds(store, q, statuses, status, params, descending, cursor, limit) + [None]:
        read = mine if bound is None else f"{mine} AND last_ts {reach} %(bound)s"
        rows = store.query(f"""
            SELECT person, at_stage AS stage, at_entry AS entry, any(at_times) AS times, last_ts
            FROM journey_people WHERE {read}
            GROUP BY last_ts, person, stage, entry, times_hash
            HAVING sum(n) > 0
            ORDER BY last_ts {direction}, person {direction}, stage, entry, times_hash
            LIMIT %(limit)s""", dict(params, limit=limit, bound=bound))
        if len(rows) >= limit:
            break
    return rows


# What of a status the hours can tell (stage, and the last touchpoint by its hour), counting
# no hour that may hold rows outside the list: a page's start found from them is where it
# starts or before, never after (in progress alone can count some dropped, who touched
# lately after their window closed).
_HOURS_STATUS = {
    "in_progress": "{at} AND stage < {k} AND %(as_of)s <= hour_end + %(window)s",
    "dropped": "{at} AND stage < {k} AND hour_end + %(window)s < %(as_of)s",
    "stalled": "{reached} AND stage < {k} AND hour_end < %(as_of)s - {stall}",
}


def _hour_bounds(store, q, statuses, status, params, descending, cursor, limit):
    """Where a page of ``limit`` people starts, from ``journey_people_hours``: the first ms of
    the hour (newest first; the last, oldest first) at which its rows reach ``limit``, then 16
    and 256 times as many (for the case the counts were off); fewer when the list is shorter."""
    where = (_HOURS_STATUS[status].format(at=statuses["at"], reached=statuses["reached"], k=q.k, stall=q.stall_ms)
             if status in _HOURS_STATUS else statuses[status])  # reached, at: by stage alone
    if cursor is not None:  # the cursor's own hour is partly past it: not counted
        where += " AND hour_end < %(c_ts)s" if descending else " AND hour_start > %(c_ts)s"
    edge = "hour_start" if descending else "hour_end"
    rows = store.query(f"""
        SELECT arrayMap(t -> if(t = 0, 0, tupleElement(hours[t], 1)), arrayMap(
                   goal -> arrayFirstIndex(c -> c >= goal, arrayCumSum(arrayMap(h -> h.2, hours))), %(goals)s))
        FROM (SELECT {'arrayReverseSort' if descending else 'arraySort'}(groupArray((edge, people))) AS hours
              FROM (SELECT {edge} AS edge, sum(n) AS people
                    FROM (SELECT at_stage AS stage, toUInt64(hour) * 3600000 AS hour_start,
                                 hour_start + 3599999 AS hour_end, lo_a, hi_a, lo_b, hi_b, n
                          FROM journey_people_hours
                          WHERE site = %(site)s AND journey_id = %(journey_id)s AND build = %(build)s
                            AND {_IN_RANGE})
                    WHERE {where}
                    GROUP BY edge))""", dict(params, goals=[limit, 16 * limit, 256 * limit]))
    bounds = []
    for bound in rows[0][0] if rows else []:
        if bound and bound not in bounds:  # 0: the list is shorter than that
            bounds.append(bound)
    return bounds


# The views that keep the sums, by the table they fill, and the table's columns.
VIEWS = {"journey_tally": "journey_tally_mv", "journey_people": "journey_people_mv",
         "journey_people_hours": "journey_people_hours_mv"}
COLUMNS = {"journey_tally": ["site", "journey_id", "build", "dim", "value", "lo_a", "hi_a", "lo_b", "hi_b",
                             "at_stage", "metric", "bucket", "touch_ms", "n"],
           "journey_people": ["site", "journey_id", "build", "person", "lo_a", "hi_a", "lo_b", "hi_b", "at_stage",
                              "at_entry", "at_times", "times_hash", "last_ts", "n"],
           "journey_people_hours": ["site", "journey_id", "build", "lo_a", "hi_a", "lo_b", "hi_b", "at_stage", "hour",
                                    "n"]}
# The columns of journey_state the views read.
_VIEWED = ("site", "journey_id", "build", "person", "a_entry", "a_stage", "a_times", "a_values", "first_channel",
           "last_ts", "settled")
_WHERE = "FROM journey_state\nWHERE notEmpty(a_entry) AND sign != 2"


@cache
def view_select(view):
    """The SELECT of one of the sums' views (migrations/0050), as released."""
    pattern = re.compile(rf"^CREATE MATERIALIZED VIEW IF NOT EXISTS {view} TO \w+ AS\s+(SELECT\s.*)$", re.S)
    for migration in migrations.available():
        for statement in migration.statements:
            if found := pattern.match(statement):
                return found.group(1)
    raise LookupError(f"no migration creates the view {view}")


def sum_rebuilt(store, site, journey_id, build, version, settings=None):
    """Add a rebuild's rows (``sign`` 2, ``version``) to the sums, as the views add others'."""
    rebuilt = (f"FROM (SELECT *, toInt8(1) AS sign FROM (SELECT {', '.join(_VIEWED)} FROM journey_state "
               "WHERE site = %(site)s AND journey_id = %(journey)s AND build = %(build)s AND version = %(version)s "
               "AND sign = 2))\nWHERE notEmpty(a_entry)")
    params = {"site": site, "journey": journey_id, "build": build, "version": version}
    statements = []
    for table, view in VIEWS.items():
        select = view_select(view)
        assert _WHERE in select, f"the view {view} no longer reads journey_state as this expects"
        select = rebuilt_select(table, select).replace(_WHERE, rebuilt)
        columns = ", ".join(COLUMNS[table])  # by name, as a view inserts (a plain INSERT goes by position)
        statements.append(f"INSERT INTO {table} ({columns}) SELECT {columns} FROM ({select})")
    # Two at a time, the tally (the longest) beside the other two: each statement writes its
    # rows in one thread, which leaves a core idle when they run one after another.
    with ThreadPoolExecutor(2, thread_name_prefix="rebuild-sums") as pool:
        running = [pool.submit(store.execute, sql, params, settings=settings) for sql in statements]
        for done in running:
            done.result()


# The tally view's breakdowns: one row per breakdown of each row it sums.
_DIMS = re.compile(r"\(arrayJoin\((\[.*?\])\) AS td\)\.1 AS dim,\s*td\.2 AS value,", re.S)
_BY_DIM = "GROUP BY site, journey_id, build, dim, value,"


def rebuilt_select(table, select):
    """A view's SELECT as it sums a rebuild's rows (the same sums, less work for a million people).

    ``journey_people``: a rebuild has one row a person, so each (person, rectangle) comes once and
    there is nothing to group. ``journey_tally``: first summed by the entry's breakdown values
    together, then by each breakdown: people share a few combinations of values, so the nine rows
    a breakdown each are made from a few sums rather than from every person.
    ``journey_people_hours``: as it is (its groups, by the hour, are few already)."""
    if table == "journey_people_hours":
        return select
    if table == "journey_people":
        head, grouped, _ = select.partition("\nGROUP BY ")
        assert grouped and "sum(toInt64(sign)) AS n" in head, "the people view no longer sums as this expects"
        return head.replace("sum(toInt64(sign)) AS n", "toInt64(sign) AS n")
    dims = _DIMS.search(select)
    assert dims and _BY_DIM in select, "the tally view no longer breaks down as this expects"
    by_values = (select.replace(dims.group(0), "a_values[tr.5] AS vals, first_channel AS fc,")
                 .replace(_BY_DIM, "GROUP BY site, journey_id, build, vals, fc,"))
    per_dim = dims.group(1).replace("a_values[tr.5]", "vals").replace("first_channel", "fc")
    keys = ", ".join(c for c in COLUMNS[table] if c not in ("site", "journey_id", "build", "dim", "value", "n"))
    return f"""SELECT site, journey_id, build, (arrayJoin({per_dim}) AS td).1 AS dim, td.2 AS value, {keys}, sum(n) AS n
FROM ({by_values})
GROUP BY site, journey_id, build, dim, value, {keys}
HAVING n != 0"""


__all__ = ["STATUSES", "days", "funnel_rows", "people_rows"]
