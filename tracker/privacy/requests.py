"""A person's data: all of it exported as JSON, or erased from every table that holds it.

A person is a user id with every visitor id linked to it (or an anonymous visitor id alone), as
on their page (``journeys.persons.visitors_of``). Aggregates that name nobody (the overview's
daily HyperLogLog counts) are not personal data and stay.
"""
import json
import time

from ..journeys import persons as people
from ..journeys import state
from ..store import mutations
from . import audit, blocks

# Every table holding a person's rows, and how to find them (``%(site)s``, ``%(person)s``, the
# visitor ids ``%(visitors)s``, and ``%(subjects)s``: the person and those visitor ids, as
# journey state keys an anonymous person by visitor id). The automations' tables are optional.
PERSON_TABLES = {
    "events": "site = %(site)s AND (visitor_id IN %(visitors)s OR user_id = %(person)s)",
    "identities": "site = %(site)s AND (visitor_id IN %(visitors)s OR user_id = %(person)s)",
    "identities_by_user": "site = %(site)s AND (visitor_id IN %(visitors)s OR user_id = %(person)s)",
    "persons": "site = %(site)s AND user_id = %(person)s",
    "person_search": "site = %(site)s AND user_id = %(person)s",
    "journey_changes": "site = %(site)s AND (visitor_id IN %(visitors)s OR user_id = %(person)s)",
    "journey_state": "site = %(site)s AND person IN %(subjects)s",
    "journey_people": "site = %(site)s AND person IN %(subjects)s",
    "journey_transitions": "site = %(site)s AND person IN %(subjects)s",
    "automation_feed": "site = %(site)s AND person IN %(subjects)s",
    "automation_outbox": "site = %(site)s AND person IN %(subjects)s",
}


def _scope(store, site, person):
    visitors = people.visitors_of(store, site, person)
    return {"site": site, "person": person, "visitors": tuple(visitors),
            "subjects": tuple(sorted(set(visitors) | {person}))}


def _counts(store, tables, params):
    """{table: rows of the person in it}."""
    return {table: store.query(f"SELECT count() FROM {table} WHERE {PERSON_TABLES[table]}", params).scalar()
            for table in tables}


def _rows(store, table, params, order=""):
    return store.query(f"SELECT * FROM {table} WHERE {PERSON_TABLES[table]} {order}", params).dicts()


def export_person(store, site, person, actor):
    """Every touchpoint, trait, identity and journey stage of ``person`` as one JSON-ready dict
    (None when nothing is known of them); the export is recorded in the audit trail."""
    params = _scope(store, site, person)
    touchpoints = _rows(store, "events", params, "ORDER BY event_time, event_ms, event_id")
    traits = _rows(store, "persons", params, "ORDER BY updated_at, updated_ms")
    if not touchpoints and not traits:
        return None
    identities = _rows(store, "identities", params, "ORDER BY linked_at")
    tables = existing_tables_of(store)
    exported = {
        "site": site, "person": person, "exported_at": int(time.time()),
        "visitor_ids": sorted(set(params["visitors"]) - {person, "u:" + person}),
        "traits": people.traits_of(store, site, [person]).get(person, {}),
        "trait_history": traits, "identities": identities, "touchpoints": touchpoints,
        "journeys": people.places(store, site, person, params["visitors"], int(time.time() * 1000)),
        "journey_transitions": _rows(store, "journey_transitions", params, "ORDER BY at_ms"),
        "webhook_deliveries": (_rows(store, "automation_outbox", params)
                               if "automation_outbox" in tables else []),
    }
    audit.record(store, site, person, "export", actor, {"touchpoints": len(touchpoints), "traits": len(traits)})
    return exported


def existing_tables_of(store):
    return mutations.existing_tables(store, PERSON_TABLES)


def erase_person(store, site, person, actor, wait_seconds=60.0):
    """Erase ``person`` from every table, and refuse their visitor ids from now on (until a new
    consent). Returns {"rows": {table: rows deleted}, "done": whether ClickHouse finished the
    deletions within ``wait_seconds`` (they go on in the background otherwise)}."""
    params = _scope(store, site, person)
    # Refuse first: nothing the person sends from now on lands behind the deletion.
    blocks.set_blocked(store, site, person, set(params["visitors"]) - {person}, True)
    tables = sorted(existing_tables_of(store))
    counts = _counts(store, tables, params)
    _delete(store, site, counts, params)
    done = mutations.wait(store, tables, wait_seconds)
    audit.record(store, site, person, "erase", actor, {"rows": counts, "done": done,
                                                       "visitor_ids": list(params["visitors"])})
    return {"person": person, "rows": counts, "done": done}


def _delete(store, site, counts, params):
    """Start deleting the person's rows from the tables ``counts`` finds them in; their journey
    state leaves the journeys' sums first (those count people, naming none)."""
    if counts.get("journey_state"):
        state.cancel_persons(store, site, params["subjects"])
    for table, rows in counts.items():
        if rows:
            mutations.delete(store, table, PERSON_TABLES[table], params)


def leftovers(store, site, person, visitors):
    """{table: rows} still holding ``person`` or ``visitors``."""
    params = {"site": site, "person": person, "visitors": tuple(visitors),
              "subjects": tuple(sorted(set(visitors) | {person}))}
    found = _counts(store, sorted(existing_tables_of(store)), params)
    return {table: n for table, n in found.items() if n}


def erase_late_arrivals(store, since_ns, until_ns):
    """Erase again the people erased between ``since_ns`` and ``until_ns`` (and blocked still)
    whose rows arrived after their erasure: accepted by some node just before it, inserted just
    after (the batch writers drop such rows once they see the block; this catches an insert
    that was already under way). Returns [(site, person, {table: rows})]."""
    erased = store.query("SELECT site, person, detail FROM privacy_audit WHERE action = 'erase' "
                         "AND at_ns > %(since)s AND at_ns <= %(until)s ORDER BY at_ns",
                         {"since": since_ns, "until": until_ns})
    done = []
    for site, person, detail in erased:
        if not blocks.blocked_subjects(store, site, person):
            continue  # consented again since: what came later is theirs to keep
        visitors = set(json.loads(detail).get("visitor_ids", ())) | {person}
        found = leftovers(store, site, person, visitors)
        if not found:
            continue
        params = {"site": site, "person": person, "visitors": tuple(sorted(visitors)),
                  "subjects": tuple(sorted(visitors))}
        _delete(store, site, found, params)
        audit.record(store, site, person, "erase_late_arrivals", "journey-worker", {"rows": found})
        done.append((site, person, found))
    return done
