"""The site overview's figures (no Flask here).

Days, channels, pages and campaigns come from ``overview_daily`` (migration 0004), which a
materialized view keeps from every inserted touchpoint, bots left out: the overview reads a
few thousand rows, not every touchpoint of the range. Countries, sources and the bots figure
come the same way from ``overview_origin_daily`` (migration 0020), which keeps bots apart. Its HyperLogLog states count a
retried touchpoint once (same id, same hash), exactly for small counts and within about
2 % for large ones. People in the overview are visitor ids (browsers and devices): stitching
visitors into persons is the journey engine's work, at query time, for journeys and prospects.
The live count reads the touchpoints of the last 30 minutes themselves, exactly.
Time and memory limits come with every store query (``Backend.query_limits``).
"""
from datetime import date, timedelta

_WHERE = "site = %(site)s AND is_bot = 0 AND event_time >= %(start)s AND event_time < %(end)s"
_DAYS = "site = %(site)s AND day >= %(first)s AND day <= %(last)s"


def _range(site, first, last):
    """Parameters for the days ``first``..``last`` (dates, inclusive), as Unix seconds in UTC."""
    start = date.fromisoformat(str(first))
    end = date.fromisoformat(str(last)) + timedelta(days=1)
    epoch = date(1970, 1, 1)
    return {"site": site, "start": (start - epoch).days * 86400, "end": (end - epoch).days * 86400,
            "first": start.isoformat(), "last": (end - timedelta(days=1)).isoformat()}


def series(store, site, first, last):
    """Touchpoints and people per day (every day of the range, zero-filled)."""
    rows = store.query(f"""
        SELECT toString(day) AS d, uniqHLL12Merge(touchpoints), uniqHLL12Merge(people)
        FROM overview_daily WHERE {_DAYS}
        GROUP BY d ORDER BY d""", _range(site, first, last))
    found = {r[0]: (r[1], r[2]) for r in rows}
    days, day = [], date.fromisoformat(str(first))
    while day <= date.fromisoformat(str(last)):
        touchpoints, people = found.get(day.isoformat(), (0, 0))
        days.append({"day": day.isoformat(), "touchpoints": int(touchpoints), "people": int(people)})
        day += timedelta(days=1)
    return days


def totals(store, site, first, last):
    """Touchpoints and people of the whole range (someone active on several days counts once)."""
    row = store.query(f"SELECT uniqHLL12Merge(touchpoints), uniqHLL12Merge(people) FROM overview_daily WHERE {_DAYS}",
                      _range(site, first, last))
    return {"touchpoints": int(row[0][0]), "people": int(row[0][1])} if row else {"touchpoints": 0, "people": 0}


# The overview's top lists: name -> (table, column, what else a row must be); names and
# columns from this table only, never from a request.
TOPS = {
    "channel": ("overview_daily", "channel", ""),
    "page": ("overview_daily", "page", ""),
    "campaign": ("overview_daily", "campaign", ""),
    "source": ("overview_origin_daily", "source", " AND is_bot = 0"),
    "country": ("overview_origin_daily", "country", " AND is_bot = 0"),
}


def top(store, site, first, last, what, limit=10):
    """The ``limit`` largest values of ``what`` (a name of ``TOPS``) by touchpoints."""
    table, column, also = TOPS[what]
    rows = store.query(f"""
        SELECT {column} AS value, uniqHLL12Merge(touchpoints) AS t, uniqHLL12Merge(people) AS p
        FROM {table} WHERE {_DAYS} AND {column} != ''{also}
        GROUP BY value ORDER BY t DESC, value LIMIT %(limit)s""",
                       dict(_range(site, first, last), limit=int(limit)))
    return [{"value": r[0], "touchpoints": int(r[1]), "people": int(r[2])} for r in rows]


def bots(store, site, first, last):
    """Touchpoints of bots in the range: stored and flagged, left out of every other figure."""
    row = store.query(f"""SELECT uniqHLL12Merge(touchpoints) FROM overview_origin_daily
        WHERE {_DAYS} AND is_bot = 1""", _range(site, first, last))
    return int(row.scalar() or 0)


def live(store, site, now, minutes=30):
    """People and touchpoints of the last ``minutes`` before ``now`` (Unix seconds)."""
    params = {"site": site, "start": int(now) - minutes * 60, "end": int(now) + 60}
    row = store.query(f"SELECT uniqExact(event_id), uniqExact(visitor_id) FROM events WHERE {_WHERE}",
                      params)
    return {"touchpoints": int(row[0][0]), "people": int(row[0][1]), "minutes": minutes}
