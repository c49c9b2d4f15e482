"""Touchpoint tracking and customer-journey analytics: the Flask application factory."""
import atexit
import logging
import secrets

from flask import Flask

from .sessions import IngestFreeSessions
from .settings import load_settings

__version__ = "0.1.0"


def create_app(test_config=None):
    """Build the app: settings, store (migrated), ingest, API and dashboards.

    ``test_config`` holds settings by their Python names (``clickhouse_url``, ``data_dir``…)
    and wins over the environment.
    """
    from . import errors
    from .ingest import start_ingest
    from .store import open_store
    from .store.migrations import migrate

    settings = load_settings(**(test_config or {}))
    app = Flask(__name__, static_folder=None)
    app.config["TRACKER"] = settings
    app.config["SECRET_KEY"] = settings["secret_key"] or secrets.token_hex(32)
    app.config["MAX_CONTENT_LENGTH"] = settings["max_body_bytes"]
    app.config["DASHBOARD_IDLE_SECONDS"] = int(settings["session_idle_hours"] * 3600)
    app.session_interface = IngestFreeSessions()
    if not app.debug:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    store = open_store(settings)
    migrate(store)
    ingest = start_ingest(store, settings)
    app.extensions["tracker"] = ingest
    app.extensions["store"] = store

    errors.init_app(app)
    _register_blueprints(app)

    @app.get("/healthz")
    def healthz():
        """Liveness, whether ClickHouse answers, how much waits in the spool, and what ingest
        dropped on purpose (referrer spam) since the process started."""
        return {"ok": True, "clickhouse": store.ping(), "spooled_segments": ingest.writer.backlog,
                "dropped": ingest.counters.snapshot()}

    atexit.register(ingest.close)
    return app


def _register_blueprints(app):
    """Ingest (pixel, batch, server API, snippet), the analytics API and the dashboards."""
    from .api import bp as api_bp
    from .dashboards import bp as dashboards_bp
    from .ingest.snippet import bp as snippet_bp
    from .ingest.views import bp as ingest_bp

    for blueprint in (ingest_bp, snippet_bp, api_bp, dashboards_bp):
        app.register_blueprint(blueprint)
