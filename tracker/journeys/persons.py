"""People: person resolution for one person, their traits, search, and the timeline.

A touchpoint's person is its user id, else the user its visitor was last linked to, else
the visitor id (``engine.person_sql``). One person's visitors are found through
``identities_by_user`` (a range scan), and their touchpoints through the events' primary
key (site, visitor_id, …), so a person's page never scans the site.
"""
import re

from ..store.backend import Members, submit
from . import definitions, reports, state
from .engine import TS, VISITOR_IN, touchpoints_sql, with_person

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
        GROUP BY user_id, key""", {"site": site, "ids": Members(sorted(user_ids))})
    found = {}
    for user_id, key, value in rows:
        found.setdefault(user_id, {})[key] = value
    return found


def words(text):
    """The lower-case words of ``text``, as the search index splits them (letters and digits)."""
    return re.findall(r"[^\W_]+", text.lower())


def _matches(text, values):
    """Whether ``text`` starts one of ``values`` (lower-cased), or each of its words starts a
    word of them: how the search matches."""
    text = text.lower()
    if any(value.lower().startswith(text) for value in values):
        return True
    known = [w for value in values for w in words(value)]
    return bool(words(text)) and all(any(k.startswith(w) for k in known) for w in words(text))


def search(store, site, text, limit=20):
    """People whose email, name, company or user id ``text`` starts, or whose words start with
    each word of ``text`` ("ann arb", "acme"), from the search index (``person_search``)."""
    whole, wanted = text.strip().lower(), words(text)
    if not whole:
        return []
    prefixes = [whole] + wanted
    ranges = " OR ".join(f"(token >= %(w{i})s AND token < %(e{i})s)" for i in range(len(prefixes)))
    params = {"site": site, "limit": 200}
    for i, prefix in enumerate(prefixes):
        params[f"w{i}"], params[f"e{i}"] = prefix, prefix + "\U0010ffff"
    rows = store.query(f"""
        SELECT user_id, groupUniqArray(token) FROM person_search
        WHERE site = %(site)s AND ({ranges})
        GROUP BY user_id ORDER BY user_id LIMIT %(limit)s""", params)
    candidates = [user for user, tokens in rows
                  if any(t.startswith(whole) for t in tokens) or all(any(t.startswith(w) for t in tokens)
                                                                      for w in wanted)]
    traits = traits_of(store, site, candidates)
    found = []
    for user in candidates:  # the index keeps old values: the current ones must still match
        mine = traits.get(user, {})
        if _matches(whole, [user] + [v for k, v in mine.items() if k in SEARCH_TRAITS]):
            found.append({"person": user, "traits": mine})
    found.sort(key=lambda p: (p["person"].lower() != whole, p["person"]))
    return found[:limit]


def touchpoints(store, site, person, visitors, as_of_ms):
    """The person's latest touchpoints up to ``as_of`` (at most TIMELINE_LIMIT), oldest first, a
    retried event once, each with the channel and source it counts under (its own, or its visit's)."""
    params = {"site": site, "person": person, "visitors": Members(sorted(visitors)), "as_of": as_of_ms,
              "limit": TIMELINE_LIMIT}
    visitor_filter = f" AND {VISITOR_IN}"
    mine = f"site = %(site)s{visitor_filter} AND event_time <= toDateTime(intDiv(%(as_of)s, 1000))"
    columns = ["user_id", TS] + [c for c in TIMELINE_COLUMNS[1:] if c not in ("channel", "source", "session_id")]
    rows = store.query(f"""
        SELECT {', '.join(TIMELINE_COLUMNS)} FROM (
            {with_person("*", touchpoints_sql(columns, mine + " AND is_bot = 0", mine), visitor_filter)}
        )
        WHERE person = %(person)s AND ts <= %(as_of)s
        ORDER BY ts DESC, event_id DESC
        LIMIT 1 BY event_id
        LIMIT %(limit)s""", params)
    return rows.dicts()[::-1]


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


def person_page(store, site, person, as_of_ms, pool=None):
    """Everything about one person, or None when nothing is known of them. ``pool``: threads
    that run its independent reads together (the page waits for the slowest, not the sum)."""
    visitors = visitors_of(store, site, person)
    events = submit(pool, touchpoints, store, site, person, visitors, as_of_ms)
    traits = submit(pool, traits_of, store, site, [person])
    journeys = places(store, site, person, visitors, as_of_ms, pool)
    events, traits = events.result(), traits.result().get(person, {})
    if not events and not traits:
        return None
    seen_visitors = sorted({e["visitor_id"] for e in events} | (set(visitors) - {person, "u:" + person}))
    return {"person": person, "traits": traits, "visitor_ids": seen_visitors, "journeys": journeys,
            "touchpoints": len(events), "truncated": len(events) >= TIMELINE_LIMIT,
            "sessions": sessions(events)}


NOT_ENTERED = {"stage": 0, "stage_name": None, "status": "not_entered", "stalled": False, "stages": []}


def places(store, site, person, visitors, as_of_ms, pool=None):
    """The person's place in each journey of the site, with their stage history: from journey
    state where it is readable, else (a past as_of, a journey being rebuilt) from the engine."""
    journeys = definitions.list_all(store, site)
    readable = state.readable_builds(store, site, journeys) if reports.current_enough(as_of_ms) else {}
    from_state = {j["id"]: (j, readable[j["id"]]) for j in journeys if j["id"] in readable}
    stored = submit(pool, reports.person_stages_from_state, store, from_state, site, person, as_of_ms)
    history = submit(pool, reports.stage_history, store, site, person, from_state)
    stored, history = stored.result(), history.result()
    found = []
    for journey in journeys:
        if journey["id"] in from_state:
            place, source = stored.get(journey["id"]), "state"
        else:
            place, source = reports.person_stages(store, journey, site, visitors, person, as_of_ms), "live"
        found.append(dict(id=journey["id"], name=journey["name"], source=source,
                          history=history.get(journey["id"], []), **(place or NOT_ENTERED)))
    return found
