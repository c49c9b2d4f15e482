"""Fixed-window counters that every worker shares, at the cost of a dictionary look-up.

A limit is checked on every pixel hit, so it cannot wait for a round trip to Redis (about 50 µs
from Python, more than the rest of the check together). Each process therefore counts locally
and a thread adds its counts to the shared tally every ``SYNC_SECONDS``, learning the totals of
every worker in the same round trip. While a key's known total is far from its limit (more
than ``slack`` below it), a hit is decided locally; closer than that, each hit goes to the
tally at once and is decided on its answer, exactly as flask-limiter's fixed window does
(increment, then compare). So a limit is exact where it matters, at the limit: no request
below it is refused, and past it every worker refuses within one round trip. Far from it, a
key can only be under-counted by what other workers took in the last ``SYNC_SECONDS``, which
the slack covers. Once a key is known to be spent, refusals are local too: a flood costs no
round trips.

When the tally cannot be reached, requests are let through (and logged) up to what this process
alone has counted: the limits protect the service and must never take ingest down with them.
"""
import logging
import threading
import time

log = logging.getLogger(__name__)

SYNC_SECONDS = 0.02
MAX_SLACK = 1000
QUIET_AFTER_FAILURE = 5.0  # seconds without synchronous calls after the tally failed


class WindowCounters:
    """``hit(name, amount, seconds, cost)``: 0 when allowed, else the seconds until the window ends."""

    def __init__(self, tally, prefix):
        self.tally = tally
        self.prefix = prefix
        self._entries = {}  # (name, window start) -> [known total, pending, seconds]
        self._lock = threading.Lock()
        self._failed_at = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sync_loop, name="limit-counters", daemon=True)
        self._thread.start()

    def hit(self, name, amount, seconds, cost=1):
        """Count ``cost`` against ``amount`` per ``seconds`` for ``name``."""
        now = time.time()
        start = int(now // seconds) * seconds
        key = (name, start)
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                entry = self._entries[key] = [0, 0, seconds]
            if entry[0] >= amount:
                return start + seconds - now  # known to be spent: refused without a round trip
            if entry[0] + entry[1] + cost <= amount - min(amount // 2, MAX_SLACK):
                entry[1] += cost
                return 0
            if self._quiet(now):  # the tally failed lately: this process's own count still binds
                if entry[0] + entry[1] + cost > amount:
                    return start + seconds - now
                entry[1] += cost
                return 0
            pending, entry[1] = entry[1] + cost, 0
        total = self._add_now(key, pending, seconds)
        if total is None:
            return 0
        return start + seconds - now if total > amount else 0

    def _quiet(self, now):
        return now - self._failed_at < QUIET_AFTER_FAILURE

    def _tally_key(self, key):
        return f"{self.prefix}:{key[0]}:{key[1]}"

    def _add_now(self, key, amount, seconds):
        try:
            total = self.tally.add({self._tally_key(key): (amount, seconds)})[self._tally_key(key)]
        except Exception as exc:  # Redis down or slow: let the request through, still counted here
            self._failed(exc)
            self._keep_pending({key: amount})
            return None
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                entry[0] = max(entry[0], total)
        return total

    def _keep_pending(self, amounts):
        """Put back counts the tally did not take: they bind this process and go at the next sync."""
        with self._lock:
            for key, amount in amounts.items():
                entry = self._entries.get(key)
                if entry is not None:
                    entry[1] += amount

    def _failed(self, exc):
        if not self._quiet(time.time()):
            log.warning("the rate limits' shared counters do not answer; requests pass unchecked: %s", exc)
        self._failed_at = time.time()

    def sync(self):
        """Add this process's pending counts to the tally and learn the totals (one round trip)."""
        now = time.time()
        with self._lock:
            self._entries = {k: e for k, e in self._entries.items() if k[1] + e[2] > now}
            pending = {k: (e[1], e[2]) for k, e in self._entries.items() if e[1]}
            for key in pending:
                self._entries[key][1] = 0
        if not pending:
            return
        try:
            totals = self.tally.add({self._tally_key(k): v for k, v in pending.items()})
        except Exception as exc:
            self._failed(exc)
            self._keep_pending({k: amount for k, (amount, _) in pending.items()})
            return
        with self._lock:
            for key in pending:
                entry = self._entries.get(key)
                if entry is not None:
                    entry[0] = max(entry[0], totals[self._tally_key(key)])

    def _sync_loop(self):
        while not self._stop.wait(SYNC_SECONDS):
            try:
                self.sync()
            except Exception:  # never let the thread die: the next round tries again
                log.exception("syncing the rate limits' counters failed")

    def close(self):
        """Stop the thread after a last sync."""
        self._stop.set()
        self._thread.join(1)
        self.sync()
