"""The small interface every storage backend offers, and what both share.

Both backends return the same Python values: DateTime columns as Unix seconds,
Date columns as ISO strings, arrays as lists, so callers never care which one runs.
"""
import contextvars
import re
import time
from concurrent.futures import Future
from datetime import date, datetime

from clickhouse_driver.util.escape import escape_params


class StoreError(Exception):
    """ClickHouse refused or could not be reached; the batch writer spools on it.

    ``code`` is ClickHouse's error code (57: table exists, 60: unknown table…), or 0.
    """

    @property
    def code(self):
        found = re.search(r"Code: (\d+)", str(self))
        return int(found.group(1)) if found else 0


class StoreUnavailable(StoreError):
    """ClickHouse cannot be reached at all (as opposed to refusing one query)."""

    # What a client is told (the exception's own text, with hosts and ports, is for the log).
    public_reason = "the database does not answer; try again shortly"


_SAFE_TYPES = (str, int, float, list, tuple, type(None))

# Seconds spent in queries by the current request ([total]; unset outside requests): the
# request log and the per-endpoint query histogram read it.
query_clock = contextvars.ContextVar("query_clock")


def submit(pool, fn, *args):
    """``fn(*args)`` in ``pool``, or at once without one: a future either way. In the caller's
    context, so that its request's ``query_clock`` counts the queries. (Submit from a request's
    thread only: a pool's thread waiting on the pool could wait for ever.)"""
    if pool is not None:
        return pool.submit(contextvars.copy_context().run, fn, *args)
    done = Future()
    done.set_result(fn(*args))
    return done


class Members(tuple):
    """Values a query tests membership against: ``x IN %(name)s``, with ``kind`` their ClickHouse
    type. A server gets them beside the query as a table of their own (``table``), the embedded
    store in a temporary table when they are many; otherwise they are written into it as
    ``(SELECT arrayJoin([...]))``. ClickHouse handles a literal of thousands of values again
    in every subquery it analyses: half a second of a worker's query for 20,000 visitors on
    18.16, 1.5 s for 10,000 on chDB."""

    def __new__(cls, values, kind="String"):
        if not re.fullmatch(r"\w+", kind):
            raise ValueError(f"not a ClickHouse type: {kind!r}")
        members = super().__new__(cls, values)
        members.kind = kind
        return members

    def table(self, name):
        """As clickhouse-driver's ``external_tables`` entry named ``name``."""
        return {"name": name, "structure": [("value", self.kind)], "data": [{"value": v} for v in self]}


def bind(sql, params, members=None):
    """Substitute ``%(name)s`` parameters with clickhouse-driver's client-side escaping.

    Only plain values are allowed: anything else would be pasted into the SQL as-is.
    ``members(name, value)``: the SQL that stands for a ``Members`` parameter, when the backend
    sends them apart (by default they are escaped into the SQL: ``members_literal``).
    """
    if not params:
        return sql
    checked = {}
    for key, value in params.items():
        if isinstance(value, bool):
            value = int(value)
        elif isinstance(value, datetime):
            value = int(value.timestamp())
        elif isinstance(value, date):
            value = value.isoformat()
        if not isinstance(value, _SAFE_TYPES):
            raise TypeError(f"parameter {key!r} has unsupported type {type(value).__name__}")
        if isinstance(value, (list, tuple)) and not all(isinstance(v, (str, int, float)) for v in value):
            raise TypeError(f"parameter {key!r} must be a list of strings or numbers")
        checked[key] = value
    sets = {key: value for key, value in checked.items() if isinstance(value, Members)}
    escaped = escape_params({key: value for key, value in checked.items() if key not in sets}, None)
    for key, value in sets.items():
        escaped[key] = (members or members_literal)(key, value)
    return sql % escaped


def members_literal(name, members):
    """``Members`` written into the SQL: an array of them as a subquery ([] alone has no type)."""
    array = escape_params({"m": list(members)}, None)["m"] if members else f"CAST([], 'Array({members.kind})')"
    return f"(SELECT arrayJoin({array}))"


def to_epoch(value):
    """A DateTime value from either backend as Unix seconds."""
    if isinstance(value, datetime):
        return int(value.timestamp())
    if isinstance(value, str):
        return int(datetime.fromisoformat(value + "+00:00").timestamp())
    return value


class Rows(list):
    """Result rows (tuples) with the column names in ``columns``."""

    def __init__(self, rows, columns):
        super().__init__(rows)
        self.columns = columns

    def dicts(self):
        return [dict(zip(self.columns, row)) for row in self]

    def scalar(self):
        return self[0][0] if self else None


