"""Retention: a site keeps ``retention_months`` months of touchpoints (0: all); older months go.

Tables are partitioned by month for all sites together, so a month is dropped whole (``DROP
PARTITION``, instant) once every site in it has let it go, and deleted site by site (a mutation)
while another site still keeps it. A site's first kept month is the current month less its
retention: its reports say its data exists from the start of that month. After a drop the site's
journeys are rebuilt from what is left. The journey worker runs this step once an hour, within a
time budget; every drop is in the audit trail.
"""
import logging
import time
from datetime import datetime, timezone

from ..journeys import definitions
from ..privacy import audit
from ..store import mutations
from ..store.sites import get_site, list_sites

log = logging.getLogger(__name__)

# Tables of touchpoints and what derives from them, each with the month expression it is
# partitioned by.
MONTHLY = {"events": "toYYYYMM(event_time)",
           "journey_transitions": "toYYYYMM(toDateTime(intDiv(at_ms, 1000)))",
           "overview_daily": "toYYYYMM(day)"}
EVERY_SECONDS = 3600


def first_kept_month(months, now=None):
    """YYYYMM of the oldest month a retention of ``months`` keeps."""
    today = datetime.fromtimestamp(now if now is not None else time.time(), timezone.utc)
    index = today.year * 12 + today.month - 1 - months
    return (index // 12) * 100 + index % 12 + 1


def data_from_ms(months, now=None):
    """Unix milliseconds from which a site keeping ``months`` months has data (None: all kept)."""
    if not months:
        return None
    month = first_kept_month(months, now)
    return int(datetime(month // 100, month % 100, 1, tzinfo=timezone.utc).timestamp() * 1000)


def site_data_from_ms(store, site):
    """Unix milliseconds from which ``site`` keeps touchpoints, or None (no retention, or no such
    site): what the API's answers and the dashboards' pages say."""
    found = get_site(store, site)
    return data_from_ms(found["retention_months"]) if found else None


def _partitions(store, table):
    return sorted(int(p.strip("'")) for p in store.partitions(table))


def _sites_in(store, table, month):
    rows = store.query(f"SELECT DISTINCT site FROM {table} WHERE {MONTHLY[table]} = %(m)s", {"m": month})
    return {site for (site,) in rows}


def apply_retention(store, now=None, budget_seconds=10.0):
    """Drop (or delete per site) the months that sites no longer keep; return
    {site: [YYYYMM, ...]} of what went."""
    keep_from = {s["site"]: first_kept_month(s["retention_months"], now)
                 for s in list_sites(store) if s["retention_months"]}
    if not keep_from:
        return {}
    deadline = time.monotonic() + budget_seconds
    gone = {}
    for table in sorted(mutations.existing_tables(store, MONTHLY)):
        for month in _partitions(store, table):
            if time.monotonic() > deadline:
                log.info("retention: out of time for this round, going on in the next one")
                return _finish(store, gone)
            if month >= max(keep_from.values()):
                continue
            present = _sites_in(store, table, month)
            expired = {site for site in present if site in keep_from and month < keep_from[site]}
            if not expired:
                continue
            if expired == present:
                store.mutate(table, "DROP PARTITION %(m)s", {"m": month})
            else:
                mutations.delete(store, table, f"site IN %(sites)s AND {MONTHLY[table]} = %(m)s",
                                 {"sites": tuple(sorted(expired)), "m": month})
            if table == "events":
                for site in expired:
                    gone.setdefault(site, []).append(month)
    return _finish(store, gone)


def _finish(store, gone):
    for site, months in gone.items():
        for journey in definitions.list_all(store, site):
            definitions.request_rebuild(store, site, journey["id"])
        audit.record(store, site, "", "retention", "journey-worker", {"months_dropped": months})
        log.info("retention: site %s dropped %s", site, ", ".join(map(str, months)))
    return gone


class RetentionStep:
    """The journey worker's retention step: ``maybe_run()`` once every EVERY_SECONDS."""

    def __init__(self, store):
        self.store = store
        self._last = 0.0

    def maybe_run(self, force=False, now=None):
        if not force and time.monotonic() - self._last < EVERY_SECONDS:
            return {}
        self._last = time.monotonic()
        return apply_retention(self.store, now)
