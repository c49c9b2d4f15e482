"""Touchpoint tracking and customer-journey analytics: the Flask application factory."""
import atexit
import logging
import weakref
from concurrent.futures import ThreadPoolExecutor

from flask import Flask

from .sessions import IngestFreeSessions
from .settings import load_settings

__version__ = "0.1.0"

# Apps of this process that still hold threads and a spool: closed at exit (gunicorn's
# worker_exit closes them earlier). One exit hook for all, however many apps are made.
_open_apps = weakref.WeakSet()


def create_app(test_config=None):
    """Build the app: settings, store (migrated), ingest, API and dashboards.

    ``test_config`` holds settings by their Python names (``clickhouse_url``, ``data_dir``…)
    and wins over the environment.
    """
    from . import errors
    from .ingest import start_ingest
    from .store import open_store
    from .store.migrations import migrate
    from .store.shared_secrets import shared_secret

    settings = load_settings(**(test_config or {}))
    app = Flask(__name__, static_folder=None)
    app.config["TRACKER"] = settings
    app.config["MAX_CONTENT_LENGTH"] = settings["max_body_bytes"]
    app.config["DASHBOARD_IDLE_SECONDS"] = int(settings["session_idle_hours"] * 3600)
    app.session_interface = IngestFreeSessions()
    if not app.debug:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    store = open_store(settings)
    migrate(store)
    # One key for every worker and node, or a login made on one is unknown to the next.
    app.config["SECRET_KEY"] = settings["secret_key"] or shared_secret(store, "session_key")
    app.extensions["store"] = store
    app.extensions["tracker"] = start_ingest(store, settings)
    if settings["journey_worker"]:
        from .worker import JourneyWorker

        app.extensions["journey_worker"] = JourneyWorker(store).start()
    # Threads that run the independent queries of one page together (overview, funnel comparison).
    app.extensions["query_pool"] = ThreadPoolExecutor(max_workers=8, thread_name_prefix="dashboard-query")

    errors.init_app(app)
    _register_blueprints(app)
    app.get("/healthz")(_healthz)
    _open_apps.add(app)
    return app


def close_app(app):
    """Flush the writer and stop the app's threads; safe to call twice."""
    if "journey_worker" in app.extensions:
        app.extensions["journey_worker"].stop()
    app.extensions["tracker"].close()
    app.extensions["query_pool"].shutdown(wait=False)
    _open_apps.discard(app)


@atexit.register
def _close_open_apps():
    for app in list(_open_apps):
        close_app(app)


def _healthz():
    """Liveness: whether ClickHouse answers (on a cluster, how many replicas of each shard do),
    and the state of this process's background threads (the batch writer, the journey worker):
    503 when one of them died. A shard that is down is no reason for 503: ingest spools."""
    from flask import current_app

    store = current_app.extensions["store"]
    writer = current_app.extensions["tracker"].writer.health()
    body = {"clickhouse": store.ping(), "writer": writer, "spooled_segments": writer["spooled_segments"]}
    if store.kind == "cluster":
        body["shards_answering"] = {str(shard): count for shard, count in store.shard_health().items()}
    threads = [writer]
    if "journey_worker" in current_app.extensions:
        body["journey_worker"] = current_app.extensions["journey_worker"].health()
        threads.append(body["journey_worker"])
    body["ok"] = all(t["ok"] for t in threads)
    return body, 200 if body["ok"] else 503


def _register_blueprints(app):
    """Ingest (pixel, batch, server API, snippet), the analytics API and the dashboards."""
    from .api import bp as api_bp
    from .dashboards import bp as dashboards_bp
    from .ingest.snippet import bp as snippet_bp
    from .ingest.views import bp as ingest_bp

    for blueprint in (ingest_bp, snippet_bp, api_bp, dashboards_bp):
        app.register_blueprint(blueprint)
