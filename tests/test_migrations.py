"""Migrations: applied once, recorded, and applying them again changes nothing."""
from tracker.store.migrations import available, migrate, split_statements


def schema(store):
    tables = store.query("SELECT name FROM system.tables WHERE database = %(db)s ORDER BY name",
                         {"db": store.database})
    return {name: store.query(f"SHOW CREATE TABLE `{name}`").scalar() for (name,) in tables}


def test_migrating_twice_changes_nothing(store):
    before = schema(store)
    versions = store.query("SELECT version FROM schema_migrations ORDER BY version")
    assert migrate(store) == []
    assert schema(store) == before
    assert store.query("SELECT version FROM schema_migrations ORDER BY version") == versions
    assert [v for (v,) in versions] == [version for version, _, _ in available()]
    assert {"events", "identities", "persons", "sites", "api_tokens", "salts"} <= set(before)


def test_events_has_its_contract_columns(store):
    columns = {name for (name,) in store.query(
        "SELECT name FROM system.columns WHERE database = %(db)s AND table = 'events'", {"db": store.database})}
    assert {"event_id", "event_time", "event_ms", "visitor_id", "session_id", "user_id", "type", "channel"} <= columns


def test_split_statements_ignores_comments_and_semicolons_inside_lines():
    text = "-- note; here\nCREATE TABLE a (x String DEFAULT ';');\n\nCREATE TABLE b (y UInt8);\n"
    assert split_statements(text) == ["CREATE TABLE a (x String DEFAULT ';')", "CREATE TABLE b (y UInt8)"]
