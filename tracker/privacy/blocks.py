"""The visitor ids and user ids an erased person came with, refused by ingest for that site
until a new consent: an API call (``POST …/people/PERSON/consent``, ``tracker person consent``)
or an ``identify`` whose traits say ``consent: granted``.

Ingest checks a set in memory (a pixel hit pays a dictionary look-up); a thread reads the
blocks from ClickHouse every few seconds, so an erasure on one node is seen by every worker.
"""
import logging
import threading
import time

from ..store import StoreError

log = logging.getLogger(__name__)

COLUMNS = ["site", "kind", "value", "person", "blocked", "changed_at", "version"]
CONSENT_VALUES = ("granted", "true", "yes", "1")


def set_blocked(store, site, person, visitors, blocked):
    """Block (or, with a consent, unblock) ``person`` and ``visitors`` on ``site``."""
    now, version = int(time.time()), time.time_ns()
    rows = [(site, "user", person, person, int(blocked), now, version)]
    rows += [(site, "visitor", visitor, person, int(blocked), now, version) for visitor in sorted(visitors)]
    store.insert("privacy_blocks", COLUMNS, rows)


def blocked_subjects(store, site=None, person=None):
    """[(site, kind, value, person)] of what is blocked now."""
    where = " AND ".join(["1"] + (["site = %(site)s"] if site else []) + (["person = %(person)s"] if person else []))
    rows = store.query(f"""
        SELECT site, kind, value, argMax(person, version) AS who FROM privacy_blocks WHERE {where}
        GROUP BY site, kind, value HAVING argMax(blocked, version) = 1""", {"site": site, "person": person})
    return [tuple(row) for row in rows]


def consent(store, site, person):
    """A new consent of ``person``: everything blocked since their erasure is accepted again.
    Returns the visitor ids unblocked."""
    subjects = blocked_subjects(store, site, person)
    visitors = {value for _, kind, value, _ in subjects if kind == "visitor"}
    set_blocked(store, site, person, visitors, False)
    return sorted(visitors)


class Blocks:
    """``refused(site, visitor, user)``: whether ingest must refuse this touchpoint."""

    def __init__(self, store, refresh_seconds=5.0):
        self.store = store
        self.refresh_seconds = refresh_seconds
        self._by_site = {}  # site -> ({visitor ids}, {user ids})
        self._stop = threading.Event()
        self.refresh()
        threading.Thread(target=self._loop, name="privacy-blocks", daemon=True).start()

    def refresh(self):
        """Read the blocks again; keep the last ones if ClickHouse does not answer."""
        try:
            subjects = blocked_subjects(self.store)
        except StoreError as exc:
            log.warning("cannot refresh the privacy blocks, keeping the last ones: %s", exc)
            return
        by_site = {}
        for site, kind, value, _ in subjects:
            visitors, users = by_site.setdefault(site, (set(), set()))
            (visitors if kind == "visitor" else users).add(value)
        self._by_site = by_site

    def refused(self, site, visitor, user):
        blocked = self._by_site.get(site)
        return blocked is not None and (visitor in blocked[0] or (user and user in blocked[1]))

    def unerased(self, columns, records):
        """``records`` ``[(table, row)]`` without the rows of people erased while the rows waited
        in a spool (accepted before the erasure, inserted after it): the batch writer's filter.
        ``columns``: table -> column names of the rows."""
        by_site = self._by_site
        if not by_site:
            return records
        where = {table: (names.index("site"), names.index("visitor_id") if "visitor_id" in names else None,
                         names.index("user_id"))
                 for table, names in columns.items() if {"site", "user_id"} <= set(names)}
        kept = []
        for table, row in records:
            at = where.get(table)
            if at is not None and self.refused(
                    row[at[0]], row[at[1]] if at[1] is not None else None, row[at[2]]):
                continue
            kept.append((table, row))
        if len(kept) < len(records):
            log.info("dropped %d spooled rows of erased people", len(records) - len(kept))
        return kept

    def _loop(self):
        while not self._stop.wait(self.refresh_seconds):
            self.refresh()

    def close(self):
        self._stop.set()
