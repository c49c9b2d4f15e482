"""The audit trail of privacy requests and retention drops: who asked, when, what was done."""
import json
import time

COLUMNS = ["at", "at_ns", "site", "person", "action", "actor", "detail"]


def record(store, site, person, action, actor, detail):
    """Keep one line: ``action`` ('export', 'erase', 'consent', 'retention') by ``actor``."""
    now = time.time_ns()
    store.insert("privacy_audit", COLUMNS, [(now // 10**9, now, site, person, action, actor,
                                             json.dumps(detail, sort_keys=True, default=str))])


def entries(store, site, person=None):
    """The audit lines of a site (of one person, if given), oldest first."""
    where = "site = %(site)s" + (" AND person = %(person)s" if person is not None else "")
    rows = store.query(f"SELECT {', '.join(COLUMNS)} FROM privacy_audit WHERE {where} ORDER BY at_ns",
                       {"site": site, "person": person})
    return [dict(row, detail=json.loads(row["detail"])) for row in rows.dicts()]
