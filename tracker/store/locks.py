"""Named locks kept in ClickHouse, so that one process of all workers and app nodes does a thing.

``CREATE TABLE`` is atomic: of the processes that create one table at once, exactly one
succeeds, on a server and in chDB alike. The lock's table holds who took it and until when;
the holder renews it while it works, and a holder that died leaves it stale, so the next one
to try after that time moves it out of the way (``RENAME`` is atomic too: one of several
waiters wins) and takes it. The expiry is compared with the server's clock, never ours.
"""
import logging
import re
import secrets
import time

from .backend import StoreError

log = logging.getLogger(__name__)

TABLE_EXISTS = 57
UNKNOWN_TABLE = 60
EMPTY_SECONDS = 5  # a lock table left without its row this long belongs to a crashed creator


class LockTimeout(StoreError):
    """Another process held the lock for longer than we were willing to wait."""


class Lock:
    """``with Lock(store, "migrations"):`` waits for the lock, holds it, releases it.

    ``ttl`` bounds how long a crashed holder blocks the others; a holder that works longer
    calls ``renew()`` within each ``ttl``.
    """

    def __init__(self, store, name, ttl=60, wait=300):
        if not re.fullmatch(r"[a-z][a-z0-9_]{0,40}", name):
            raise ValueError(f"lock names are lower-case identifiers, not {name!r}")
        self._store = store
        self.table = f"_lock_{name}"
        self.ttl = ttl
        self.wait = wait
        self.owner = secrets.token_hex(8)
        self.held = False
        self._empty_since = None

    @property
    def store(self):
        """Where the lock's table lives: the store, or on a cluster its first host (a table is
        created atomically on one server, not across several)."""
        return self._store.coordinator()

    def __enter__(self):
        if not self.acquire(self.wait):
            raise LockTimeout(f"waited {self.wait} s for the {self.table[6:]} lock, which another process holds")
        return self

    def __exit__(self, *exc):
        self.release()

    def acquire(self, wait=0.0):
        """Take the lock, waiting up to ``wait`` seconds; True when held."""
        deadline = time.monotonic() + wait
        pause = 0.05
        while True:
            if self._try_create() or (self._break_if_stale() and self._try_create()):
                self.held = True
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(min(pause, max(0.0, deadline - time.monotonic())))
            pause = min(pause * 2, 1.0)

    def renew(self):
        """Push the expiry ``ttl`` seconds on; False when the lock is no longer ours."""
        if not self.held or self._holder() != self.owner:
            self.held = False
            return False
        self.store.execute(f"INSERT INTO `{self.table}` SELECT %(owner)s, now() + %(ttl)s",
                           {"owner": self.owner, "ttl": self.ttl})
        return True

    def release(self):
        """Give the lock back (only if it is still ours)."""
        if self.held and self._holder() == self.owner:
            self._drop(self.table)
        self.held = False

    def _try_create(self):
        try:
            self.store.execute(f"CREATE TABLE `{self.table}` ENGINE = Log AS "
                               f"SELECT %(owner)s AS owner, now() + %(ttl)s AS expires",
                               {"owner": self.owner, "ttl": self.ttl})
            return True
        except StoreError as exc:
            if exc.code == TABLE_EXISTS:
                return False
            raise

    def _holder(self):
        """The owner who created the lock's table (its first, earliest-expiring row)."""
        try:
            return self.store.query(f"SELECT owner FROM `{self.table}` ORDER BY expires LIMIT 1").scalar()
        except StoreError as exc:
            if exc.code == UNKNOWN_TABLE:
                return None
            raise

    def _break_if_stale(self):
        """Move a lock whose holder stopped renewing out of the way; True when it was moved."""
        try:
            row = self.store.query(f"SELECT max(expires) < now(), count() FROM `{self.table}`")
        except StoreError as exc:
            return exc.code == UNKNOWN_TABLE  # released meanwhile: try again at once
        stale, rows = row[0]
        if not rows:  # its creator is between CREATE and the insert, or died there
            self._empty_since = self._empty_since or time.monotonic()
            stale = time.monotonic() - self._empty_since > EMPTY_SECONDS
        if not stale:
            return False
        aside = f"{self.table}_stale_{secrets.token_hex(4)}"
        try:
            self.store.execute(f"RENAME TABLE `{self.table}` TO `{aside}`")
        except StoreError as exc:
            if exc.code in (UNKNOWN_TABLE, TABLE_EXISTS):
                return True  # another waiter moved it first
            raise
        log.warning("took over the %s lock from a holder that stopped renewing it", self.table[6:])
        self._drop(aside)
        return True

    def _drop(self, table):
        self.store.execute(f"DROP TABLE IF EXISTS `{table}`")
