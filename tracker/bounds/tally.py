"""The shared part of the rate limits: counters every worker and app node adds to.

Redis (through the client of ``limits``' Redis storage, the storage flask-limiter uses for the
login limits) on a ClickHouse server store; a dictionary in this process on the embedded store,
which one process serves. ClickHouse is no place for counters bumped on every request: each
insert is a part on disk, and a count is a merge away from being exact.
"""
import threading
import time


class MemoryTally:
    """Counters of this process only (the embedded store's single serving process)."""

    def __init__(self):
        self._counts = {}  # key -> [total, expires_at]
        self._lock = threading.Lock()

    def add(self, amounts):
        """Add ``{key: (amount, expiry_seconds)}``; return ``{key: new total}``."""
        now = time.time()
        totals = {}
        with self._lock:
            for key, (amount, expiry) in amounts.items():
                entry = self._counts.get(key)
                if entry is None or entry[1] <= now:
                    entry = self._counts[key] = [0, now + expiry]
                entry[0] += amount
                totals[key] = entry[0]
            if len(self._counts) > 100_000:  # drop what expired, now and then
                self._counts = {k: e for k, e in self._counts.items() if e[1] > now}
        return totals


class RedisTally:
    """Counters in Redis; one round trip (a pipeline) for any number of keys."""

    def __init__(self, client):
        self.client = client

    def add(self, amounts):
        pipe = self.client.pipeline(transaction=False)
        for key, (amount, expiry) in amounts.items():
            pipe.incrby(key, amount)
            pipe.expire(key, int(expiry) + 1)  # each window has keys of its own: a reset is harmless
        results = pipe.execute()
        return {key: results[2 * i] for i, key in enumerate(amounts)}


def open_tally(uri):
    """The tally of a storage URI: ``redis://…`` (shared) or ``memory://`` (this process)."""
    if uri.startswith("memory://"):
        return MemoryTally()
    from limits.storage import storage_from_string

    # Short timeouts: a Redis that does not answer must not hold up a pixel (the limits then
    # let requests through; see counters.py).
    storage = storage_from_string(uri, socket_timeout=0.2, socket_connect_timeout=0.2)
    return RedisTally(storage.storage)
