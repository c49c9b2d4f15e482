"""Privacy requests over the API: a person's data exported, erased, and their consent given again."""
from flask import current_app, request

from .. import current
from ..errors import ApiError
from ..privacy import blocks, requests as privacy
from . import openapi, schemas
from .auth import actor, site_access
from .views import bp


@bp.get("/sites/<site>/people/<path:person>/export")
@site_access
@openapi.documented(answer=schemas.PersonExportSchema)
def export_person(site, person):
    """Everything stored of a person (touchpoints, traits, identities, journey stages and
    transitions) as one JSON document; recorded in the audit trail."""
    exported = privacy.export_person(current.store(), site, person, actor())
    if exported is None:
        raise ApiError(404, f"nothing is known of {person!r} on site {site!r}")
    return exported


@bp.delete("/sites/<site>/people/<path:person>")
@site_access
@openapi.documented(answer=schemas.ErasureSchema)
def erase_person(site, person):
    """Erase a person from every table (touchpoints, identities, traits, journey state and
    transitions, search index, change feed, webhook deliveries) and refuse their visitor ids
    until a new consent. ``done`` is false when ClickHouse still deletes in the background.

    ``?wait=SECONDS`` (default 60) bounds the wait for ClickHouse's deletions."""
    try:
        wait = min(600.0, max(0.0, float(request.args.get("wait", 60))))
    except ValueError:
        raise ApiError(400, "wait is a number of seconds", {"wait": "not a number"}) from None
    erased = privacy.erase_person(current.store(), site, person, actor(), wait)
    _refresh_blocks()
    return erased


@bp.post("/sites/<site>/people/<path:person>/consent")
@site_access
@openapi.documented(answer=schemas.ConsentSchema)
def consent(site, person):
    """The person consented again: touchpoints from their visitor ids are accepted from now on."""
    store = current.store()
    visitors = blocks.consent(store, site, person)
    privacy.audit.record(store, site, person, "consent", actor(), {"visitor_ids": visitors})
    _refresh_blocks()
    return {"person": person, "visitor_ids": visitors}


def _refresh_blocks():
    """This process's ingest sees the change at once (the others within seconds)."""
    current_app.extensions["tracker"].blocks.refresh()
