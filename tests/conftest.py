"""Fixtures: a real ClickHouse server and embedded chDB, an app on each, sites and tokens.

Every storage test runs twice, through the ``backend`` parameter; the modules of the storage,
journey and API suites (``CLUSTER_MODULES``) a third time, on a two-shard cluster of 18.16
servers (``scripts/clickhouse-cluster.sh``). Tests are isolated by database name: chDB opens
one data folder per process, so all embedded tests of a process share one.

pytest runs two test processes (pyproject's addopts: pytest-xdist, ``--dist loadfile``, each
module whole in one process, so a module's own servers, such as test_cluster_failures'
replicated cluster on fixed ports, are started once). A test that stops a ClickHouse server stops one of its own
(``processes.OwnClickHouse``), never the shared one.
"""
import os
import socket
import subprocess
import threading
import time
import uuid
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from tracker import close_app, create_app
from tracker.store.backend import StoreError
from tracker.store.sites import create_site, create_token

ROOT = Path(__file__).resolve().parents[1]
CH_HOST, CH_PORT = "127.0.0.1", 9000
REDIS_PORT = 6379
BACKENDS = ["server", "embedded"]
# The modules whose tests also run on the cluster: storage, journeys, the API, and the
# privacy deletes and retention drops (mutations applied to each shard's local table).
# (The rule vocabulary, visits and migrations run on one server: their SQL is the same on the
# cluster, and a third run of them would cost CI minutes for nothing; test_migrations runs its
# concurrent start, a statement it cannot rewrite and a new column on the cluster too.)
# A test marked ``cluster`` in another module runs there too (the automations: a delivery, no
# double send, retries, the feed's pruning; the rest of their rules is the same SQL).
# A test marked ``single_node`` stays off the cluster: it checks what is refused before
# anything is stored, or a case a property test already covers there. (Durability on the
# cluster: test_cluster_failures.py.)
# (test_journey_state_properties stays on one server: test_cluster.py holds the worker's state
# on the cluster equal to one node's, and its property test compares every read.)
CLUSTER_MODULES = {"test_ingest", "test_funnel_properties", "test_journey_worker", "test_api_journeys",
                   "test_api_state", "test_privacy", "test_retention"}
CLUSTER_PORT = 29101  # the first of the cluster's hosts; scripts/clickhouse-cluster.sh's BASE_PORT + 1


def answers(port):
    try:
        with socket.create_connection((CH_HOST, port), timeout=1):
            return True
    except OSError:
        return False


def clickhouse_answers():
    return answers(CH_PORT)


@pytest.fixture(scope="session")
def clickhouse_server():
    """Make sure the test ClickHouse server (Debian's 18.16) answers; start it if not."""
    if not clickhouse_answers():
        subprocess.run([str(ROOT / "scripts" / "clickhouse-server.sh"), "start"], check=True)
    return f"clickhouse://default@{CH_HOST}:{CH_PORT}"


@pytest.fixture(scope="session", autouse=True)
def redis_server():
    """The Redis every worker's rate-limit counters share (scripts/redis-server.sh), named in
    TRACKER_RATE_LIMIT_STORAGE for every app and process the tests start (apps on the
    ClickHouse server need one; each database counts under keys of its own); its URL."""
    if not answers(REDIS_PORT):
        subprocess.run([str(ROOT / "scripts" / "redis-server.sh"), "start"], check=True)
    url = f"redis://{CH_HOST}:{REDIS_PORT}/0"
    os.environ.setdefault("TRACKER_RATE_LIMIT_STORAGE", url)
    return url


@pytest.fixture(scope="session")
def embedded_dir(tmp_path_factory):
    """The one chDB data folder of this test process."""
    return tmp_path_factory.mktemp("embedded")


def new_database():
    return "t_" + uuid.uuid4().hex[:10]


@pytest.fixture(scope="session")
def clickhouse_cluster():
    """The two-shard test cluster 'tracker' (no replicas, no ZooKeeper); started if it is down."""
    subprocess.run([str(ROOT / "scripts" / "clickhouse-cluster.sh"), "start"], check=True, stdout=subprocess.DEVNULL)
    return f"clickhouse://default@{CH_HOST}:{CLUSTER_PORT}"


def pytest_generate_tests(metafunc):
    """``backend``: 'server' and 'embedded' for every storage test, and 'cluster' in CLUSTER_MODULES
    and for a test marked ``cluster`` (a test that parametrizes ``backend`` itself keeps its own)."""
    if "backend" not in metafunc.fixturenames:
        return
    if any("backend" in mark.args[0] for mark in metafunc.definition.iter_markers("parametrize")):
        return
    cluster = ((metafunc.module.__name__.rsplit(".", 1)[-1] in CLUSTER_MODULES
                or metafunc.definition.get_closest_marker("cluster"))
               and not metafunc.definition.get_closest_marker("single_node"))
    metafunc.parametrize("backend", BACKENDS + (["cluster"] if cluster else []))


def drop_database(store):
    """Drop a test's database (on every host of a cluster)."""
    stores = [store.host(host) for host in store.hosts] if store.kind == "cluster" else [store]
    for each in stores:
        for attempt in range(50):
            try:
                each.execute(f"DROP DATABASE IF EXISTS `{store.database}`")
                break
            except StoreError as exc:  # a table made meanwhile (a lock, by a late request's thread)
                if "DATABASE_NOT_EMPTY" not in str(exc) or attempt == 49:
                    raise
                time.sleep(0.1)


@pytest.fixture
def test_config(backend, request, tmp_path):
    """Settings of a fresh database on the chosen backend."""
    database = new_database()
    if backend == "server":
        url = request.getfixturevalue("clickhouse_server")
        return {"clickhouse_url": f"{url}/{database}", "data_dir": str(tmp_path / "data")}
    if backend == "cluster":
        url = request.getfixturevalue("clickhouse_cluster")
        return {"clickhouse_url": f"{url}/{database}", "clickhouse_cluster": "tracker",
                "data_dir": str(tmp_path / "data")}
    return {"clickhouse_url": "", "data_dir": str(request.getfixturevalue("embedded_dir")),
            "database": database}


def command_env(test_config):
    """The TRACKER_* variables of ``test_config``, for running `tracker …` on the test's store."""
    return {"TRACKER_DATA_DIR": test_config["data_dir"], "TRACKER_CLICKHOUSE_URL": test_config["clickhouse_url"],
            "TRACKER_CLICKHOUSE_CLUSTER": test_config.get("clickhouse_cluster", ""),
            "TRACKER_DATABASE": test_config.get("database", "tracker")}


@pytest.fixture
def app(test_config):
    """The app on a fresh, migrated database; dropped afterwards."""
    app = create_app(dict(test_config, flush_seconds=0.2, journey_worker=False))
    app.config["TESTING"] = True
    yield app
    close_app(app)
    drop_database(app.extensions["store"])


@pytest.fixture
def store(app):
    """The app's storage backend."""
    return app.extensions["store"]


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def flush(app):
    """Call to write everything accepted so far to ClickHouse."""

    def flush():
        assert app.extensions["tracker"].writer.flush(timeout=15), "the writer did not drain"

    return flush


@pytest.fixture
def site(app, store):
    """A site on example.com and localhost: {"site", "secret", "name", "domains"}."""
    created = create_site(store, "Example", ["example.com", "localhost", "127.0.0.1"])
    app.extensions["tracker"].sites.refresh()
    return created


@pytest.fixture
def token(store):
    """An analytics API token for every site."""
    return create_token(store, "test")["token"]


@pytest.fixture
def live_server(app):
    """The app served over real HTTP on 127.0.0.1 from a background thread; yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(5)
