"""Recently moved: the stage changes of a site's journeys, newest first, from the transitions
log (what a sales rep opens in the morning: who entered, stalled or dropped, and where).

Only each journey's current build is read (an edited journey's old history is not its story
any more); a transition kept twice before a merge is shown once (dropped here, not by a
``LIMIT 1 BY``, which would sort the whole period instead of its newest rows).
"""
import base64

SLACK = 10  # rows read beyond a page, for the duplicates of a transition not merged yet
MOVE_KINDS = ("entered", "stalled", "dropped", "reactivated", "completed", "left")
COLUMNS = ["id", "journey_id", "person", "kind", "from_stage", "to_stage", "at_ms", "dwell_ms", "cause_type",
           "cause_name", "cause_url", "cause_channel", "cause_campaign"]


def encode_cursor(row):
    return base64.urlsafe_b64encode(f"{row['at_ms']}:{row['id']}".encode()).decode()


def decode_cursor(text):
    """(at_ms, id) of a cursor; ValueError when it is not one of ours."""
    at, _, transition = base64.urlsafe_b64decode(text.encode()).decode().partition(":")
    if not at.isdigit() or not transition.isalnum():
        raise ValueError("not a cursor of this list")
    return int(at), transition


def recent(store, site, builds, kinds=MOVE_KINDS, stage=None, since_ms=0, until_ms=2 ** 63, limit=50, cursor=None):
    """Transitions of ``builds`` ({journey id: build}) of the given kinds (at ``stage``: the
    stage entered, stalled at or dropped after), newest first: (rows, next cursor or None)."""
    if not builds:
        return [], None
    params = {"site": site, "journeys": tuple(builds), "keys": tuple(f"{j}/{b}" for j, b in builds.items()),
              "kinds": tuple(kinds), "since": since_ms, "until": until_ms, "stage": stage or 0,
              "limit": limit + 1 + SLACK}
    where = ["site = %(site)s", "journey_id IN %(journeys)s", "concat(journey_id, '/', build) IN %(keys)s",
             "kind IN %(kinds)s", "at_ms >= %(since)s", "at_ms <= %(until)s"]
    if stage:
        where.append("to_stage = %(stage)s")
    if cursor:
        params["c_at"], params["c_id"] = cursor
        where.append("(at_ms < %(c_at)s OR (at_ms = %(c_at)s AND id < %(c_id)s))")
    rows = store.query(f"""
        SELECT {', '.join(COLUMNS)} FROM journey_transitions
        WHERE {' AND '.join(where)}
        ORDER BY at_ms DESC, id DESC LIMIT %(limit)s""", params).dicts()
    seen = set()
    rows = [row for row in rows if not (row["id"] in seen or seen.add(row["id"]))]
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (encode_cursor(rows[-1]) if more else None)
