"""The transitions recorded since the automations last looked, read from ``automation_feed``
(a copy of each transition stamped with ClickHouse's insert time by a materialized view).

By insert time, never by the transition's own times: a rebuild writes history whose ``at_ms``
is in the past, and the sweep writes at deadlines. Only the journey worker's lease holder
writes transitions and reads this feed, in the same thread, so a short overlap behind the
watermark (with the ids read in it remembered) is enough.
"""
import logging
import time

from ..journeys.state import TRANSITION_COLUMNS

log = logging.getLogger(__name__)

OVERLAP_SECONDS = 10
WATERMARK = "automations_watermark"
KEEP_DAYS = 2  # days of the feed kept behind its watermark (18.16 has no TTL: whole days are dropped)


class TransitionFeed:
    """New rows of ``automation_feed``, oldest first; the watermark is kept in ``worker_status``."""

    def __init__(self, store, limit=200_000):
        self.store = store
        self.limit = limit
        self.watermark = None  # seconds, ClickHouse's clock
        self._seen = {}  # id → inserted_at, of the rows read within the overlap

    def load(self):
        """Start from the stored watermark; the first time, from now (what was recorded before
        is looked at by each automation's catch-up, not here)."""
        stored = self.store.query("SELECT argMax(value, version) FROM worker_status WHERE name = %(name)s "
                                  "HAVING count() > 0", {"name": WATERMARK}).scalar()
        self.watermark = int(stored) if stored else self.store.query("SELECT toUInt32(now())").scalar()
        self._seen = {}

    def save(self):
        self.store.insert("worker_status", ["name", "value", "version"],
                          [(WATERMARK, str(self.watermark), time.time_ns())])

    def read(self, journeys):
        """Transitions (dicts) not read before, of ``journeys`` ({(site, journey id)}: those an
        enabled automation acts on; the others' are passed over, and an automation enabled later
        finds what it needs by its catch-up)."""
        if self.watermark is None:
            self.load()
        since = self.watermark - OVERLAP_SECONDS
        rows = []
        if journeys:
            rows = self.store.query(f"""
                SELECT {', '.join(TRANSITION_COLUMNS)}, toUInt32(inserted_at) AS inserted FROM automation_feed
                WHERE inserted_at >= %(since)s AND concat(site, ':', journey_id) IN %(journeys)s
                ORDER BY inserted_at, id LIMIT %(limit)s""",
                                    {"since": since, "journeys": tuple(sorted(f"{s}:{j}" for s, j in journeys)),
                                     "limit": self.limit}).dicts()
        fresh = [row for row in rows if row["id"] not in self._seen]
        self._seen.update((row["id"], row["inserted"]) for row in rows)
        if len(rows) == self.limit:
            self.watermark = max(self.watermark, rows[-1]["inserted"])
            if not fresh:  # a second holds more than a read: move past it
                log.warning("more than %d transitions in the feed's overlap: skipping ahead", self.limit)
                self.watermark += 1
        else:  # everything up to the newest row was read
            newest = self.store.query("SELECT toUInt32(max(inserted_at)) FROM automation_feed "
                                      "WHERE inserted_at >= %(since)s", {"since": since}).scalar()
            self.watermark = max(self.watermark, newest or 0)
        cutoff = self.watermark - OVERLAP_SECONDS
        self._seen = {key: at for key, at in self._seen.items() if at >= cutoff}
        return fresh

    def prune(self):
        """Drop the days of the feed that lie wholly behind the watermark (and ``KEEP_DAYS``):
        read, and never read again. Returns how many were dropped."""
        if self.watermark is None:
            return 0
        cutoff = time.strftime("%Y%m%d", time.gmtime(self.watermark - KEEP_DAYS * 86400))
        # Wherever the feed's rows are (each shard's local table on a cluster).
        days = [int(p.strip("'")) for p in self.store.partitions("automation_feed")]
        dropped = [day for day in days if day < int(cutoff)]
        for day in dropped:
            self.store.mutate("automation_feed", f"DROP PARTITION {day}")
        return len(dropped)
