"""The dashboards: server-rendered pages under /dashboard/ over the store and the journey engine.

Security in one place: every page but login needs a session (which expires when idle),
every form carries a CSRF token, a user sees only the sites they were given, and every value
from the data goes through Jinja's autoescape (chart data as JSON in a script block).
"""
from datetime import datetime, timezone

from flask import Blueprint, redirect, request, url_for

from ..resources import dashboards_dir

ROOT = dashboards_dir()

bp = Blueprint("dashboards", __name__, url_prefix="/dashboard",
               template_folder=str(ROOT / "templates"), static_folder=str(ROOT / "static"),
               static_url_path="/static")


@bp.record_once
def _configure(state):
    app = state.app
    app.config.setdefault("SESSION_COOKIE_HTTPONLY", True)
    app.config["SESSION_COOKIE_SAMESITE"] = app.config.get("SESSION_COOKIE_SAMESITE") or "Lax"

    @app.get("/")
    def root():
        """The service's home is the dashboards."""
        return redirect(url_for("dashboards.home"))


@bp.context_processor
def _retention():
    """``kept_from()`` in a page: the day from which its site keeps touchpoints (a retention is
    set), else None. Asked only by the pages that show it."""
    def kept_from():
        from .. import current
        from ..worker.retention import site_data_from_ms

        site = (request.view_args or {}).get("site")
        ms = site and site_data_from_ms(current.store(), site)
        return datetime.fromtimestamp(ms / 1000, timezone.utc).date() if ms else None

    return {"kept_from": kept_from}


from . import error_pages, security, views, overview, journeys, people, automations, moves  # noqa: E402,F401  (routes register on import)
