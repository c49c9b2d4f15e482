"""The OpenAPI 3 document of the analytics API, made from the routes and their schemas.

Each view of the ``api`` blueprint says what it takes and answers with ``describe`` (the
query-string schema comes from ``params.query_args``, the very one that parses requests);
``document`` walks the app's routes, so a new route is in the document without a line here.
apispec's MarshmallowPlugin turns the schemas into JSON Schema.
"""
import re

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin

from .. import __version__
from .schemas import ErrorSchema

_PATH_PARAMETERS = {"site": "Site key", "journey_id": "Journey id",
                    "person": "The person: their user id (or visitor id when anonymous)",
                    "automation_id": "Automation id", "delivery_id": "Delivery id (its webhook-id)"}
_FAILURES = {"400": "Bad input: the fields at fault", "401": "No, an unknown or a revoked token",
             "403": "This token or login may not see the site", "404": "No such journey or person",
             "503": "ClickHouse could not answer (down, or over a time or memory limit)"}


def describe(view, **parts):
    """Record on ``view`` what the document says of it: ``query`` (schema of the query string),
    ``body`` (schema of the JSON body), ``answer`` (schema of the 200/201 body), ``status``
    (of success, default 200), ``public`` (no credentials needed)."""
    view.__dict__.setdefault("openapi", {}).update(parts)
    return view


def documented(**parts):
    """Decorator form of ``describe``."""
    return lambda view: describe(view, **parts)


def _path(rule, prefix):
    """'/api/v1/sites/<site>/people/<path:person>' → '/sites/{site}/people/{person}'."""
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule[len(prefix):])


def _operation(view, rule):
    info = getattr(view, "openapi", {})
    summary, _, details = (view.__doc__ or "").strip().partition("\n")
    parameters = [{"in": "path", "name": name, "required": True, "schema": {"type": "string"},
                   "description": _PATH_PARAMETERS.get(name, "")} for name in sorted(rule.arguments)]
    if info.get("query"):
        parameters.append({"in": "query", "schema": info["query"]})
    ok = {"description": "Done"}
    if info.get("answer"):
        ok = {"description": "OK", "content": {"application/json": {"schema": info["answer"]}}}
    responses = {str(info.get("status", 200)): ok}
    if not info.get("public"):
        responses.update({code: {"description": text, "content": {"application/json": {"schema": ErrorSchema}}}
                          for code, text in _FAILURES.items()})
    operation = {"summary": summary, "operationId": view.__name__, "parameters": parameters,
                 "responses": responses}
    if details.strip():
        operation["description"] = " ".join(details.split())
    if not info.get("public"):
        operation["security"] = [{"bearer": []}]
    if info.get("body"):
        operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": info["body"]}}}
    return operation


def document(app, blueprint):
    """The OpenAPI document of every route of ``blueprint`` (a dict, ready for JSON)."""
    spec = APISpec(title="Tracker analytics API", version=__version__, openapi_version="3.0.3",
                   plugins=[MarshmallowPlugin()], servers=[{"url": blueprint.url_prefix}])
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    spec.components.schema("Error", schema=ErrorSchema)
    paths = {}
    for rule in app.url_map.iter_rules():
        if rule.endpoint.split(".")[0] != blueprint.name:
            continue
        view = app.view_functions[rule.endpoint]
        methods = sorted(rule.methods - {"HEAD", "OPTIONS"})
        operations = paths.setdefault(_path(rule.rule, blueprint.url_prefix), {})
        operations.update({method.lower(): _operation(view, rule) for method in methods})
    for path, operations in sorted(paths.items()):
        spec.path(path=path, operations=operations)
    return spec.to_dict()
