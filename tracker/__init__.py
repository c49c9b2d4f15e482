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
    from . import errors, requestlog
    from .bounds import start_bounds, storage_uri
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
    limits_storage = storage_uri(settings, store)  # a bad combination stops start-up before any thread runs
    migrate(store)
    # One key for every worker and node, or a login made on one is unknown to the next.
    app.config["SECRET_KEY"] = settings["secret_key"] or shared_secret(store, "session_key")
    app.extensions["store"] = store
    app.extensions["tracker"] = start_ingest(store, settings)
    if settings["journey_worker"]:
        from .automations import Automations
        from .worker import JourneyWorker

        automations = Automations.from_settings(store, settings)
        app.extensions["journey_worker"] = JourneyWorker(store, automations=automations).start()
    # Threads that run the independent queries of one page together (overview, funnel comparison).
    app.extensions["query_pool"] = ThreadPoolExecutor(max_workers=8, thread_name_prefix="dashboard-query")

    errors.init_app(app)
    requestlog.init_app(app, settings)
    _register_blueprints(app)
    start_bounds(app, settings, store, limits_storage)
    _open_apps.add(app)
    return app


def close_app(app):
    """Flush the writer and stop the app's threads; safe to call twice."""
    if "journey_worker" in app.extensions:
        app.extensions["journey_worker"].stop()
    app.extensions["tracker"].close()
    if "bounds" in app.extensions:
        app.extensions["bounds"].close()
    app.extensions["query_pool"].shutdown(wait=False)
    _open_apps.discard(app)


@atexit.register
def _close_open_apps():
    for app in list(_open_apps):
        close_app(app)


def _register_blueprints(app):
    """Ingest (pixel, batch, server API, snippet), the analytics API, the dashboards, and the
    operator's health, readiness and metrics."""
    from .api import bp as api_bp
    from .dashboards import bp as dashboards_bp
    from .health import bp as health_bp
    from .ingest.snippet import bp as snippet_bp
    from .ingest.views import bp as ingest_bp

    for blueprint in (ingest_bp, snippet_bp, api_bp, dashboards_bp, health_bp):
        app.register_blueprint(blueprint)
