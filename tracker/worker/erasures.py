"""Erasures made whole: the rows of an erased person that some node had accepted just before
the erasure and inserted just after it are erased again, once the erasure is a little older
than any node's insert can take (``SETTLE_SECONDS``: the blocks refresh, then one flush)."""
import time

from ..privacy.requests import erase_late_arrivals

SETTLE_SECONDS = 15
EVERY_SECONDS = 10
LOOK_BACK_SECONDS = 3600  # on start: erasures of the last hour are checked (again: harmless)


class LateErasureStep:
    """The journey worker's step: ``maybe_run()`` checks erasures between its last check and
    ``SETTLE_SECONDS`` ago."""

    def __init__(self, store):
        self.store = store
        self._checked_ns = time.time_ns() - LOOK_BACK_SECONDS * 10**9
        self._last = 0.0

    def maybe_run(self, force=False):
        if not force and time.monotonic() - self._last < EVERY_SECONDS:
            return []
        self._last = time.monotonic()
        until = time.time_ns() - (0 if force else SETTLE_SECONDS * 10**9)
        if until <= self._checked_ns:
            return []
        done = erase_late_arrivals(self.store, self._checked_ns, until)
        self._checked_ns = until
        return done
