"""The analytics JSON API: journeys, their funnels and people, and one person's page."""
from flask import Blueprint, current_app, jsonify, request

from ..errors import ApiError
from ..journeys import definitions, persons, reports
from ..journeys.rules import BREAKDOWNS
from .auth import site_access
from .openapi import spec
from .params import choice, date_range, integer, now_ms, time_ms

bp = Blueprint("api", __name__, url_prefix="/api/v1")
STATUSES = ("at", "reached", "in_progress", "dropped", "stalled")


def _store():
    return current_app.extensions["store"]


def _journey(site, journey_id):
    journey = definitions.get(_store(), site, journey_id)
    if journey is None:
        raise ApiError(404, f"no journey {journey_id!r} on site {site!r}")
    return journey


@bp.get("/openapi.json")
def openapi():
    """The API described (OpenAPI 3)."""
    return jsonify(spec())


@bp.get("/sites/<site>/journeys")
@site_access
def list_journeys(site):
    """Every journey of the site."""
    return {"journeys": definitions.list_all(_store(), site)}


@bp.put("/sites/<site>/journeys/<journey_id>")
@site_access
def put_journey(site, journey_id):
    """Create or replace a journey; 400 names the stage and field of a bad definition."""
    if not definitions.valid_id(journey_id):
        raise ApiError(400, "invalid journey id", {"id": "letters, digits, '_', '.', '-'; at most 64"})
    body = request.get_json(silent=True)
    try:
        journey = definitions.validate_definition(body)
    except definitions.DefinitionError as exc:
        raise ApiError(400, str(exc), exc.fields) from None
    existed = definitions.get(_store(), site, journey_id) is not None
    definitions.save(_store(), site, journey_id, journey)
    return dict(journey, id=journey_id), 200 if existed else 201


@bp.get("/sites/<site>/journeys/<journey_id>")
@site_access
def get_journey(site, journey_id):
    """One journey's definition."""
    return _journey(site, journey_id)


@bp.delete("/sites/<site>/journeys/<journey_id>")
@site_access
def delete_journey(site, journey_id):
    """Delete a journey."""
    if not definitions.delete(_store(), site, journey_id):
        raise ApiError(404, f"no journey {journey_id!r} on site {site!r}")
    return "", 204


@bp.get("/sites/<site>/journeys/<journey_id>/funnel")
@site_access
def funnel(site, journey_id):
    """Reached, in progress, dropped and times per stage, for entries between from and to."""
    journey = _journey(site, journey_id)
    start, end, as_of = date_range(request.args)
    breakdown = choice(request.args, "breakdown", BREAKDOWNS)
    result = reports.funnel(_store(), journey, site, start, end, as_of, breakdown)
    return dict(result, journey=journey_id, order=journey["order"], window=journey["window"],
                **{"from": start, "to": end, "as_of": as_of})


@bp.get("/sites/<site>/journeys/<journey_id>/people")
@site_access
def journey_people(site, journey_id):
    """People of a journey by stage and status, newest last touchpoint first, cursor-paginated."""
    journey = _journey(site, journey_id)
    args = request.args
    as_of = time_ms(args, "as_of", now_ms())
    stage = integer(args, "stage", None, 1, len(journey["stages"]))
    status = choice(args, "status", STATUSES, "at")
    order = choice(args, "order", ("desc", "asc"), "desc")
    limit = integer(args, "limit", 50, 1, 500)
    start = time_ms(args, "from", 0)
    end = time_ms(args, "to", as_of, end_of_day=True)
    cursor = None
    if args.get("cursor"):
        try:
            cursor = reports.decode_cursor(args["cursor"])
        except ValueError as exc:
            raise ApiError(400, "invalid cursor", {"cursor": str(exc)}) from None
    page, next_cursor = reports.people(_store(), journey, site, status, stage, as_of, limit, cursor,
                                       order == "desc", start, min(end, as_of))
    traits = persons.traits_of(_store(), site, [row["person"] for row in page])
    for row in page:
        row["traits"] = traits.get(row["person"], {})
    return {"people": page, "next_cursor": next_cursor, "as_of": as_of, "status": status, "stage": stage}


@bp.get("/sites/<site>/people")
@site_access
def search_people(site):
    """Find people by email, user id, name or company (q=, at least 2 characters)."""
    text = (request.args.get("q") or "").strip()
    if len(text) < 2:
        raise ApiError(400, "q needs at least 2 characters", {"q": "at least 2 characters"})
    limit = integer(request.args, "limit", 20, 1, 100)
    return {"people": persons.search(_store(), site, text[:200], limit)}


@bp.get("/sites/<site>/people/<path:person>")
@site_access
def person(site, person):
    """A person: traits, visitor ids, place in every journey, and sessions of touchpoints."""
    as_of = time_ms(request.args, "as_of", now_ms())
    page = persons.person_page(_store(), site, person, as_of)
    if page is None:
        raise ApiError(404, f"nothing is known of {person!r} on site {site!r}")
    return dict(page, as_of=as_of)
