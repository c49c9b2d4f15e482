"""One error type, one way to describe a failure, and JSON as the default answer.

Every failure becomes a ``Failure`` (status, sentence, fields at fault) in one place
(``describe``); who shows it is decided by the blueprint that served the request: the app
answers JSON (API, ingest), and a blueprint with pages of its own (the dashboards) registers
an HTML rendering with ``render_errors_as``, for its views and for unknown URLs under its prefix.
"""
from typing import NamedTuple

from flask import current_app, jsonify, request
from werkzeug.exceptions import HTTPException

from .store.backend import StoreError, StoreUnavailable

_RENDERERS = "error_renderers"  # app.extensions key: url_prefix -> render(failure)


class ApiError(Exception):
    """An error with an HTTP status, a sentence and, for bad input, the fields at fault."""

    def __init__(self, status, message, fields=None, headers=None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.fields = fields or {}
        self.headers = headers or {}  # e.g. Retry-After of a 429


class Failure(NamedTuple):
    """What a client is told about a failed request, whatever the format."""

    status: int
    message: str
    fields: dict
    kind: str  # "client", "store" (ClickHouse refused or is down) or "internal"
    headers: dict = {}


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


def describe(exc):
    """The Failure of any exception; logs what an operator should see (never shown to clients)."""
    if isinstance(exc, ApiError):
        return Failure(exc.status, exc.message, exc.fields, "client", exc.headers)
    if isinstance(exc, HTTPException):
        return Failure(exc.code or 500, exc.description or exc.name, {}, "client")
    if isinstance(exc, StoreError):
        # A query over its time or memory limit, or ClickHouse down: the caller may retry or
        # ask for less (a shorter date range); never a 500 with no reason.
        current_app.logger.warning("ClickHouse refused %s: %s", request.path, exc)
        if isinstance(exc, StoreUnavailable):
            return Failure(503, exc.public_reason, {}, "store")
        return Failure(503, "the database could not answer this in time or within its memory limit; "
                            "try a shorter date range", {}, "store")
    current_app.logger.error("unhandled error on %s", request.path, exc_info=exc)
    return Failure(500, "internal error", {}, "internal")


def json_body(failure):
    """``{"error": sentence, "fields": {name: reason}}`` with the failure's status."""
    body = {"error": failure.message}
    if failure.fields:
        body["fields"] = failure.fields
    return jsonify(body), failure.status, failure.headers


def render_errors_as(blueprint, render):
    """Show the failures of ``blueprint``'s views, and of unknown URLs under its url_prefix,
    with ``render(failure)`` rather than as JSON.

    Flask gives a request that matched no route (404, 405) no blueprint, so its blueprint's
    handlers never see it: the prefix, recorded when the blueprint is registered, stands in.
    """
    blueprint.register_error_handler(Exception, lambda exc: render(describe(exc)))

    @blueprint.record_once
    def _by_prefix(state):
        state.app.extensions.setdefault(_RENDERERS, {})[state.url_prefix or "/"] = render


def _renderer_for(path):
    """The renderer of the longest registered url_prefix that ``path`` is under, else JSON."""
    found, length = json_body, -1
    for prefix, render in current_app.extensions.get(_RENDERERS, {}).items():
        under = path == prefix or path.startswith(prefix.rstrip("/") + "/")
        if under and len(prefix) > length:
            found, length = render, len(prefix)
    return found


def init_app(app):
    """Answer every failure outside a blueprint with pages of its own as JSON."""

    @app.errorhandler(Exception)
    def failure(exc):
        if request.blueprint is None:  # no route matched: the URL's prefix decides
            return _renderer_for(request.path)(describe(exc))
        return json_body(describe(exc))
