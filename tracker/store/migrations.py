"""Apply the numbered SQL files of ``migrations/`` once each, recording them in a table.

ClickHouse 18.16 has no ``ADD COLUMN IF NOT EXISTS``, so what was applied is tracked
in ``schema_migrations`` rather than made idempotent statement by statement.
"""
import re
import time
from ..resources import migrations_dir

MIGRATIONS_DIR = migrations_dir()
_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")

_CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version UInt32,
    name String,
    applied_at DateTime('UTC')
) ENGINE = ReplacingMergeTree(applied_at)
ORDER BY version
"""


def available(folder=MIGRATIONS_DIR):
    """(version, name, statements) for every migration file, in order."""
    found = []
    for path in sorted(folder.iterdir()):
        match = _NAME.match(path.name)
        if match:
            found.append((int(match.group(1)), path.name, split_statements(path.read_text())))
    return found


def split_statements(text):
    """Statements of a SQL file: ';' at a line end separates them; '--' comments dropped."""
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("--")]
    return [s.strip() for s in re.split(r";\s*$", "\n".join(lines), flags=re.M) if s.strip()]


def applied(store):
    """Versions already applied."""
    return {row[0] for row in store.query("SELECT DISTINCT version FROM schema_migrations")}


def migrate(store, folder=MIGRATIONS_DIR):
    """Apply what is missing, in order; return the names applied now."""
    store.create_database()
    store.execute(_CREATE_TABLE)
    done = applied(store)
    names = []
    for version, name, statements in available(folder):
        if version in done:
            continue
        for statement in statements:
            store.execute(statement)
        store.insert("schema_migrations", ["version", "name", "applied_at"], [(version, name, int(time.time()))])
        names.append(name)
    return names
