"""Migrations: applied once, recorded with a checksum, refused when a released file changed,
taken by one process at a time, and a database migrated by an older release catches up."""
import shutil
import threading

import pytest

from conftest import drop_database
from tracker.store import open_store
from tracker.store.migrations import MIGRATIONS_DIR, MigrationError, available, migrate, split_statements
from tracker.settings import load_settings


def schema(store):
    tables = store.query("SELECT name FROM system.tables WHERE database = %(db)s ORDER BY name",
                         {"db": store.database})
    return {name: store.query(f"SHOW CREATE TABLE `{name}`").scalar() for (name,) in tables}


def fresh_store(test_config):
    """A store on the test's database, not yet migrated (the ``app`` fixture migrates)."""
    return open_store(load_settings(**test_config))


@pytest.fixture
def bare_store(test_config):
    store = fresh_store(test_config)
    yield store
    drop_database(store)


def copy_migrations(tmp_path, upto=None):
    folder = tmp_path / "migrations"
    folder.mkdir()
    for migration in available():
        if upto is None or migration.version <= upto:
            shutil.copy(MIGRATIONS_DIR / migration.name, folder / migration.name)
    return folder


def test_migrating_twice_changes_nothing(store):
    before = schema(store)
    versions = store.query("SELECT version, checksum FROM schema_migrations ORDER BY version")
    assert migrate(store) == []
    assert schema(store) == before
    assert store.query("SELECT version, checksum FROM schema_migrations ORDER BY version") == versions
    assert versions == [(m.version, m.checksum) for m in available()]
    assert {"events", "identities", "persons", "sites", "api_tokens", "app_secrets", "overview_daily"} <= set(before)


def test_an_applied_migration_that_changed_stops_start_up(bare_store, tmp_path):
    folder = copy_migrations(tmp_path)
    migrate(bare_store, folder)
    edited = folder / "0002_sites_and_tokens.sql"
    edited.write_text(edited.read_text() + "\nCREATE TABLE IF NOT EXISTS sneaky (x UInt8) ENGINE = Log;\n")
    with pytest.raises(MigrationError, match=r"0002_sites_and_tokens.sql was changed after it was applied.*"
                                             r"new numbered migration"):
        migrate(bare_store, folder)
    assert "sneaky" not in schema(bare_store)


def test_a_corrected_comment_is_not_a_change(bare_store, tmp_path):
    folder = copy_migrations(tmp_path)
    migrate(bare_store, folder)
    edited = folder / "0001_events.sql"
    edited.write_text("-- a comment corrected after release\n" + edited.read_text())
    assert migrate(bare_store, folder) == []


def test_a_database_of_the_first_release_catches_up(bare_store, tmp_path):
    """Released 0004 never had the overview's rollup: 0005 adds it, and checksums are adopted."""
    folder = copy_migrations(tmp_path, upto=4)
    migrate(bare_store, folder)
    # The first release kept no checksums.
    bare_store.execute("ALTER TABLE schema_migrations DROP COLUMN checksum")
    bare_store.insert("events", ["site", "event_id", "event_time", "visitor_id", "type", "channel"],
                      [("s1", "e1", 1_700_000_000, "v1", "pageview", "direct")])
    assert "overview_daily" not in schema(bare_store)
    applied = migrate(bare_store)
    assert applied[0].startswith("0005_") and "0004_dashboard_accounts.sql" not in applied
    assert bare_store.query("SELECT uniqHLL12Merge(touchpoints) FROM overview_daily").scalar() == 1
    recorded = dict(bare_store.query("SELECT version, max(checksum) FROM schema_migrations GROUP BY version"))
    assert recorded == {m.version: m.checksum for m in available()}


@pytest.mark.parametrize("backend", ["server", "cluster"])
def test_workers_starting_together_migrate_once(test_config, bare_store):
    """Four processes' worth of stores migrate one fresh database at once: each file is applied
    by exactly one of them, and none fails."""
    results, errors = [], []

    def run():
        try:
            results.append(migrate(fresh_store(test_config)))
        except Exception as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    applied = sorted(name for names in results for name in names)
    assert applied == sorted(m.name for m in available())


