"""The outbox: one row per webhook delivery in ClickHouse (``automation_outbox``), each change
a new version, the newest winning; and the log of every attempt (``automation_attempts``).

Only the journey worker's lease holder sends, so one process at a time changes a delivery's
row (the web app only adds a test delivery, or asks for a retry of one that is no longer
pending). A delivery is *claimed* before it is sent (its next try pushed ``CLAIM_MS`` on): a
process that dies mid-send leaves it to be sent again by the next leader, with the same
``webhook-id``: at least once, never lost.
"""
import hashlib
import time

from .. import clock

COLUMNS = ["site", "automation_id", "delivery_id", "person", "trigger", "stage", "at_ms", "run_ms", "due_ms",
           "next_ms", "status", "attempts", "last_code", "last_error", "created_ms", "delivered_ms", "payload",
           "version"]
ATTEMPT_COLUMNS = ["site", "automation_id", "delivery_id", "attempt", "at_ms", "code", "error", "duration_ms"]
STATUSES = ("pending", "delivered", "failed", "skipped", "cancelled")
# Longer than a send can take (its timeout), so a claimed delivery is not sent twice by the
# same leader; short enough that a crashed leader's claims come back soon.
CLAIM_MS = 120_000


def delivery_id(site, automation_id, person, signature, at_ms):
    """The webhook-id: (automation, person, trigger and stage, the transition's time) hashed, so
    the same moment of the same person is the same delivery however often it is derived."""
    text = "|".join(str(part) for part in (site, automation_id, person, signature, at_ms))
    return "msg_" + hashlib.blake2b(text.encode(), digest_size=12).hexdigest()


def new_delivery(site, automation_id, person, signature, stage, at_ms, run_ms, due_ms, payload, now_ms):
    """A pending delivery, as a row dict (``COLUMNS``)."""
    return {"site": site, "automation_id": automation_id,
            "delivery_id": delivery_id(site, automation_id, person, signature, at_ms), "person": person,
            "trigger": signature, "stage": stage, "at_ms": at_ms, "run_ms": run_ms, "due_ms": due_ms,
            "next_ms": due_ms, "status": "pending", "attempts": 0, "last_code": 0, "last_error": "",
            "created_ms": now_ms, "delivered_ms": 0, "payload": payload, "version": 0}


def write(store, rows):
    """Store new versions of deliveries (row dicts)."""
    if not rows:
        return
    version = time.time_ns()
    store.insert("automation_outbox", COLUMNS,
                 [tuple(dict(row, version=version + i)[c] for c in COLUMNS) for i, row in enumerate(rows)])


def attempt(delivery, number, result, at_ms):
    """An attempt row: try ``number`` of ``delivery`` and its ``result`` (``delivery.post``)."""
    return {"site": delivery["site"], "automation_id": delivery["automation_id"],
            "delivery_id": delivery["delivery_id"], "attempt": number, "at_ms": at_ms, "code": result["code"],
            "error": result["error"], "duration_ms": result["duration_ms"]}


def record_attempts(store, attempts):
    """Append attempt rows (dicts of ``ATTEMPT_COLUMNS``)."""
    if attempts:
        store.insert("automation_attempts", ATTEMPT_COLUMNS, [tuple(a[c] for c in ATTEMPT_COLUMNS) for a in attempts])


# Each delivery's newest version. The aliases differ from the column names: 18.16 calls an
# alias that shadows its own column cyclic.
_LATEST = ("SELECT site, automation_id, delivery_id, "
           + ", ".join(f"argMax({c}, version) AS v_{c}" for c in COLUMNS[3:-1])
           + " FROM automation_outbox WHERE {where} GROUP BY site, automation_id, delivery_id HAVING {having}")


def _latest(store, where, params, having="1", tail=""):
    rows = store.query(_LATEST.format(where=where, having=having) + " " + tail, params)
    return [{key[2:] if key.startswith("v_") else key: value for key, value in row.items()} for row in rows.dicts()]


