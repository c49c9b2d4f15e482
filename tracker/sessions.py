"""Flask's signed cookie sessions: Secure over https, and skipped on the ingest endpoints.

Opening and saving a signed session costs about a sixth of a pixel hit, and the
public endpoints never use one.
"""
from flask import request
from flask.sessions import SecureCookieSessionInterface

SESSIONLESS = frozenset({"/p.gif", "/collect", "/api/v1/touchpoints", "/t.js", "/healthz"})


class IngestFreeSessions(SecureCookieSessionInterface):
    """Signed cookie sessions everywhere but on the public ingest paths."""

    def get_cookie_secure(self, app):
        """Mark the cookie Secure whenever the request came over https."""
        return app.config["SESSION_COOKIE_SECURE"] or (bool(request) and request.is_secure)

    def open_session(self, app, request):
        if request.path in SESSIONLESS:
            return self.make_null_session(app)
        return super().open_session(app, request)

    def save_session(self, app, session, response):
        if self.is_null_session(session):
            return
        super().save_session(app, session, response)