@pytest.mark.parametrize("backend", ["cluster"])
def test_a_statement_the_cluster_cannot_rewrite_is_refused_before_anything_is_applied(bare_store, tmp_path):
    """A migration the cluster schema does not know stops `tracker migrate` with a sentence naming
    the file and the way out, and no host gets any of the pending files (not even earlier ones)."""
    folder = copy_migrations(tmp_path)
    migrate(bare_store, folder)
    (folder / "8000_a_table.sql").write_text("CREATE TABLE later (x UInt8) ENGINE = MergeTree() ORDER BY x;\n")
    (folder / "9000_drop_a_column.sql").write_text("ALTER TABLE events DROP COLUMN referrer;\n")
    with pytest.raises(MigrationError, match=r"migrations/9000_drop_a_column.sql cannot be applied to cluster "
                                             r"'tracker'.*shapes listed in tracker/store/cluster_schema.py.*"
                                             r"The statement: ALTER TABLE events DROP COLUMN referrer"):
        migrate(bare_store, folder)
    for host in bare_store.hosts:
        on_host = bare_store.host(host)
        assert not {"later", "later_local"} & set(schema(on_host)), host
        assert on_host.query("SELECT max(version) FROM schema_migrations").scalar() == available()[-1].version


@pytest.mark.parametrize("backend", ["cluster"])
def test_a_new_column_on_the_cluster_reaches_the_local_tables_then_the_distributed_ones(bare_store, tmp_path):
    """ALTER … ADD COLUMN in a later migration: every host's local table and its Distributed
    table get the column (a sharded table and a small one), and rows written with it are read
    back through the Distributed table from both shards."""
    folder = copy_migrations(tmp_path)
    migrate(bare_store, folder)
    (folder / "9000_new_columns.sql").write_text(
        "ALTER TABLE events ADD COLUMN colour String DEFAULT 'none';\n"
        "ALTER TABLE sites ADD COLUMN colour String;\n")
    assert migrate(bare_store, folder) == ["9000_new_columns.sql"]
    for host in bare_store.hosts:
        on_host = bare_store.host(host)
        having = {table for (table,) in on_host.query(
            "SELECT table FROM system.columns WHERE database = %(db)s AND name = 'colour'", {"db": on_host.database})}
        assert having == {"events", "events_local", "sites", "sites_local"}, host
        assert on_host.query("SELECT version FROM schema_migrations WHERE version = 9000").scalar() == 9000
    visitors = [f"v{i}" for i in range(20)]
    bare_store.insert("events", ["site", "event_id", "event_time", "visitor_id", "type", "channel", "colour"],
                      [("s1", f"e{i}", 1_700_000_000, v, "pageview", "direct", f"c{i}") for i, v in enumerate(visitors)])
    spread = [bare_store.host(host).query("SELECT count() FROM events_local").scalar() for host in bare_store.hosts]
    assert all(spread) and sum(spread) == 20, spread
    assert bare_store.query("SELECT count() FROM events WHERE colour LIKE 'c%'").scalar() == 20
    assert migrate(bare_store, folder) == []


def test_events_has_its_contract_columns(store):
    columns = {name for (name,) in store.query(
        "SELECT name FROM system.columns WHERE database = %(db)s AND table = 'events'", {"db": store.database})}
    assert {"event_id", "event_time", "event_ms", "visitor_id", "session_id", "user_id", "type", "channel"} <= columns


def test_split_statements_ignores_comments_and_semicolons_inside_lines():
    text = "-- note; here\nCREATE TABLE a (x String DEFAULT ';');\n\nCREATE TABLE b (y UInt8);\n"
    assert split_statements(text) == ["CREATE TABLE a (x String DEFAULT ';')", "CREATE TABLE b (y UInt8)"]