# The journey worker recomputes thousands of people in one query, naming their visitor ids:
# more text and more syntax-tree nodes than ClickHouse takes by default (256 KiB, 50,000).
MAX_QUERY_BYTES = 64 * 1024 * 1024
MAX_AST_ELEMENTS = 2_000_000


class Backend:
    """What the rest of the code may ask of a store."""

    kind = "abstract"
    database = ""
    # Limits every SELECT carries unless the caller passes its own: a dashboard query must not
    # run for minutes (TRACKER_QUERY_SECONDS) or eat the server's memory, and a large GROUP BY
    # (every person of 10M touchpoints) spills to disk under half the memory cap, as ClickHouse
    # advises, instead of failing (PostHog forces the same setting).
    query_limits = {"max_execution_time": 30, "max_memory_usage": 4_000_000_000,
                    "max_bytes_before_external_group_by": 1_500_000_000, "max_query_size": MAX_QUERY_BYTES,
                    "max_ast_elements": MAX_AST_ELEMENTS, "max_expanded_ast_elements": MAX_AST_ELEMENTS}

    def limited(self, settings):
        """The query limits merged with a caller's settings."""
        return {**self.query_limits, **(settings or {})}

    def query(self, sql, params=None, settings=None):
        """Run a SELECT with the query limits; return ``Rows``. Its time counts towards the
        current request's ``query_clock``."""
        started = time.perf_counter()
        try:
            return self._query(sql, params, settings)
        finally:
            spent = query_clock.get(None)
            if spent is not None:
                spent[0] += time.perf_counter() - started

    def _query(self, sql, params=None, settings=None):
        raise NotImplementedError

    @staticmethod
    def settings_clause(settings):
        """``SETTINGS a=1, b='x'`` for the end of a statement ('' when none)."""
        if not settings:
            return ""
        return " SETTINGS " + ", ".join(f"{k}={int(v) if isinstance(v, bool) else v!r}" for k, v in settings.items())

    def execute(self, sql, params=None, settings=None):
        """Run a statement that returns nothing (DDL, ALTER, OPTIMIZE, INSERT SELECT); ``settings``
        apply to it (an INSERT SELECT passes the query limits, spilling included)."""
        raise NotImplementedError

    def insert(self, table, columns, rows):
        """Insert ``rows`` (tuples in ``columns`` order) into ``table``."""
        raise NotImplementedError

    def create_database(self):
        """Create this store's database if it is missing (migrations start here)."""
        raise NotImplementedError

    # What a single node shares with a cluster (``cluster.py``), where each differs.

    def coordinator(self):
        """The store that holds the locks (``locks.py``): this one, on a single node."""
        return self

    def parts(self, table, columns, rows):
        """``rows`` split by where they are written, {part: rows}: one part on a single node."""
        return {0: rows} if rows else {}

    def insert_part(self, part, table, columns, rows):
        """Insert one part of ``parts``."""
        self.insert(table, columns, rows)

    def mutate(self, table, action, params=None):
        """``ALTER TABLE table ACTION`` that changes rows (``DELETE WHERE …``, ``DROP PARTITION …``):
        applied where the table's rows are (on a cluster, each shard's local table)."""
        self.execute(f"ALTER TABLE `{table}` {action}", params)

    def delete_where(self, table, condition, params=None):
        """Delete ``table``'s rows that match ``condition`` (a mutation: ClickHouse applies it
        in the background)."""
        self.mutate(table, f"DELETE WHERE {condition}", params)

    def pending_mutations(self, tables):
        """How many mutations of ``tables`` are not done yet (wherever their rows are)."""
        return self.query("SELECT count() FROM system.mutations WHERE database = %(db)s AND table IN %(tables)s "
                          "AND is_done = 0", {"db": self.database, "tables": tuple(tables)}).scalar() or 0

    def partitions(self, table):
        """The partitions of ``table`` that hold rows (wherever they are)."""
        rows = self.query("SELECT DISTINCT partition FROM system.parts WHERE database = %(db)s AND table = %(t)s "
                          "AND active", {"db": self.database, "t": table})
        return sorted({p for (p,) in rows})

    def ping(self):
        """True when ClickHouse answers."""
        try:
            self.query("SELECT 1")
            return True
        except StoreError:
            return False

    def close(self):
        """Release the connection or session."""
