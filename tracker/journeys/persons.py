"""People: person resolution for one person, their traits, search, and the timeline.

A touchpoint's person is its user id, else the user its visitor was last linked to, else
the visitor id (``engine.person_sql``). One person's visitors are found through
``identities_by_user`` (a range scan), and their touchpoints through the events' primary
key (site, visitor_id, …), so a person's page never scans the site.
"""
from . import definitions, reports
from .engine import TS, links_sql, person_sql, touchpoints_sql

SEARCH_TRAITS = ("email", "name", "first_name", "last_name", "company")
TIMELINE_LIMIT = 5000
VISIT_IDLE_MS = 30 * 60 * 1000  # as the snippet, which starts a new session id after this
TIMELINE_COLUMNS = ["ts", "event_id", "visitor_id", "session_id", "type", "name", "url", "path", "title",
                    "referrer_host", "channel", "source", "utm_source", "utm_medium", "utm_campaign", "browser",
                    "device", "country", "prop_keys", "prop_values"]


def visitors_of(store, site, person):
    """Visitor ids that may carry ``person``'s touchpoints: linked ones, 'u:ID', and itself."""
    rows = store.query("""SELECT DISTINCT visitor_id FROM identities_by_user
        WHERE site = %(site)s AND user_id = %(person)s""", {"site": site, "person": person})
    return sorted({r[0] for r in rows} | {person, "u:" + person})


def traits_of(store, site, user_ids):
    """{user_id: {trait: newest value}} for the given user ids."""
    if not user_ids:
        return {}
    rows = store.query("""SELECT user_id, key, argMax(value, (updated_at, updated_ms)) AS newest
        FROM persons ARRAY JOIN trait_keys AS key, trait_values AS value
        WHERE site = %(site)s AND user_id IN %(ids)s
        GROUP BY user_id, key""", {"site": site, "ids": tuple(user_ids)})
    found = {}
    for user_id, key, value in rows:
        found.setdefault(user_id, {})[key] = value
    return found


def search(store, site, text, limit=20):
    """People whose user id, email, name or company contains ``text`` (case-insensitive)."""
    params = {"site": site, "q": text, "keys": list(SEARCH_TRAITS), "limit": limit}
    # Any version of a trait may match; the newest values are checked again after grouping.
    rows = store.query("""
        SELECT user_id, groupArray(key) AS keys, groupArray(newest) AS vals FROM (
            SELECT user_id, key, argMax(value, (updated_at, updated_ms)) AS newest
            FROM persons ARRAY JOIN trait_keys AS key, trait_values AS value
            WHERE site = %(site)s AND user_id IN (
                SELECT user_id FROM persons WHERE site = %(site)s AND (
                    positionCaseInsensitiveUTF8(user_id, %(q)s) > 0
                    OR arrayExists((k, v) -> has(%(keys)s, k) AND positionCaseInsensitiveUTF8(v, %(q)s) > 0,
                                   trait_keys, trait_values)))
            GROUP BY user_id, key)
        GROUP BY user_id
        HAVING positionCaseInsensitiveUTF8(user_id, %(q)s) > 0
            OR arrayExists((k, v) -> has(%(keys)s, k) AND positionCaseInsensitiveUTF8(v, %(q)s) > 0, keys, vals)
        ORDER BY user_id LIMIT %(limit)s""", params)
    found = [{"person": r[0], "traits": dict(zip(r[1], r[2]))} for r in rows]
    if not any(p["person"] == text for p in found) and _known_user(store, site, text):
        found.insert(0, {"person": text, "traits": {}})
    return found[:limit]


def _known_user(store, site, user_id):
    rows = store.query("SELECT count() FROM identities_by_user WHERE site = %(site)s AND user_id = %(u)s",
                       {"site": site, "u": user_id})
    return bool(rows.scalar())


def touchpoints(store, site, person, visitors, as_of_ms):
    """The person's touchpoints up to ``as_of``, oldest first (a retried event once), each with
    the channel and source it counts under (its own, or its visit's)."""
    params = {"site": site, "person": person, "visitors": tuple(visitors), "as_of": as_of_ms,
              "limit": TIMELINE_LIMIT}
    visitor_filter = " AND visitor_id IN %(visitors)s"
    mine = f"site = %(site)s{visitor_filter} AND event_time <= toDateTime(intDiv(%(as_of)s, 1000))"
    columns = ["user_id", TS] + [c for c in TIMELINE_COLUMNS[1:] if c not in ("channel", "source", "session_id")]
    rows = store.query(f"""
        SELECT {', '.join(TIMELINE_COLUMNS)} FROM (
            SELECT {person_sql()} AS person, *
            FROM ({touchpoints_sql(columns, mine + " AND is_bot = 0", mine)}) AS e
            ANY LEFT JOIN ({links_sql(visitor_filter)}) AS l USING visitor_id
        )
        WHERE person = %(person)s AND ts <= %(as_of)s
        ORDER BY ts, event_id
        LIMIT 1 BY event_id
        LIMIT %(limit)s""", params)
    return rows.dicts()


def _new_visit(visit, event):
    """Whether ``event`` starts a visit after ``visit``: 30 idle minutes by event time, another
    device, or another session id of the sender's (the snippet's own)."""
    sid, current = event["session_id"], visit["session_id"]
    return (event["time_ms"] - visit["end_ms"] > VISIT_IDLE_MS or event["visitor_id"] != visit["visitor_id"]
            or bool(sid and current and sid != current))


def sessions(events):
    """Touchpoints (oldest first) grouped into visits, oldest first.

    Visits come from event times, not from when touchpoints arrived: an import or a late
    batch lands in the visit it belongs to, whatever worker took it."""
    grouped = []
    for event in events:
        props = dict(zip(event.pop("prop_keys"), event.pop("prop_values")))
        event["props"] = props
        event["time_ms"] = event.pop("ts")
        if not grouped or _new_visit(grouped[-1], event):
            grouped.append({"session_id": event["session_id"], "visitor_id": event["visitor_id"],
                            "start_ms": event["time_ms"], "channel": event["channel"],
                            "campaign": event["utm_campaign"], "source": event["utm_source"],
                            "referrer_source": event["source"], "device": event["device"],
                            "country": event["country"], "touchpoints": []})
        session = grouped[-1]
        session["end_ms"] = event["time_ms"]
        session["session_id"] = session["session_id"] or event["session_id"]
        session["campaign"] = session["campaign"] or event["utm_campaign"]
        session["touchpoints"].append(event)
    return grouped


def person_page(store, site, person, as_of_ms):
    """Everything about one person, or None when nothing is known of them."""
    visitors = visitors_of(store, site, person)
    events = touchpoints(store, site, person, visitors, as_of_ms)
    traits = traits_of(store, site, [person]).get(person, {})
    if not events and not traits:
        return None
    seen_visitors = sorted({e["visitor_id"] for e in events} | (set(visitors) - {person, "u:" + person}))
    journeys = []
    for journey in definitions.list_all(store, site):
        place = reports.person_stages(store, journey, site, visitors, person, as_of_ms)
        journeys.append(dict(id=journey["id"], name=journey["name"],
                             **(place or {"stage": 0, "stage_name": None, "status": "not_entered",
                                         "stalled": False, "stages": []})))
    return {"person": person, "traits": traits, "visitor_ids": seen_visitors, "journeys": journeys,
            "touchpoints": len(events), "truncated": len(events) >= TIMELINE_LIMIT,
            "sessions": sessions(events)}
