"""The analytics JSON API: journeys, their funnels and people, and one person's page."""
from flask import Blueprint, current_app, jsonify, request

from .. import current
from ..errors import ApiError
from ..journeys import definitions, persons, reports, state
from ..journeys.definitions import JourneySchema
from ..store.backend import submit
from ..worker.retention import site_data_from_ms
from . import openapi, schemas
from .auth import site_access
from .params import FunnelArgs, PeopleArgs, PersonArgs, SearchArgs, TransitionArgs, query_args

bp = Blueprint("api", __name__, url_prefix="/api/v1")


def _retention(store, site):
    """``{"data_from": ms}`` when the site keeps only some months of touchpoints, else {}."""
    data_from = site_data_from_ms(store, site)
    return {"data_from": data_from} if data_from else {}


def _journey_read(site, journey_id, as_of):
    """(journey, build, about): the definition, the build to read it from (None: live) and
    what to tell of that and of the site's retention. The reads that need only the site run in
    the query pool beside the definition's (on chDB a few ms each: together, as one)."""
    store, pool = current.store(), current.query_pool()
    source = reports.source_beside(store, site, pool)
    retention = submit(pool, _retention, store, site)
    journey = _journey(site, journey_id)
    build, about = source(journey, as_of)
    return journey, build, dict(about, **retention.result())


def _journey(site, journey_id):
    journey = definitions.get(current.store(), site, journey_id)
    if journey is None:
        raise ApiError(404, f"no journey {journey_id!r} on site {site!r}")
    return journey


@bp.get("/openapi.json")
@openapi.documented(public=True)
def openapi_document():
    """The API described (OpenAPI 3), made from the routes and their schemas."""
    document = current_app.extensions.get("openapi")
    if document is None:  # the routes are fixed once the app serves: made once per app
        document = current_app.extensions["openapi"] = openapi.document(current_app, bp)
    return jsonify(document)


@bp.get("/sites/<site>/journeys")
@site_access
@openapi.documented(answer=schemas.JourneyListSchema)
def list_journeys(site):
    """Every journey of the site."""
    return {"journeys": definitions.list_all(current.store(), site)}


@bp.put("/sites/<site>/journeys/<journey_id>")
@site_access
@openapi.documented(body=JourneySchema, answer=schemas.StoredJourneySchema, status=201)
def put_journey(site, journey_id):
    """Create or replace a journey; 400 names the stage and field of a bad definition.

    201 when created, 200 when replaced.
    """
    if not definitions.valid_id(journey_id):
        raise ApiError(400, "invalid journey id", {"id": "letters, digits, '_', '.', '-'; at most 64"})
    body = request.get_json(silent=True)
    try:
        journey = definitions.validate_definition(body)
    except definitions.DefinitionError as exc:
        raise ApiError(400, str(exc), exc.fields) from None
    existed = definitions.get(current.store(), site, journey_id) is not None
    definitions.save(current.store(), site, journey_id, journey)
    return dict(journey, id=journey_id), 200 if existed else 201


@bp.get("/sites/<site>/journeys/<journey_id>")
@site_access
@openapi.documented(answer=schemas.StoredJourneySchema)
def get_journey(site, journey_id):
    """One journey's definition, with the state of its journey state (``state.status``: ready,
    or the progress of a build)."""
    journey = _journey(site, journey_id)
    return dict(journey, state=state.build_progress(state.build_status(current.store(), site, journey)))


@bp.delete("/sites/<site>/journeys/<journey_id>")
@site_access
@openapi.documented(status=204)
def delete_journey(site, journey_id):
    """Delete a journey."""
    if not definitions.delete(current.store(), site, journey_id):
        raise ApiError(404, f"no journey {journey_id!r} on site {site!r}")
    return "", 204


