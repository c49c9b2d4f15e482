"""Embedded ClickHouse (chDB): the same SQL in-process, data in a local folder.

chDB allows one data folder per process and one process per folder, so sessions are
shared per process and a second process gets a plain-spoken error. A process holds a few
sessions on its folder, so that its threads' queries run at once.
"""
import json
import queue
import threading
from datetime import date

from .backend import MAX_QUERY_BYTES, Backend, Rows, StoreError, bind, members_literal, to_epoch

SESSIONS = 4  # chDB runs one query at a time in a session; a person page runs four at once
# From this many on, a query's ``Members`` go into a temporary table of its session, filled from
# one JSON string, as a server gets them beside the query: chDB (26.x) plans a literal of
# thousands of values again and again (the worker's state query for 5,000 people at 10M
# touchpoints: 1.8 s of planning with a literal of their 10,000 visitors, 0.2 s with a table).
MEMBERS_IN_TABLE = 500

_sessions = {}
_sessions_lock = threading.Lock()


class _Sessions:
    """The process's chDB sessions on one folder (one costs under a millisecond once the first
    is open). A query takes a free one, so queries from several threads (a person page's reads,
    the worker beside requests) run at once: one session runs them one after another."""

    def __init__(self, path):
        from chdb import session as chdb_session

        self._open = [chdb_session.Session(str(path)) for _ in range(SESSIONS)]
        self._free = queue.SimpleQueue()
        for session in self._open:
            # A query's SETTINGS clause comes too late for the parser's own limit.
            session.query(f"SET max_query_size = {MAX_QUERY_BYTES}", "CSV")
            # Without it chDB (26.x) runs an INSERT SELECT into a table with views on one thread
            # (a rebuild's state insert at 10M touchpoints: 24 s; 12 s with it, as with no views).
            session.query("SET parallel_view_processing = 1", "CSV")
            self._free.put(session)

    def query(self, sql, fmt):
        """The result's bytes (read before the session serves another query)."""
        session = self._free.get()
        try:
            return session.query(sql, fmt).bytes()
        except Exception:
            _drain(session)
            raise
        finally:
            self._free.put(session)

    def close(self):
        for session in self._open:  # left in the queue: a store still holding them gets an error
            session.close()


def _sessions_on(path):
    with _sessions_lock:
        if path in _sessions:
            return _sessions[path]
        if _sessions:
            other = next(iter(_sessions))
            raise StoreError(f"this process already holds the embedded store at {other}; "
                             f"chDB opens one data folder per process")
        try:
            _sessions[path] = _Sessions(path)
        except Exception as exc:  # chDB raises plain RuntimeErrors on a locked folder
            raise StoreError(
                f"cannot open the embedded store at {path}: {exc}. Another process (a second "
                f"gunicorn worker or a running 'tracker serve') probably holds it: the embedded "
                f"store serves one process; run one worker with threads, or set "
                f"TRACKER_CLICKHOUSE_URL to use a ClickHouse server") from exc
        return _sessions[path]


def close_sessions():
    """Close every chDB session of this process (tests and shutdown)."""
    with _sessions_lock:
        for sessions in _sessions.values():
            sessions.close()
        _sessions.clear()


def _drain(session):
    """Clear what a failed query left in ``session``: chDB (4.4) keeps the output a query over
    its time or memory had begun (a JSON header) and puts it before the next query's."""
    try:
        session.query("SELECT 1 FORMAT Null", "CSV")
    except Exception:  # noqa: S110 - a closed session has nothing left to clear
        pass


def _jsonable(value):
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"cannot insert {type(value).__name__}")


_ROWS = json.JSONEncoder(default=_jsonable, ensure_ascii=False, separators=(",", ":"))


class EmbeddedBackend(Backend):
    """chDB behind the same interface as the server."""

    kind = "embedded"

    def __init__(self, path, database):
        self.path = path
        self.database = database
        self._sessions = _sessions_on(path)

    def _run(self, sql, fmt="JSONCompact"):
        try:
            return self._sessions.query(sql, fmt)
        except Exception as exc:  # chDB's ChdbError is a RuntimeError
            raise StoreError(str(exc).strip()) from exc

    def _bound(self, sql, params):
        """``sql`` with its parameters, after the statements that fill the temporary tables of its
        larger ``Members`` (run in the same session call, so in the same session)."""
        fills = []

        def apart(name, members):
            if len(members) < MEMBERS_IN_TABLE:
                return members_literal(name, members)
            table = f"_members_{name}"
            values = bind("%(v)s", {"v": json.dumps(list(members), ensure_ascii=False)})
            fills.append(f"DROP TEMPORARY TABLE IF EXISTS {table}; "
                         f"CREATE TEMPORARY TABLE {table} (value {members.kind}) ENGINE = Memory; "
                         f"INSERT INTO {table} SELECT arrayJoin(JSONExtract({values}, 'Array({members.kind})')); ")
            return f"(SELECT value FROM {table})"

        text = bind(sql, params, apart)
        return "".join(fills) + text

    def _query(self, sql, params=None, settings=None):
        text = self._bound(sql, params) + self.settings_clause(self.limited(settings))
        raw = self._run(self._in_database(text))
        if not raw:
            return Rows([], [])
        payload = json.loads(raw)
        meta = payload["meta"]
        columns = [m["name"] for m in meta]
        # Only the columns JSON does not give as the server would are converted: a worker's batch
        # reads a million values, and a call for each cost it half a second.
        converting = [(i, conv) for i, m in enumerate(meta) if (conv := _converter(m["type"]))]
        rows = payload["data"]
        if converting:
            for row in rows:
                for i, conv in converting:
                    row[i] = conv(row[i])
        return Rows(list(map(tuple, rows)), columns)

    def execute(self, sql, params=None, settings=None):
        self._run(self._in_database(self._bound(sql, params) + self.settings_clause(settings)), "CSV")

    def insert(self, table, columns, rows):
        if not rows:
            return
        # A row as a JSON array, its columns named once: a third less to write and parse than an
        # object per row (the worker's 20,000 state rows: 0.9 -> 0.7 s; 65,000 transitions:
        # 0.75 -> 0.38 s), and a column the table lacks is still an error, as on a server. The
        # rows are written as one array, its brackets cut (the format takes commas between rows):
        # one call, not one a row (65,000 transitions: 0.18 -> 0.08 s).
        data = _ROWS.encode(list(rows))[1:-1]
        self._run(self._in_database(f"INSERT INTO {table} ({', '.join(columns)}) FORMAT JSONCompactEachRow\n{data}"),
                  "CSV")

    def _in_database(self, sql):
        # chDB keeps one current database per session; name ours on every query so
        # several stores (tests) can share the process's single session.
        return f"USE `{self.database}`; {sql}" if self.database else sql

    def create_database(self):
        self._run(f"CREATE DATABASE IF NOT EXISTS `{self.database}`", "CSV")


def _converter(kind):
    """What turns JSON's value of a column of type ``kind`` into the server's, if anything."""
    if kind.startswith("DateTime") or kind.startswith("Nullable(DateTime"):
        return lambda v: None if v is None else to_epoch(v)
    if kind.startswith(("UInt64", "Int64", "UInt128", "Int128")):
        return lambda v: None if v is None else int(v)
    return None
