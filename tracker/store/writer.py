"""The batch writer: buffered inserts, flushed every second or every N rows.

Rows go to the spool first (see ``spool.py``), then to memory; a background thread
inserts them. While ClickHouse is down the segments wait on disk and are replayed
in order once it answers again. The thread survives any exception: it logs it, keeps it
for ``health()`` (and so ``/healthz``), and goes on with the next round.

A segment is written in *parts* (``Backend.parts``): one per table on a single node, one per
table and shard on a cluster, each part inserted straight into its shard. Each part written
is recorded beside the segment (``Spool.record``), so when one shard is down the others get
their rows now, the down shard's rows stay on disk, and a retry sends only what is missing:
every row reaches its shard once (short of a crash between an insert and its record; on a
replicated shard ClickHouse drops that repeated block itself).
"""
import logging
import threading
import time
from collections import defaultdict

from .. import metrics
from .backend import StoreError, StoreUnavailable
from .group_commit import GroupCommit
from .spool import Segment, Spool

log = logging.getLogger(__name__)

REFUSALS_BEFORE_SET_ASIDE = 5
# Rows of sealed segments kept in memory to spare re-reading the disk; beyond this (a long
# outage) they are read back from their segments when their turn comes.
MEMORY_ROWS = 200_000


def insert_segment(store, columns, records, done=frozenset(), down=None, record=lambda key: None):
    """Insert ``records`` ``[(table, row), ...]`` with ``columns`` (table -> column names), part
    by part: parts named in ``done`` ("table@part") were written before; a part in ``down`` (a
    set, shared by a round over several segments) is not tried again; ``record(key)`` is called
    for each part written. Returns how many rows went to ``events`` now; raises
    StoreUnavailable, after writing what it could, when a part's place does not answer."""
    by_table = defaultdict(list)
    for table, row in records:
        by_table[table].append(tuple(row))
    down = set() if down is None else down
    missing, inserted = None, 0
    for table, rows in by_table.items():
        for part, part_rows in store.parts(table, columns[table], rows).items():
            key = f"{table}@{part}"
            if key in done:
                continue
            if part in down:
                missing = missing or StoreUnavailable(f"part {key} waits: its place did not answer")
                continue
            try:
                store.insert_part(part, table, columns[table], part_rows)
            except StoreUnavailable as exc:
                down.add(part)
                missing = exc
                continue
            record(key)
            inserted += len(part_rows) if table == "events" else 0
    if missing is not None:
        raise missing
    return inserted


def _events_in(records):
    return sum(1 for table, _ in records if table == "events")