@bp.get("/sites/<site>/journeys/<journey_id>/funnel")
@site_access
@query_args(FunnelArgs)
@openapi.documented(answer=schemas.FunnelSchema)
def funnel(site, journey_id, query):
    """Reached, in progress, dropped, stalled and times per stage, for entries between from and
    to; from kept journey state (``source``), or live for a past as_of or while it is built."""
    start, end, as_of = query["start"], query["end"], query["as_of"]
    journey, build, about = _journey_read(site, journey_id, as_of)
    result = reports.funnel(current.store(), journey, site, start, end, as_of, query["breakdown"], build)
    return dict(result, journey=journey_id, order=journey["order"], window=journey["window"],
                **{"from": start, "to": end, "as_of": as_of}, **about)


@bp.get("/sites/<site>/journeys/<journey_id>/people")
@site_access
@query_args(PeopleArgs)
@openapi.documented(answer=schemas.PeoplePageSchema)
def journey_people(site, journey_id, query):
    """People of a journey by stage and status, newest last touchpoint first, cursor-paginated."""
    journey, build, about = _journey_read(site, journey_id, query["as_of"])
    stages = len(journey["stages"])
    if query["stage"] is not None and query["stage"] > stages:
        raise ApiError(400, f"invalid stage: this journey has {stages}",
                       {"stage": f"must be between 1 and {stages}"})
    page, next_cursor = reports.people(
        current.store(), journey, site, query["status"], query["stage"], query["as_of"], query["limit"],
        query["cursor"], query["order"] == "desc", query["start"], query["end"], build)
    traits = persons.traits_of(current.store(), site, [row["person"] for row in page])
    for row in page:
        row["traits"] = traits.get(row["person"], {})
    return {"people": page, "next_cursor": next_cursor, "as_of": query["as_of"], "status": query["status"],
            "stage": query["stage"], **about}


@bp.get("/sites/<site>/journeys/<journey_id>/transitions")
@site_access
@query_args(TransitionArgs)
@openapi.documented(answer=schemas.TransitionPageSchema)
def journey_transitions(site, journey_id, query):
    """Who moved in the journey, newest first: entered, completed, dropped, stalled, reactivated,
    left; each with when, the stages, the dwell in the stage before and the touchpoint that caused it."""
    journey = _journey(site, journey_id)
    stages = len(journey["stages"])
    if query["stage"] is not None and query["stage"] > stages:
        raise ApiError(400, f"invalid stage: this journey has {stages}",
                       {"stage": f"must be between 1 and {stages}"})
    page, next_cursor = state.transitions_page(
        current.store(), site, journey_id, state.build_of(journey), query["since"], query["kind"], query["stage"],
        query["limit"], query["cursor"])
    return {"transitions": page, "next_cursor": reports.encode_cursor(*next_cursor) if next_cursor else None}


@bp.post("/sites/<site>/journeys/<journey_id>/rebuild")
@site_access
@openapi.documented(answer=schemas.StoredJourneySchema, status=202)
def rebuild_journey(site, journey_id):
    """Compute the journey's state again from all its touchpoints, in the background (reads use
    the live engine until it is ready; ``state`` shows the progress)."""
    journey = definitions.request_rebuild(current.store(), site, journey_id)
    if journey is None:
        raise ApiError(404, f"no journey {journey_id!r} on site {site!r}")
    return dict(journey, state=state.build_progress(None)), 202


@bp.get("/sites/<site>/people")
@site_access
@query_args(SearchArgs)
@openapi.documented(answer=schemas.SearchResultSchema)
def search_people(site, query):
    """Find people by email, user id, name or company (q=, at least 2 characters)."""
    return {"people": persons.search(current.store(), site, query["q"], query["limit"])}


@bp.get("/sites/<site>/people/<path:person>")
@site_access
@query_args(PersonArgs)
@openapi.documented(answer=schemas.PersonPageSchema)
def person(site, person, query):
    """A person: traits, visitor ids, place in every journey, and sessions of touchpoints."""
    page = persons.person_page(current.store(), site, person, query["as_of"], current.query_pool())
    if page is None:
        raise ApiError(404, f"nothing is known of {person!r} on site {site!r}")
    return dict(page, as_of=query["as_of"])
