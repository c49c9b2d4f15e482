"""A site's data out of one store and into another: backup, restore, or a move between the
embedded store and a ClickHouse server (``tracker export --site S --to DIR``, ``tracker import
--from DIR``).

The folder holds one gzipped JSON-lines file per table (a row a line, a JSON array in the order
of the manifest's columns) and ``manifest.json``: the format and its version, the site, when and
from which kind of store, and per table its file, columns, row count and SHA-256. Only tables
that are not derived are exported: on import, the store's materialized views fill the search
index, identities by user and the change feed, and the journey worker rebuilds journey state
and transitions from the imported touchpoints (each imported journey gets a new build).
"""
import gzip
import hashlib
import json
import time
from pathlib import Path

from ..journeys import definitions
from ..store import mutations

FORMAT, VERSION = "tracker-site-export", 1
# Table -> the filter of one site's rows. Optional tables (another feature's) go when present.
TABLES = {"sites": "site_key = %(site)s", "journeys": "site = %(site)s", "events": "site = %(site)s",
          "identities": "site = %(site)s", "persons": "site = %(site)s", "privacy_blocks": "site = %(site)s",
          "privacy_audit": "site = %(site)s", "automations": "site = %(site)s"}
BATCH_ROWS = 20_000


class BackupError(Exception):
    """An export folder that cannot be imported; the message says why."""


def _columns(store, table):
    """The table's stored columns (not MATERIALIZED or ALIAS ones), in order."""
    rows = store.query("SELECT name FROM system.columns WHERE database = %(db)s AND table = %(t)s "
                       "AND default_kind NOT IN ('MATERIALIZED', 'ALIAS')",  # in table order (18.16 has no position)
                       {"db": store.database, "t": table})
    return [name for (name,) in rows]


def _chunks(store, table, columns, site):
    """The site's rows of ``table`` a month at a time for events (they can be many), else at once."""
    select = f"SELECT {', '.join(f'`{c}`' for c in columns)} FROM {table} WHERE {TABLES[table]}"
    if table != "events":
        yield store.query(select, {"site": site})
        return
    months = store.query("SELECT DISTINCT toYYYYMM(event_time) AS m FROM events WHERE site = %(site)s ORDER BY m",
                         {"site": site})
    for (month,) in months:
        yield store.query(select + " AND toYYYYMM(event_time) = %(m)s", {"site": site, "m": month})


def export_site(store, site, folder):
    """Write ``site``'s data to ``folder``; return the manifest."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    manifest = {"format": FORMAT, "version": VERSION, "site": site, "exported_at": int(time.time()),
                "source": {"kind": store.kind, "database": store.database}, "tables": {}}
    for table in sorted(mutations.existing_tables(store, TABLES)):
        columns = _columns(store, table)
        path = folder / f"{table}.jsonl.gz"
        rows = 0
        with gzip.open(path, "wt", encoding="utf-8") as out:
            for chunk in _chunks(store, table, columns, site):
                for row in chunk:
                    out.write(json.dumps(list(row), ensure_ascii=False, separators=(",", ":")) + "\n")
                rows += len(chunk)
        manifest["tables"][table] = {"file": path.name, "columns": columns, "rows": rows,
                                     "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
    if not manifest["tables"].get("sites", {}).get("rows"):
        raise BackupError(f"there is no site {site!r} in this store")
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return manifest


def read_manifest(folder):
    """The manifest of an export folder, checked: its format, version and files."""
    folder = Path(folder)
    try:
        manifest = json.loads((folder / "manifest.json").read_text())
    except (OSError, ValueError) as exc:
        raise BackupError(f"{folder} holds no readable manifest.json: {exc}") from None
    if manifest.get("format") != FORMAT or manifest.get("version") != VERSION:
        raise BackupError(f"{folder} is not a {FORMAT} version {VERSION} folder")
    for table, entry in manifest["tables"].items():
        path = folder / entry["file"]
        if not path.is_file() or hashlib.sha256(path.read_bytes()).hexdigest() != entry["sha256"]:
            raise BackupError(f"{path} is missing or differs from the manifest (SHA-256)")
    return manifest


def _rows(path):
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        for line in lines:
            yield json.loads(line)


def import_site(store, folder):
    """Insert an export folder's rows into ``store``; return {table: rows}. The journeys of the
    site get new builds, so the journey worker computes their state from what was imported."""
    folder = Path(folder)
    manifest = read_manifest(folder)
    present = mutations.existing_tables(store, manifest["tables"])
    counts = {}
    for table, entry in sorted(manifest["tables"].items(), key=lambda item: item[0] != "sites"):
        if table not in present:
            continue  # an optional feature this store does not have
        wanted = set(_columns(store, table))
        keep = [i for i, c in enumerate(entry["columns"]) if c in wanted]  # columns this store knows
        columns = [entry["columns"][i] for i in keep]
        batch, counts[table] = [], 0
        for row in _rows(folder / entry["file"]):
            batch.append(tuple(row[i] for i in keep))
            if len(batch) >= BATCH_ROWS:
                store.insert(table, columns, batch)
                counts[table] += len(batch)
                batch = []
        store.insert(table, columns, batch)
        counts[table] += len(batch)
    for journey in definitions.list_all(store, manifest["site"]):
        definitions.request_rebuild(store, manifest["site"], journey["id"])
    return counts
