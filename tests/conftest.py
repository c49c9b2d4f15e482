"""Fixtures: a real ClickHouse server and embedded chDB, an app on each, sites and tokens.

Every storage test runs twice, through the ``backend`` parameter. Tests are isolated by
database name: chDB opens one data folder per process, so all embedded tests share one.
"""
import socket
import subprocess
import threading
import uuid
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from tracker import close_app, create_app
from tracker.store.sites import create_site, create_token

ROOT = Path(__file__).resolve().parents[1]
CH_HOST, CH_PORT = "127.0.0.1", 9000
BACKENDS = ["server", "embedded"]


def clickhouse_answers():
    try:
        with socket.create_connection((CH_HOST, CH_PORT), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def clickhouse_server():
    """Make sure the test ClickHouse server (Debian's 18.16) answers; start it if not."""
    if not clickhouse_answers():
        subprocess.run([str(ROOT / "scripts" / "clickhouse-server.sh"), "start"], check=True)
    return f"clickhouse://default@{CH_HOST}:{CH_PORT}"


@pytest.fixture(scope="session")
def embedded_dir(tmp_path_factory):
    """The one chDB data folder of this test process."""
    return tmp_path_factory.mktemp("embedded")


def new_database():
    return "t_" + uuid.uuid4().hex[:10]


@pytest.fixture(params=BACKENDS)
def backend(request):
    """'server' or 'embedded': each storage test runs on both."""
    return request.param


@pytest.fixture
def test_config(backend, request, tmp_path):
    """Settings of a fresh database on the chosen backend."""
    database = new_database()
    if backend == "server":
        url = request.getfixturevalue("clickhouse_server")
        return {"clickhouse_url": f"{url}/{database}", "data_dir": str(tmp_path / "data")}
    return {"clickhouse_url": "", "data_dir": str(request.getfixturevalue("embedded_dir")),
            "database": database}


@pytest.fixture
def app(test_config):
    """The app on a fresh, migrated database; dropped afterwards."""
    app = create_app(dict(test_config, flush_seconds=0.2, journey_worker=False))
    app.config["TESTING"] = True
    yield app
    close_app(app)
    store = app.extensions["store"]
    store.execute(f"DROP DATABASE IF EXISTS `{store.database}`")


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
