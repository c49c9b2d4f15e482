"""The site overview's figures, straight from the events table (no Flask here).

Every query leaves bots out, counts a retried touchpoint once (uniqExact(event_id)), bounds
the time with the sort key's neighbour ``event_time`` and runs under a time and memory limit.
People are counted as the journey engine resolves them (``person_sql``: the user id, else
the user the visitor was linked to, else the visitor), with ``uniq``'s estimate.
"""
from datetime import date, timedelta

from ..journeys.engine import links_sql, person_sql

_WHERE = "site = %(site)s AND is_bot = 0 AND event_time >= %(start)s AND event_time < %(end)s"
# A retried touchpoint counts once. Hashing the id first keeps the exact distinct count while
# the set holds 8-byte numbers instead of strings (about half the time on 18.16); two ids
# sharing a 64-bit hash among 10 million is a chance of about 1 in 10^11.
_COUNT = "uniqExact(cityHash64(event_id))"


def _touchpoints(columns, condition="1"):
    """The site's touchpoints in the range (bots out): ``columns`` ({name: SQL}), event_id, person."""
    inner = ", ".join(f"{sql} AS {name}" for name, sql in columns.items())
    return f"""(SELECT {', '.join(columns)}, event_id, {person_sql()} AS person
        FROM (SELECT {inner}, event_id, visitor_id, user_id
              FROM events WHERE {_WHERE} AND {condition}) AS e
        ANY LEFT JOIN ({links_sql('')}) AS l USING visitor_id)"""


def limits(seconds=30):
    """Per-query guards: a time limit, and spilling big GROUP BYs to disk rather than failing."""
    return {"max_execution_time": int(seconds), "max_bytes_before_external_group_by": 2_000_000_000}


def _range(site, first, last):
    """Parameters for the days ``first``..``last`` (dates, inclusive), as Unix seconds in UTC."""
    start = date.fromisoformat(str(first))
    end = date.fromisoformat(str(last)) + timedelta(days=1)
    epoch = date(1970, 1, 1)
    return {"site": site, "start": (start - epoch).days * 86400, "end": (end - epoch).days * 86400}


def series(store, site, first, last, seconds=30):
    """Touchpoints and people per day (every day of the range, zero-filled)."""
    rows = store.query(f"""
        SELECT toString(toDate(event_time)) AS day, {_COUNT} AS touchpoints, uniq(person) AS people
        FROM {_touchpoints({'event_time': 'event_time'})}
        GROUP BY day ORDER BY day""", _range(site, first, last), settings=limits(seconds))
    found = {r[0]: (r[1], r[2]) for r in rows}
    days, day = [], date.fromisoformat(str(first))
    while day <= date.fromisoformat(str(last)):
        touchpoints, people = found.get(day.isoformat(), (0, 0))
        days.append({"day": day.isoformat(), "touchpoints": int(touchpoints), "people": int(people)})
        day += timedelta(days=1)
    return days


def people(store, site, first, last, seconds=30):
    """People of the whole range (a person active on several days counts once)."""
    return int(store.query(f"SELECT uniq(person) FROM {_touchpoints({'site': 'site'})}",
                           _range(site, first, last), settings=limits(seconds)).scalar() or 0)


def totals(store, site, first, last, days=None, seconds=30):
    """Touchpoints and people of the whole range. Touchpoints add up over ``days`` (from
    ``series``): a retried touchpoint has the same time as its original, so the same day."""
    days = series(store, site, first, last, seconds) if days is None else days
    return {"touchpoints": sum(d["touchpoints"] for d in days), "people": people(store, site, first, last, seconds)}


# The overview's top lists: name -> (SQL of the value, condition). Never from a request.
TOPS = {
    "channel": ("if(channel = '', 'direct', channel)", "1"),
    "page": ("path", "type = 'pageview'"),
    "campaign": ("utm_campaign", "utm_campaign != ''"),
}


def top(store, site, first, last, what, limit=10, seconds=30):
    """The ``limit`` largest values of ``what`` (a key of TOPS) by touchpoints."""
    expr, condition = TOPS[what]
    rows = store.query(f"""
        SELECT value, {_COUNT} AS touchpoints, uniq(person) AS people
        FROM {_touchpoints({'value': expr}, condition)}
        GROUP BY value ORDER BY touchpoints DESC, value LIMIT %(limit)s""",
                       dict(_range(site, first, last), limit=int(limit)), settings=limits(seconds))
    return [{"value": r[0], "touchpoints": int(r[1]), "people": int(r[2])} for r in rows]


def tops(store, site, first, last, limit=10, seconds=30):
    """{"channel"|"page"|"campaign": its top list} (three queries: one combined scan with
    ARRAY JOIN measured slower on 18.16)."""
    return {what: top(store, site, first, last, what, limit, seconds) for what in TOPS}


def live(store, site, now, minutes=30, seconds=10):
    """People and touchpoints of the last ``minutes`` before ``now`` (Unix seconds)."""
    params = {"site": site, "start": int(now) - minutes * 60, "end": int(now) + 60}
    row = store.query(f"SELECT {_COUNT}, uniq(person) FROM {_touchpoints({'site': 'site'})}",
                      params, settings=limits(seconds))
    return {"touchpoints": int(row[0][0]), "people": int(row[0][1]), "minutes": minutes}
