"""The spool: a write-ahead log on local disk for accepted rows not yet in ClickHouse.

Every accepted batch is appended to the process's open segment before the client hears
2xx, so a crash, a SIGTERM or a ClickHouse outage loses nothing: segments are deleted
only after their rows are inserted. Each process owns a folder locked with ``flock``
for its lifetime; a folder whose lock is free belongs to a dead process and is adopted.

A segment starts with a line naming the columns of its rows (``{"columns": {table: [...]}}``),
so segments written before an upgrade that added columns still insert the way they were
written. A segment ClickHouse keeps refusing is set aside in ``rejected/`` with the reason
beside it, for an operator to inspect and retry (``tracker spool list|retry``). Beside a
segment, ``SEGMENT.parts`` lists the parts of it already in ClickHouse (``writer.py``).

A durable spool (``TRACKER_SPOOL_FSYNC``) also survives a power cut: the writer fsyncs the
open segment before a request's 202 (``group_commit.py``), a segment is fsynced before it is
sealed, and its folder when a segment is created in it, so the file itself is found again.
"""
import fcntl
import json
import os
import time
import uuid
from pathlib import Path

REJECTED = "rejected"


# One encoder for every line: json.dumps with options builds a new one per call, a fifth of
# the time of a pixel hit's line.
_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def _line(value):
    return (_encode(value) + "\n").encode()


class Segment:
    """A segment's rows: ``columns`` (table -> names, None for a segment without a header) and
    ``records`` ``[(table, row), ...]``."""

    def __init__(self, columns, records):
        self.columns = columns
        self.records = records

    @classmethod
    def read(cls, path):
        """The segment at ``path``; a torn last line (crash mid-write) is skipped."""
        columns, records = None, []
        with open(path, encoding="utf-8") as segment:
            for line in segment:
                try:
                    value = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if isinstance(value, dict):
                    columns = value.get("columns")
                else:
                    records.extend(value)
        return cls(columns, records)


class Spool:
    """Segments of JSON lines, one accepted batch ``[[table, row], ...]`` a line, replayed oldest first."""

    def __init__(self, root, columns, durable=False):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.columns = columns
        self.durable = durable
        self.folder = self.root / f"{time.time_ns():020d}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.folder.mkdir()
        self._lock_fd = os.open(self.folder / "lock", os.O_CREAT | os.O_RDWR, 0o600)
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
        if durable:
            _sync_folder(self.root)
        self._fd = None
        self._path = None
        self._seq = 0

    def append(self, records):
        """Write ``[(table, row), ...]`` to the open segment; raises OSError if the disk refuses."""
        if self._fd is None:
            self._seq += 1
            self._path = self.folder / f"{time.time_ns():020d}-{self._seq:08d}.wal"
            self._fd = os.open(self._path, os.O_CREAT | os.O_WRONLY | os.O_APPEND, 0o600)
            os.write(self._fd, _line({"columns": self.columns}))
            if self.durable:
                _sync_folder(self.folder)
        os.write(self._fd, _line(records))

    def sync_handle(self):
        """A descriptor of the open segment to fsync (the caller closes it), or None when none is open."""
        return None if self._fd is None else os.dup(self._fd)

    def seal(self):
        """Close the open segment and return its path (None when nothing was written)."""
        if self._fd is None:
            return None
        if self.durable:
            os.fsync(self._fd)
        os.close(self._fd)
        path, self._fd, self._path = self._path, None, None
        return path

    def sealed(self):
        """Every sealed segment of this process, oldest first."""
        return sorted(p for p in self.folder.glob("*.wal") if p != self._path)

    def written(self, path):
        """The parts of segment ``path`` already written ("table@part"), from its ``.parts`` file."""
        parts = path.with_suffix(".parts")
        return frozenset(parts.read_text().split()) if parts.exists() else frozenset()

    def record(self, path, key):
        """Note that part ``key`` of segment ``path`` is in ClickHouse."""
        with open(path.with_suffix(".parts"), "a", encoding="utf-8") as parts:
            parts.write(key + "\n")

    def remove(self, path):
        """Delete a segment that is wholly in ClickHouse, with its record of parts."""
        path.with_suffix(".parts").unlink(missing_ok=True)
        path.unlink()

    def adopt_orphans(self):
        """Move segments of dead processes into our folder; return how many."""
        moved = 0
        for other in self.root.iterdir():
            if other == self.folder or not other.is_dir() or other.name == REJECTED:
                continue
            try:
                fd = os.open(other / "lock", os.O_RDWR)
            except FileNotFoundError:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            try:
                for segment in sorted(other.glob("*.wal")):
                    # Keep the dead process's timestamps so replay stays in arrival order.
                    parts = segment.with_suffix(".parts")
                    if parts.exists():
                        parts.rename(self.folder / parts.name)
                    segment.rename(self.folder / segment.name)
                    moved += 1
                (other / "lock").unlink()
                other.rmdir()
            finally:
                os.close(fd)
        return moved

    @property
    def rejected(self):
        return self.root / REJECTED

    def set_aside(self, path, reason):
        """Move a segment ClickHouse keeps refusing out of the replay queue, with the reason."""
        self.rejected.mkdir(exist_ok=True)
        target = self.rejected / path.name
        target.with_suffix(".reason").write_text(reason)
        if path.with_suffix(".parts").exists():
            path.with_suffix(".parts").rename(target.with_suffix(".parts"))
        path.rename(target)
        return target

    def _waiting(self):
        return [p for p in self.root.glob("*/*.wal") if p.parent.name != REJECTED]

    def pending(self):
        """Segments waiting for ClickHouse (sealed, open, and orphaned ones)."""
        return len(self._waiting())

    def backlog(self):
        """(segments waiting for ClickHouse, seconds the oldest of them has waited)."""
        waiting = self._waiting()
        if not waiting:
            return 0, 0.0
        # A segment's name starts with the time it was opened, in nanoseconds.
        oldest = min(int(p.name.split("-", 1)[0]) for p in waiting)
        return len(waiting), max(0.0, (time.time_ns() - oldest) / 1e9)

    def close(self):
        """Seal, drop our folder if it is empty, and release the lock."""
        self.seal()
        if not any(self.folder.glob("*.wal")):
            (self.folder / "lock").unlink(missing_ok=True)
            self.folder.rmdir()
        os.close(self._lock_fd)


def _sync_folder(folder):
    """fsync a folder, so that a file just created in it is found after a power cut."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def set_aside_segments(root):
    """Segments set aside under ``root`` (and beside it, where earlier versions put them), oldest first."""
    root = Path(root)
    folders = [root / REJECTED, root.parent / REJECTED]
    return sorted((p for folder in folders if folder.is_dir() for p in folder.glob("*.wal")),
                  key=lambda p: p.name)
