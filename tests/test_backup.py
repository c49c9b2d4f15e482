"""Export and import: a site moved from the embedded store to a ClickHouse server gives the same
funnels, and the journey worker builds its state from the imported touchpoints."""
import json
import time

import pytest
from click.testing import CliRunner

from conftest import new_database
from helpers import send
from tracker import close_app, create_app
from tracker.backup import BackupError, export_site, import_site, read_manifest
from tracker.cli import main as tracker
from tracker.journeys import definitions, reports
from tracker.store.sites import create_site
from tracker.worker import JourneyWorker

DAY = 86_400_000
JOURNEY = {"name": "Trip", "window_days": 7, "stall_after_days": 3, "stages": [
    {"name": "look", "match": {"type": "pageview"}}, {"name": "compare", "match": {"name": "compare"}},
    {"name": "book", "match": {"type": "purchase"}}]}


@pytest.fixture
def moving(clickhouse_server, embedded_dir, tmp_path):
    """An app on the embedded store and one on the server, each on a fresh database."""
    embedded = create_app({"data_dir": str(embedded_dir), "database": new_database(), "journey_worker": False,
                           "flush_seconds": 0.2})
    server = create_app({"clickhouse_url": f"{clickhouse_server}/{new_database()}", "data_dir": str(tmp_path / "s"),
                         "journey_worker": False})
    yield embedded, server
    for app in (embedded, server):
        close_app(app)
        store = app.extensions["store"]
        store.execute(f"DROP DATABASE IF EXISTS `{store.database}`")


def test_a_site_moved_from_the_embedded_store_to_a_server_gives_the_same_funnels(moving, tmp_path):
    embedded, server = moving
    source = embedded.extensions["store"]
    site = create_site(source, "Travel", [])
    embedded.extensions["tracker"].sites.refresh()
    definitions.save(source, site["site"], "trip", definitions.validate_definition(JOURNEY))
    client = embedded.test_client()
    now = int(time.time() * 1000)
    for n in range(30):
        steps = [{"type": "pageview", "url": "https://example.com/", "ts": now - 5 * DAY + n * 1000,
                  "props": {"n": str(n)}}]
        if n % 2:
            steps.append({"type": "event", "name": "compare", "ts": now - 4 * DAY + n * 1000})
        if n % 3 == 0:
            steps.append({"type": "purchase", "uid": f"user{n}", "ts": now - 3 * DAY + n * 1000,
                          "traits": {"email": f"user{n}@example.org"}})
        send(client, site, steps, vid=f"v{n}")
    assert embedded.extensions["tracker"].writer.flush(timeout=15)

    folder = tmp_path / "export"
    manifest = export_site(source, site["site"], folder)
    assert manifest["tables"]["events"]["rows"] == 30 + 15 + 10 and read_manifest(folder) == manifest
    target = server.extensions["store"]
    counts = import_site(target, folder)
    assert counts["events"] == 55 and counts["sites"] == 1 and counts["journeys"] == 1

    journey = definitions.get(target, site["site"], "trip")
    funnel = lambda store: reports.funnel(store, journey, site["site"], now - 30 * DAY, now, now)  # noqa: E731
    assert funnel(target) == funnel(source) and funnel(target)["stages"][2]["reached"] == 5  # odd multiples of 3
    worker = JourneyWorker(target)
    try:
        worker.run_once()  # the imported journey's state is built from the imported touchpoints
    finally:
        worker.stop()
    build, about = reports.source(target, site["site"], journey, now)
    assert about["source"] == "state"
    assert reports.funnel(target, journey, site["site"], now - 30 * DAY, now, now, build=build) == funnel(source)


def test_export_and_import_commands(moving, tmp_path):
    embedded, server = moving
    source = embedded.extensions["store"]
    site = create_site(source, "Small", [])["site"]
    folder = tmp_path / "out"
    env = {"TRACKER_CLICKHOUSE_URL": "", "TRACKER_DATA_DIR": str(source.path.parent), "TRACKER_DATABASE": source.database}
    exported = CliRunner().invoke(tracker, ["export", "--site", site, "--to", str(folder)], env=env)
    assert exported.exit_code == 0 and json.loads(exported.output)["sites"] == 1, exported.output
    (folder / "events.jsonl.gz").write_bytes(b"tampered")
    with pytest.raises(BackupError, match="differs from the manifest"):
        read_manifest(folder)
