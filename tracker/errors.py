"""One error type and one handler: every failure a client can cause becomes a clean 4xx."""
from flask import jsonify, request
from werkzeug.exceptions import HTTPException

from .store.backend import StoreError, StoreUnavailable


class ApiError(Exception):
    """An error with an HTTP status, a sentence and, for bad input, the fields at fault."""

    def __init__(self, status, message, fields=None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.fields = fields or {}


def field_errors(messages, prefix=""):
    """marshmallow's nested messages as {"events.3.url": "reason"}; a schema-level message
    belongs to its parent's path ("body" at the top)."""
    flat = {}
    for key, value in messages.items():
        path = prefix if key == "_schema" else f"{prefix}{'.' if prefix else ''}{key}"
        if isinstance(value, dict):
            flat.update(field_errors(value, path))
        else:
            flat[path or "body"] = value[0] if isinstance(value, list) and value else str(value)
    return flat


def _body(status, message, fields=None):
    body = {"error": message}
    if fields:
        body["fields"] = fields
    return jsonify(body), status


def init_app(app):
    """Register the handlers that turn every error into the uniform JSON shape."""

    @app.errorhandler(ApiError)
    def api_error(exc):
        return _body(exc.status, exc.message, exc.fields)

    @app.errorhandler(HTTPException)
    def http_error(exc):
        if request.path.startswith("/dashboard") and hasattr(app, "render_error_page"):
            return app.render_error_page(exc.code, exc.description)
        return _body(exc.code, exc.description)

    @app.errorhandler(StoreError)
    def store_error(exc):
        # A query over its time or memory limit, or ClickHouse down: the caller may retry or
        # ask for less (a shorter date range); never a 500 with no reason.
        app.logger.warning("ClickHouse refused %s: %s", request.path, exc)
        if isinstance(exc, StoreUnavailable):
            return _body(503, "the database does not answer; try again shortly")
        return _body(503, "the database could not answer this in time or within its memory limit; "
                          "try a shorter date range")

    @app.errorhandler(Exception)
    def unexpected(exc):
        app.logger.exception("unhandled error on %s", request.path)
        return _body(500, "internal error")