def due(store, now_ms, limit=1000, exclude=()):
    """Pending deliveries whose next try is due, oldest first (``exclude``: ids in flight)."""
    # The inner read finds candidates from two columns; the newest version decides. GLOBAL: on
    # a cluster both reads are of the Distributed table (the candidates are read once and sent
    # to each shard); on one node it is a plain IN.
    rows = _latest(store, "delivery_id GLOBAL IN (SELECT delivery_id FROM automation_outbox "
                          "WHERE status = 'pending' AND next_ms <= %(now)s)",
                   {"now": now_ms, "limit": limit + len(exclude)},
                   "v_status = 'pending' AND v_next_ms <= %(now)s", "ORDER BY v_next_ms LIMIT %(limit)s")
    skip = set(exclude)
    return [row for row in rows if row["delivery_id"] not in skip][:limit]


def existing(store, site, automation_id, ids):
    """Those of ``ids`` that are in the outbox already."""
    if not ids:
        return set()
    rows = store.query("SELECT DISTINCT delivery_id FROM automation_outbox WHERE site = %(site)s "
                       "AND automation_id = %(a)s AND delivery_id IN %(ids)s",
                       {"site": site, "a": automation_id, "ids": tuple(ids)})
    return {r[0] for r in rows}


def fired(store, site, automation_id, persons):
    """{(person, run_ms)} of the deliveries ``persons`` have of the automation (re-entry)."""
    if not persons:
        return set()
    rows = store.query("SELECT DISTINCT person, run_ms FROM automation_outbox WHERE site = %(site)s "
                       "AND automation_id = %(a)s AND person IN %(p)s",
                       {"site": site, "a": automation_id, "p": tuple(persons)})
    return {(person, run_ms) for person, run_ms in rows}


def get(store, site, automation_id, delivery):
    found = _latest(store, "site = %(site)s AND automation_id = %(a)s AND delivery_id = %(d)s",
                    {"site": site, "a": automation_id, "d": delivery})
    return found[0] if found else None


def listing(store, site, automation_id, limit=50, status=None, before=None):
    """An automation's deliveries, newest first: (rows, the next page's ``before`` or None)."""
    having = "1"
    params = {"site": site, "a": automation_id, "limit": limit + 1}
    if status:
        having, params["status"] = "v_status = %(status)s", status
    if before:
        having += " AND (v_created_ms < %(b_ms)s OR (v_created_ms = %(b_ms)s AND delivery_id < %(b_id)s))"
        params.update(b_ms=before[0], b_id=before[1])
    rows = _latest(store, "site = %(site)s AND automation_id = %(a)s", params, having,
                   "ORDER BY v_created_ms DESC, delivery_id DESC LIMIT %(limit)s")
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, ((rows[-1]["created_ms"], rows[-1]["delivery_id"]) if more else None)


def attempts_of(store, site, automation_id, delivery_ids):
    """{delivery id: [attempt dicts, oldest first]}."""
    if not delivery_ids:
        return {}
    rows = store.query("""SELECT delivery_id, attempt, at_ms, code, error, duration_ms FROM automation_attempts
        WHERE site = %(site)s AND automation_id = %(a)s AND delivery_id IN %(ids)s ORDER BY at_ms, attempt""",
                       {"site": site, "a": automation_id, "ids": tuple(delivery_ids)})
    found = {}
    for row in rows.dicts():
        found.setdefault(row.pop("delivery_id"), []).append(row)
    return found


def of_person(store, site, person, limit=100):
    """The deliveries made for one person (every automation), newest first."""
    return _latest(store, "site = %(site)s AND person = %(person)s", {"site": site, "person": person, "limit": limit},
                   "v_status != 'skipped'", "ORDER BY v_created_ms DESC LIMIT %(limit)s")


def counts(store, site, automation_id):
    """{status: deliveries} of one automation."""
    rows = store.query(f"SELECT v_status, count() FROM ({_LATEST.format(where='site = %(site)s AND automation_id = %(a)s', having='1')}) "
                       "GROUP BY v_status", {"site": site, "a": automation_id})
    return dict(rows)


def retry(store, site, automation_id, delivery, now_ms=None):
    """Send a delivery that is not pending once more, as soon as the worker can. Returns the
    row, or None when there is no such delivery; ValueError when it is pending already."""
    found = get(store, site, automation_id, delivery)
    if found is None:
        return None
    if found["status"] == "pending":
        raise ValueError("this delivery is pending already")
    found.update(status="pending", next_ms=now_ms or clock.now_ms(), last_error="retry asked by hand")
    write(store, [found])
    return found
