"""The salt of each UTC day for hashing IP addresses, the same in every worker and app node.

Salts are shared secrets in ClickHouse (``ip_salt:YYYY-MM-DD``); tomorrow's is fetched a day
ahead, so an outage across midnight keeps the hashes stable. Days before yesterday are
deleted: their hashes can never be linked to today's. When no salt can be read at all (a
process that starts on a new day while ClickHouse is down) there is none: a process never
invents its own, which would split one visitor into several between workers.
"""
import logging
import secrets
import threading
import time

from ..store import StoreError
from ..store.shared_secrets import forget_secrets, shared_secret

log = logging.getLogger(__name__)

PREFIX = "ip_salt:"
RETRY_SECONDS = 5.0


def _day(day_number):
    return time.strftime("%Y-%m-%d", time.gmtime(day_number * 86400))


class Salts:
    """``today()``: today's salt, or None while it cannot be read."""

    def __init__(self, store):
        self.store = store
        self._known = {}  # day number -> salt
        self._day, self._salt = None, None
        self._retry_at = 0.0
        self._lock = threading.Lock()

    def today(self, now=None):
        day_number = int((now or time.time()) // 86400)
        if day_number == self._day:  # the hot path: no lock, no formatting
            return self._salt
        with self._lock:
            if day_number != self._day and time.monotonic() >= self._retry_at:
                self._advance(day_number)
            return self._salt if day_number == self._day else None

    def _advance(self, day_number):
        try:
            for number in (day_number, day_number + 1):
                if number not in self._known:
                    self._known[number] = shared_secret(self.store, PREFIX + _day(number),
                                                        lambda: secrets.token_hex(16))
            forget_secrets(self.store, PREFIX, _day(day_number - 1))
        except StoreError as exc:
            self._retry_at = time.monotonic() + RETRY_SECONDS
            log.warning("cannot read the IP salt of %s: %s", _day(day_number), exc)
        if day_number in self._known:
            self._day, self._salt = day_number, self._known[day_number]
            self._known = {n: s for n, s in self._known.items() if n >= day_number}
