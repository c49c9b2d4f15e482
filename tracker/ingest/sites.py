"""The ingest side's view of sites: a cache refreshed from ClickHouse in the background.

Ingest never waits on a ClickHouse that is down: the cache keeps the last list it read
(also on disk, so a restart during an outage still knows the sites) and a thread
refreshes it every few seconds. A miss refreshes at once, at most twice a second, and
only while ClickHouse answers.
"""
import json
import logging
import threading
import time

from ..store import StoreError
from ..store.sites import digest, list_sites

log = logging.getLogger(__name__)


class SiteCache:
    """Site key → site, and secret hash → site, with the last good copy on disk."""

    def __init__(self, store, snapshot_path, refresh_seconds=5.0):
        self.store = store
        self.snapshot_path = snapshot_path
        self.refresh_seconds = refresh_seconds
        self._by_key, self._by_secret = {}, {}
        self._healthy = False
        self._refreshed_at = 0.0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._use(self._read_snapshot())
        self.refresh()
        threading.Thread(target=self._loop, name="site-cache", daemon=True).start()

    def _read_snapshot(self):
        try:
            return json.loads(self.snapshot_path.read_text())
        except (OSError, ValueError):
            return []

    def _use(self, sites):
        self._by_key = {s["site"]: s for s in sites}
        self._by_secret = {s["secret_hash"]: s for s in sites}

    def _loop(self):
        while not self._stop.wait(self.refresh_seconds):
            self.refresh()

    def refresh(self):
        """Read the sites again; keep the old list if ClickHouse does not answer."""
        with self._lock:
            self._refreshed_at = time.monotonic()
            try:
                sites = list_sites(self.store)
            except StoreError as exc:
                if self._healthy:
                    log.warning("cannot refresh sites, keeping %d known: %s", len(self._by_key), exc)
                self._healthy = False
                return
            self._healthy = True
            self._use(sites)
        try:
            self.snapshot_path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.snapshot_path.with_suffix(".tmp")
            tmp.write_text(json.dumps(sites))
            tmp.replace(self.snapshot_path)
        except OSError as exc:
            log.warning("cannot save the sites snapshot: %s", exc)

    def _refresh_on_miss(self):
        if self._healthy and time.monotonic() - self._refreshed_at > 0.5:
            self.refresh()

    def get(self, key):
        """The site with this key, or None."""
        site = self._by_key.get(key)
        if site is None:
            self._refresh_on_miss()
            site = self._by_key.get(key)
        return site

    def by_secret(self, secret):
        """The site whose secret this is, or None."""
        if not secret:
            return None
        hashed = digest(secret)
        site = self._by_secret.get(hashed)
        if site is None:
            self._refresh_on_miss()
            site = self._by_secret.get(hashed)
        return site

    def close(self):
        self._stop.set()
