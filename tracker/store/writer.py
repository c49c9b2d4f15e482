"""The batch writer: buffered inserts, flushed every second or every N rows.

Rows go to the spool first (see ``spool.py``), then to memory; a background thread
inserts them. While ClickHouse is down the segments wait on disk and are replayed
in order once it answers again.
"""
import logging
import threading
import time
from collections import defaultdict

from .backend import StoreError, StoreUnavailable
from .spool import Spool

log = logging.getLogger(__name__)


class BatchWriter:
    """Accepts rows for several tables; ``add`` returns once they are on disk."""

    def __init__(self, store, columns, spool_dir, flush_seconds=1.0, flush_rows=5000):
        self.store = store
        self.columns = columns  # table -> column names, the order of every row
        self.flush_seconds = flush_seconds
        self.flush_rows = flush_rows
        self.spool = Spool(spool_dir)
        self._lock = threading.Lock()
        self._buffer = []
        self._in_memory = {}  # sealed segment -> its records, to skip re-reading the disk
        self._wake = threading.Event()
        self._idle = threading.Event()
        self._stopping = False
        self._failures = 0
        self._last_adopt = 0.0
        self._thread = threading.Thread(target=self._run, name="batch-writer", daemon=True)
        self._thread.start()

    def add(self, records):
        """Spool and buffer ``[(table, row), ...]``. Raises OSError when the disk refuses."""
        if not records:
            return
        with self._lock:
            if self._stopping:
                raise OSError("the writer is shutting down")
            self.spool.append(records)
            self._buffer.extend(records)
            full = len(self._buffer) >= self.flush_rows
        if full:
            self._wake.set()

    def flush(self, timeout=10.0):
        """Write everything accepted so far; True when nothing is left waiting."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._idle.clear()
            self._wake.set()
            self._idle.wait(max(0.0, deadline - time.monotonic()))
            with self._lock:
                empty = not self._buffer
            if empty and not self.spool.sealed():
                return True
            time.sleep(0.05)
        return False

    def close(self, timeout=5.0):
        """Flush what ClickHouse takes within ``timeout``; the rest stays in the spool."""
        self.flush(timeout)
        with self._lock:
            self._stopping = True
        self._wake.set()
        self._thread.join(timeout)
        self.spool.close()

    @property
    def backlog(self):
        """Segments on disk not yet in ClickHouse."""
        return self.spool.pending()

    def _run(self):
        while True:
            self._wake.wait(self._delay())
            self._wake.clear()
            with self._lock:
                stopping = self._stopping
                self._seal()
            self._write_sealed()
            self._idle.set()
            if stopping:
                return

    def _delay(self):
        # Back off while ClickHouse is down, up to 10 s between attempts.
        return min(self.flush_seconds * (2 ** min(self._failures, 4)), max(10.0, self.flush_seconds))

    def _seal(self):
        path = self.spool.seal()
        if path is not None:
            self._in_memory[path] = self._buffer
        self._buffer = []

    def _write_sealed(self):
        if time.monotonic() - self._last_adopt > 10:
            self._last_adopt = time.monotonic()
            self.spool.adopt_orphans()
        for path in self.spool.sealed():
            records = self._in_memory.pop(path, None)
            if records is None:
                records = Spool.read(path)
            try:
                self._insert(records)
            except StoreUnavailable as exc:
                self._failures += 1
                if self._failures == 1:
                    log.warning("ClickHouse does not answer, spooling to disk: %s", exc)
                return
            except StoreError as exc:
                # ClickHouse answers but refuses these rows: after a few tries set the
                # segment aside (kept on disk, never deleted) so it cannot block the rest.
                self._failures += 1
                if self._failures < 5:
                    return
                log.error("ClickHouse refuses %s, set aside in %s: %s", path.name, self.spool.rejected, exc)
                self.spool.set_aside(path)
            path.unlink()
            if self._failures:
                log.warning("ClickHouse is back; spooled rows replayed")
            self._failures = 0

    def _insert(self, records):
        by_table = defaultdict(list)
        for table, row in records:
            by_table[table].append(tuple(row))
        for table, rows in by_table.items():
            self.store.insert(table, self.columns[table], rows)
