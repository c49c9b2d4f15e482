"""What changed since the watermark, and whose journeys that touches.

``journey_changes`` gets a row per visitor per insert of touchpoints or identity links, stamped
by ClickHouse at insert time. The feed reads from a little before its watermark (an insert that
took long to commit appears late), skipping rows it has seen.
"""
import time
from collections import Counter

from ..store.backend import Members

# How far behind the watermark each read starts: longer than any insert takes to commit.
OVERLAP_SECONDS = 60


class ChangeFeed:
    """Rows of ``journey_changes`` not seen before, oldest first; the watermark is kept in the store."""

    def __init__(self, store):
        self.store = store
        self.watermark = None  # seconds, ClickHouse's clock
        # Rows read so far in the overlap, counted: two inserts of one visitor within a second
        # give two equal rows, and the second must not pass for the first.
        self._seen = Counter()

    def load(self):
        """Start from the stored watermark; on a store that never had a worker, from now on
        (every journey is built from all its touchpoints first)."""
        stored = self.store.query("SELECT argMax(value, version) FROM worker_status WHERE name = 'watermark' "
                                  "HAVING count() > 0").scalar()
        if stored:
            self.watermark = int(stored)
        else:
            self.watermark = self.store.query("SELECT toUInt32(now())").scalar() + OVERLAP_SECONDS

    def save(self):
        self.store.insert("worker_status", ["name", "value", "version"],
                          [("watermark", str(self.watermark), time.time_ns())])

    def read(self, limit=200_000):
        """New ``(site, visitor_id, user_id, inserted_at)`` rows; advances the watermark past them."""
        rows = self.store.query("""
            SELECT site, visitor_id, user_id, toUInt32(inserted_at) AS at FROM journey_changes
            WHERE inserted_at >= %(since)s ORDER BY at LIMIT %(limit)s""",
                                {"since": self.watermark - OVERLAP_SECONDS, "limit": limit})
        counted = Counter(tuple(row) for row in rows)
        fresh = [row for row, count in counted.items() for _ in range(count - self._seen[row])]
        self._seen.update(counted - self._seen)
        if rows:
            self.watermark = max(self.watermark, rows[-1][3])
        cutoff = self.watermark - OVERLAP_SECONDS
        self._seen = Counter({row: n for row, n in self._seen.items() if row[3] >= cutoff})
        return fresh

    def since(self, seconds, site):
        """Every change of ``site`` from ``seconds`` (less the overlap) on, seen or not."""
        return self.store.query("""
            SELECT site, visitor_id, user_id, toUInt32(inserted_at) FROM journey_changes
            WHERE inserted_at >= %(since)s AND site = %(site)s""", {"since": seconds - OVERLAP_SECONDS, "site": site})

    def lag(self):
        """Seconds from the newest change this feed has read to now (ClickHouse's clock)."""
        newest = self.store.query("SELECT toUInt32(max(inserted_at)) FROM journey_changes "
                                  "WHERE inserted_at >= %(since)s", {"since": self.watermark}).scalar()
        return max(0, (newest or self.watermark) - self.watermark)


def persons_of_changes(store, site, rows):
    """The persons whose journeys the changed visitors touch: the user ids on the rows, the
    visitors themselves (anonymous people are their visitor), and every user a visitor was
    ever linked to (a link moves touchpoints from the visitor, or from an earlier user)."""
    visitors = {visitor for _, visitor, _, _ in rows}
    persons = visitors | {user for _, _, user, _ in rows if user}
    persons |= {visitor[2:] for visitor in visitors if visitor.startswith("u:")}
    if visitors:
        linked = store.query("SELECT DISTINCT user_id FROM identities WHERE site = %(site)s "
                             "AND visitor_id IN %(v)s", {"site": site, "v": Members(sorted(visitors))})
        persons |= {user for (user,) in linked}
    return sorted(persons)


def visitors_of_persons(store, site, persons):
    """{person: visitor ids that may carry their touchpoints} (linked ones, 'u:ID', itself)."""
    found = {person: {person, "u:" + person} for person in persons}
    rows = store.query("SELECT user_id, visitor_id FROM identities_by_user WHERE site = %(site)s "
                       "AND user_id IN %(p)s", {"site": site, "p": Members(sorted(persons))})
    for user, visitor in rows:
        found[user].add(visitor)
    return found
