"""Apply the numbered SQL files of ``migrations/`` once each, recording them in a table.

ClickHouse 18.16 has no ``ADD COLUMN IF NOT EXISTS``, so what was applied is tracked in
``schema_migrations`` rather than made idempotent statement by statement. A released
migration never changes: each applied file's checksum is recorded, and a file that no longer
matches stops start-up with a sentence saying so (the change belongs in a new file). Workers
and nodes start together; only one of them migrates (a lock in ClickHouse), the others wait
and then find nothing left to do.

On a cluster (``TRACKER_CLICKHOUSE_CLUSTER``) the same files are applied to every host of it,
each statement rewritten for that host by ``cluster_schema.for_host`` (local tables, a
``Distributed`` table over them, views over the local tables), and each host records its own
migrations: a host added later gets all of them on the next ``tracker migrate``.
"""
import hashlib
import logging
import re
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ..resources import migrations_dir
from . import cluster_schema
from .backend import StoreError
from .locks import Lock

log = logging.getLogger(__name__)

MIGRATIONS_DIR = migrations_dir()
_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
COLUMNS = ["version", "name", "applied_at", "checksum"]

_CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version UInt32,
    name String,
    applied_at DateTime('UTC'),
    checksum String
) ENGINE = ReplacingMergeTree(applied_at)
ORDER BY version
"""


class MigrationError(StoreError):
    """The database and the migration files disagree in a way we must not paper over."""


class Migration:
    """One numbered file: its version, name, statements and their checksum."""

    def __init__(self, path):
        self.version = int(_NAME.match(path.name).group(1))
        self.name = path.name
        self.statements = split_statements(path.read_text())
        # Of the statements, not the file: a comment may be corrected, a statement may not.
        self.checksum = hashlib.sha256("\n;\n".join(self.statements).encode()).hexdigest()


def available(folder=MIGRATIONS_DIR):
    """Every migration file, in order."""
    return [Migration(path) for path in sorted(Path(folder).iterdir()) if _NAME.match(path.name)]


def split_statements(text):
    """Statements of a SQL file: ';' at a line end separates them; '--' comments dropped."""
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("--")]
    return [s.strip() for s in re.split(r";\s*$", "\n".join(lines), flags=re.M) if s.strip()]


def applied(store):
    """{version: (name, checksum)} of what was applied ('' for a checksum never recorded)."""
    rows = store.query("SELECT version, any(name), max(checksum) FROM schema_migrations GROUP BY version")
    return {version: (name, checksum) for version, name, checksum in rows}


def _prepare(store):
    """The bookkeeping table, with the checksum column that databases migrated before it lack."""
    store.create_database()
    store.execute(_CREATE_TABLE)
    has_checksum = store.query("SELECT count() FROM system.columns WHERE database = %(db)s "
                               "AND table = 'schema_migrations' AND name = 'checksum'",
                               {"db": store.database}).scalar()
    if not has_checksum:
        store.execute("ALTER TABLE schema_migrations ADD COLUMN checksum String")


def verify(store, done, files):
    """Raise MigrationError when an applied file was changed since it was applied."""
    for migration in files:
        name, recorded = done.get(migration.version, (None, ""))
        if recorded and recorded != migration.checksum:
            raise MigrationError(
                f"migrations/{migration.name} was changed after it was applied to database "
                f"{store.database!r} (checksum {recorded[:12]} then, {migration.checksum[:12]} now). "
                f"A released migration never changes: restore the file and put the change in a "
                f"new numbered migration.")
    unknown = sorted(set(done) - {m.version for m in files})
    if unknown:
        log.warning("database %s has migrations this version does not know (%s): newer code migrated it",
                    store.database, ", ".join(f"{v:04d}" for v in unknown))


def _up_to_date(done, files):
    return all(m.version in done and done[m.version][1] for m in files)


def targets(store, files=()):
    """[(store, statements of a migration there)]: the store itself, or each host of its cluster.
    On a cluster, every statement of ``files`` is rewritten for every host first: a statement
    the rewriting does not know stops the migration before anything is applied."""
    if store.kind != "cluster":
        return [(store, lambda migration: migration.statements)]
    layout = store.layout
    rewritten = {}
    for host in store.hosts:
        for migration in files:
            try:
                rewritten[host, migration.version] = [
                    each for statement in migration.statements
                    for each in cluster_schema.for_host(statement, layout, host)]
            except cluster_schema.UnknownStatement as exc:
                raise MigrationError(
                    f"migrations/{migration.name} cannot be applied to cluster {store.cluster!r}: {exc}") from exc

    def on(host):
        return lambda migration: rewritten[host, migration.version]

    return [(store.host(host), on(host)) for host in store.hosts]


def on_each(hosts, work, together):
    """``work(store, statements_of)`` for each of ``targets``; ``together``: all at once (a thread
    per host: DDL waits on disks, not on our CPU); the results in the order of ``hosts``."""
    if len(hosts) == 1 or not together:
        return [work(*host) for host in hosts]
    with ThreadPoolExecutor(max_workers=len(hosts), thread_name_prefix="migrate") as pool:
        return list(pool.map(lambda host: work(*host), hosts))


def migrate(store, folder=MIGRATIONS_DIR):
    """Apply what is missing, in order, under the migrations lock; return the names applied now
    (on any host of a cluster).

    On a cluster, one migration at a time on every host that lacks it, then the next: a replica
    created after its table's ALTER reached ZooKeeper would have the old structure, which
    ZooKeeper refuses. Replicas one after the other, so a replica's ALTER or backfill (which
    reaches its others through ZooKeeper) is there before their own statements; hosts of an
    unreplicated cluster all at once."""
    files = available(folder)
    hosts = targets(store, files)
    together = store.kind == "cluster" and not store.layout.replicated

    def checked(target, _):
        _prepare(target)
        done = applied(target)
        verify(target, done, files)
        return _up_to_date(done, files)

    if all(on_each(hosts, checked, together)):
        return []  # the common start: no lock taken
    names = []
    # A backfill may take minutes; the lock's expiry is long so that nobody takes it over.
    with Lock(store, "migrations", ttl=3600, wait=3600) as lock:
        missing = on_each(hosts, lambda target, _: _missing(target, files), together)
        for migration in files:
            where = [host for host, lacking in zip(hosts, missing) if migration.version in lacking]
            if not where:
                continue
            on_each(where, lambda target, statements_of: _apply(target, statements_of(migration), migration),
                    together)
            lock.renew()
            names.append(migration.name)
    return names


def _missing(store, files):
    """The versions of ``files`` not applied to ``store`` (checked again under the lock); those
    applied before checksums were kept get theirs recorded."""
    done = applied(store)
    verify(store, done, files)
    for migration in files:
        if migration.version in done and not done[migration.version][1]:
            _record(store, migration)
    return {migration.version for migration in files if migration.version not in done}


def _apply(store, statements, migration):
    for statement in statements:
        store.execute(statement)
    _record(store, migration)


def _record(store, migration):
    store.insert("schema_migrations", COLUMNS,
                 [(migration.version, migration.name, int(time.time()), migration.checksum)])
