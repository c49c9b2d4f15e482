"""Counts of what ingest drops on purpose (referrer spam), readable by an operator.

/healthz shows them now; a Prometheus /metrics endpoint can export the same object later.
Every ``LOG_EVERY`` more of a kind, a log line says the total so far.
"""
import logging
import threading

log = logging.getLogger(__name__)


class Counters:
    """Thread-safe named totals since the process started."""

    LOG_EVERY = 1000

    def __init__(self):
        self._totals = {}
        self._lock = threading.Lock()

    def add(self, name, amount=1):
        """Add ``amount`` to ``name``; returns the new total."""
        with self._lock:
            before = self._totals.get(name, 0)
            total = self._totals[name] = before + amount
        if total // self.LOG_EVERY > before // self.LOG_EVERY:
            log.info("%s: %d since start", name, total)
        return total

    def snapshot(self):
        """{name: total} now."""
        with self._lock:
            return dict(self._totals)