class BatchWriter:
    """Accepts rows for several tables; ``add`` returns once they are on disk (with ``fsync``,
    on stable storage: see group_commit.py)."""

    def __init__(self, store, columns, spool_dir, flush_seconds=1.0, flush_rows=5000, fsync=False,
                 keep=None):
        self.store = store
        self.columns = columns  # table -> column names, the order of every row
        # keep(columns, records) -> the records still to insert (ingest drops the rows of people
        # erased while the rows waited in the spool)
        self.keep = keep
        self.flush_seconds = flush_seconds
        self.flush_rows = flush_rows
        self.spool = Spool(spool_dir, columns, durable=fsync)
        self._appended = 0  # appends so far: a request's ticket for the group commit
        self.commit = GroupCommit(self._sync_snapshot) if fsync else None
        self._lock = threading.Lock()
        self._buffer = []
        self._in_memory = {}  # sealed segment -> its records, to skip re-reading the disk
        self._in_memory_rows = 0
        self._wake = threading.Event()
        self._idle = threading.Event()
        self._stopping = False
        self._failures = 0
        self._last_adopt = 0.0
        self._last_error = None  # (unix time, text) of the last thing that went wrong
        self._last_insert = None
        self._set_aside = 0
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
            self._appended += 1
            ticket = self._appended
            full = len(self._buffer) >= self.flush_rows
        if self.commit is not None:
            self.commit.wait(ticket)
        metrics.TOUCHPOINTS_SPOOLED.inc(_events_in(records))
        if full:
            self._wake.set()

    def _sync_snapshot(self):
        """(last append, a descriptor of the open segment): what one group fsync makes durable."""
        with self._lock:
            return self._appended, self.spool.sync_handle()

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

    def health(self):
        """What ``/healthz`` shows of the writer; ``ok`` is False when its thread is gone."""
        last_error = self._last_error
        return {"ok": self._thread.is_alive() or self._stopping, "spooled_segments": self.backlog,
                "set_aside_segments": self._set_aside, "last_insert_at": self._last_insert,
                "last_error": last_error and {"at": last_error[0], "error": last_error[1]}}

    def _run(self):
        while True:
            self._wake.wait(self._delay())
            self._wake.clear()
            with self._lock:
                stopping = self._stopping
            try:
                with self._lock:
                    self._seal()
                self._write_sealed()
            except Exception as exc:  # anything at all: log it, keep it for /healthz, go on
                self._failures += 1
                self._note(f"{type(exc).__name__}: {exc}")
                log.exception("the batch writer failed a round; it goes on")
            self._report_backlog()
            self._idle.set()
            if stopping:
                return

    def _report_backlog(self):
        try:
            segments, oldest = self.spool.backlog()
        except OSError:  # a segment adopted or inserted while we looked: next round
            return
        metrics.SPOOL_SEGMENTS.set(segments)
        metrics.SPOOL_OLDEST_SECONDS.set(oldest)

    def _note(self, text):
        self._last_error = (int(time.time()), text)

    def _delay(self):
        # Back off while ClickHouse is down, up to 10 s between attempts.
        return min(self.flush_seconds * (2 ** min(self._failures, 4)), max(10.0, self.flush_seconds))

    def _seal(self):
        path = self.spool.seal()
        if path is not None and self._in_memory_rows < MEMORY_ROWS:
            self._in_memory[path] = self._buffer
            self._in_memory_rows += len(self._buffer)
        self._buffer = []

    def _segment(self, path):
        records = self._in_memory.pop(path, None)
        if records is not None:
            self._in_memory_rows -= len(records)
            return Segment(self.columns, records)
        segment = Segment.read(path)
        segment.columns = segment.columns or self.columns  # written before segments had a header
        return segment

    def _write_sealed(self):
        if time.monotonic() - self._last_adopt > 10:
            self._last_adopt = time.monotonic()
            self.spool.adopt_orphans()
        down = set()  # parts whose place did not answer this round: later segments wait too
        unavailable = None
        for path in self.spool.sealed():
            segment = self._segment(path)
            started = time.perf_counter()
            try:
                # The rows of people erased while they waited are dropped (keep): a retry of a
                # segment partly written sends only its missing parts, of those still kept.
                records = segment.records if self.keep is None else self.keep(segment.columns, segment.records)
                inserted = insert_segment(self.store, segment.columns, records, self.spool.written(path),
                                          down, lambda key: self.spool.record(path, key))
            except StoreUnavailable as exc:
                self._keep(path, segment)
                unavailable = exc
                continue  # other shards' rows of the next segments still go in
            except StoreError as exc:
                # ClickHouse answers but refuses these rows: after a few tries set the
                # segment aside (kept on disk, never deleted) so it cannot block the rest.
                self._failures += 1
                self._note(str(exc))
                if self._failures < REFUSALS_BEFORE_SET_ASIDE:
                    self._keep(path, segment)
                    return
                target = self.spool.set_aside(path, str(exc))
                self._set_aside += 1
                log.error("ClickHouse refuses %s, set aside as %s (tracker spool list|retry): %s",
                          path.name, target, exc)
            else:
                self.spool.remove(path)
                metrics.INSERT_SECONDS.observe(time.perf_counter() - started)
                metrics.TOUCHPOINTS_INSERTED.inc(inserted)
                self._last_insert = int(time.time())
                if self._failures and unavailable is None:
                    log.warning("ClickHouse takes rows again; spooled rows replayed")
            if unavailable is None:
                self._failures = 0
        if unavailable is not None:
            self._failures += 1
            self._note(str(unavailable))
            if self._failures == 1:
                log.warning("ClickHouse (or a shard of it) does not answer, spooling to disk: %s", unavailable)

    def _keep(self, path, segment):
        """Keep a segment's rows in memory for the next try (when there is room)."""
        if self._in_memory_rows < MEMORY_ROWS and segment.columns == self.columns:
            self._in_memory[path] = segment.records
            self._in_memory_rows += len(segment.records)
