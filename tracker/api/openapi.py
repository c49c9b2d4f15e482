"""The OpenAPI 3 description of the analytics API, served at /api/v1/openapi.json."""
from .. import __version__
from ..journeys.definitions import MAX_STAGES, ORDERS
from ..journeys.rules import BREAKDOWNS, RULE_FIELDS


def _param(name, where="query", kind="string", required=False, description="", enum=None):
    schema = {"type": kind}
    if enum:
        schema["enum"] = list(enum)
    return {"name": name, "in": where, "required": required, "description": description, "schema": schema}


SITE = _param("site", "path", required=True, description="Site key")
JOURNEY_ID = _param("journey_id", "path", required=True, description="Journey id")
AS_OF = _param("as_of", description="Time the report is as of (default now): YYYY-MM-DD, ISO 8601 or Unix ms")

MATCH = {"type": "object", "additionalProperties": False, "minProperties": 1, "properties": {
    **{f: {"type": "string"} for f in RULE_FIELDS if f != "props"},
    "props": {"type": "object", "additionalProperties": {"type": "string"}}},
    "description": "All conditions must hold; path may use * as a glob"}
JOURNEY = {"type": "object", "required": ["name", "stages"], "properties": {
    "name": {"type": "string"},
    "window_days": {"type": "integer", "default": 30},
    "stall_after_days": {"type": "integer", "default": 14},
    "order": {"type": "string", "enum": list(ORDERS), "default": "ordered"},
    "stages": {"type": "array", "maxItems": MAX_STAGES, "items": {
        "type": "object", "required": ["name", "match"],
        "properties": {"name": {"type": "string"}, "match": MATCH}}},
    "exclude": {"type": "array", "items": MATCH},
}}
STAGE_FIGURES = {"type": "object", "properties": {name: {"type": kind} for name, kind in [
    ("name", "string"), ("reached", "integer"), ("in_progress", "integer"), ("dropped", "integer"),
    ("conversion_from_previous", "number"), ("conversion_from_start", "number"),
    ("median_seconds_from_previous", "number"), ("p90_seconds_from_previous", "number"),
    ("median_seconds_from_start", "number"), ("p90_seconds_from_start", "number")]}}
ERROR = {"type": "object", "properties": {"error": {"type": "string"}, "fields": {"type": "object"}}}


def _ok(description, schema=None):
    body = {"description": description}
    if schema:
        body["content"] = {"application/json": {"schema": schema}}
    return body


def _op(summary, params, ok, body=None):
    op = {"summary": summary, "parameters": params, "security": [{"bearer": []}],
          "responses": {"200": ok, "400": _ok("Bad input", ERROR), "401": _ok("No or unknown token", ERROR),
                        "403": _ok("Site not allowed for this token", ERROR)}}
    if body:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    return op


def spec():
    """The OpenAPI document."""
    j = "/sites/{site}/journeys/{journey_id}"
    return {
        "openapi": "3.0.3",
        "info": {"title": "Tracker analytics API", "version": __version__},
        "servers": [{"url": "/api/v1"}],
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
                       "schemas": {"Journey": JOURNEY, "StageFigures": STAGE_FIGURES, "Error": ERROR}},
        "paths": {
            "/sites/{site}/journeys": {"get": _op("List journeys", [SITE], _ok("Journeys"))},
            j: {
                "get": _op("Get a journey", [SITE, JOURNEY_ID], _ok("The definition", JOURNEY)),
                "put": _op("Create or replace a journey", [SITE, JOURNEY_ID], _ok("Stored", JOURNEY), JOURNEY),
                "delete": _op("Delete a journey", [SITE, JOURNEY_ID], _ok("Deleted")),
            },
            j + "/funnel": {"get": _op("The funnel", [
                SITE, JOURNEY_ID, _param("from", description="Entries from (YYYY-MM-DD …)"),
                _param("to", description="Entries up to (inclusive day)"), AS_OF,
                _param("breakdown", enum=BREAKDOWNS)], _ok("Figures", {
                    "type": "object", "properties": {"people": {"type": "integer"},
                                                     "stages": {"type": "array", "items": STAGE_FIGURES}}}))},
            j + "/people": {"get": _op("People of a journey", [
                SITE, JOURNEY_ID, _param("stage", kind="integer"),
                _param("status", enum=("at", "reached", "in_progress", "dropped", "stalled")), AS_OF,
                _param("order", enum=("desc", "asc"), description="By last touchpoint"),
                _param("limit", kind="integer"), _param("cursor")], _ok("A page of people"))},
            "/sites/{site}/people": {"get": _op("Search people", [SITE, _param("q", required=True)],
                                                _ok("Matching people"))},
            "/sites/{site}/people/{person}": {"get": _op("One person", [
                SITE, _param("person", "path", required=True), AS_OF], _ok("Traits, journeys, sessions"))},
        },
    }
