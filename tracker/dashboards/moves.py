"""Recently moved (who entered, stalled or dropped where, newest first: what a sales rep opens
in the morning) and a journey's day-0 view (cohorts by week of entry × days since their own
day 0), both read from the transitions the journey worker records."""
from flask import abort, render_template, request

from .. import current
from ..clock import DAY_MS, now_ms
from ..journeys import cohorts, definitions, moves, persons, state
from ..journeys.definitions import window_ms
from . import bp
from .journeys import _journey
from .overview import site_name
from .security import site_required

PERIODS = {"1": "the last 24 hours", "7": "the last 7 days", "30": "the last 30 days", "90": "the last 90 days"}
KIND_LABELS = {"entered": "entered", "stalled": "stalled at", "dropped": "dropped after", "reactivated": "came back at",
               "completed": "completed", "left": "left"}
DEFAULT_KINDS = ("entered", "stalled", "dropped")
PAGE_SIZE = 50


def _filters(journeys):
    """The list's filters from the query string (unknown values fall back to the defaults)."""
    args = request.args
    journey_id = args.get("journey", "")
    journey = next((j for j in journeys if j["id"] == journey_id), None)
    kinds = [k for k in args.getlist("kind") if k in KIND_LABELS] or list(DEFAULT_KINDS)
    stage = args.get("stage", "")
    stage = int(stage) if journey and stage.isdigit() and 1 <= int(stage) <= len(journey["stages"]) else None
    days = args.get("days") if args.get("days") in PERIODS else "7"
    return {"journey": journey["id"] if journey else "", "kind": kinds, "stage": stage, "days": days}


@bp.get("/<site>/moved")
@site_required
def recently_moved(site):
    """Who entered, stalled or dropped at which stage (filterable by journey, kind, stage and
    period), newest first, a page at a time."""
    journeys = definitions.list_all(current.store(), site)
    chosen = _filters(journeys)
    builds = state.readable_builds(current.store(), site, journeys)
    if chosen["journey"]:
        builds = {j: b for j, b in builds.items() if j == chosen["journey"]}
    cursor = None
    if request.args.get("cursor"):
        try:
            cursor = moves.decode_cursor(request.args["cursor"])
        except ValueError:
            abort(400, "This page link is broken; go back to the first page.")
    now = now_ms()
    rows, next_cursor = moves.recent(current.store(), site, builds, chosen["kind"], chosen["stage"],
                                     now - int(chosen["days"]) * DAY_MS, now, PAGE_SIZE, cursor)
    by_id = {j["id"]: j for j in journeys}
    return render_template("moved.html", site=site, site_name=site_name(site), rows=rows, journeys=journeys,
                           by_id=by_id, chosen=chosen, periods=PERIODS, kind_labels=KIND_LABELS,
                           traits=persons.traits_of(current.store(), site, sorted({r["person"] for r in rows})),
                           building=[j for j in journeys if j["id"] not in builds and
                                     (not chosen["journey"] or j["id"] == chosen["journey"])],
                           next_cursor=next_cursor, nav="moved")


@bp.get("/<site>/journeys/<journey_id>/day0")
@site_required
def day0(site, journey_id):
    """Cohorts by week of entry × days since each person's own day 0: the share at a stage
    (``stage=``), as a chart and a table, and every stage over all the cohorts."""
    journey = _journey(site, journey_id)
    k = len(journey["stages"])
    stage = request.args.get("stage", "")
    stage = int(stage) if stage.isdigit() and 1 <= int(stage) <= k else k
    weeks = request.args.get("weeks", "8")
    weeks = int(weeks) if weeks in ("4", "8", "12", "26") else 8
    build = state.readable_builds(current.store(), site, [journey]).get(journey_id)
    offsets = cohorts.offsets_for(window_ms(journey))
    found = cohorts.day0(current.store(), site, journey, build, weeks, now_ms(), offsets) if build else None
    chart = _chart(found, stage, offsets) if found else None
    return render_template("day0.html", site=site, site_name=site_name(site), journey=journey, stage=stage,
                           weeks=weeks, offsets=offsets, found=found, chart=chart, nav="journeys")


def _share(cell, stage):
    return cell["reached"][stage - 1] / cell["eligible"] if cell and cell["eligible"] else None


def _chart(found, stage, offsets):
    """One line per cohort: the share at ``stage`` by day since day 0 (the oldest week first)."""
    return {"labels": [f"day {d}" for d in offsets],
            "series": [{"label": f"week of {w['week']}", "data": [_share(w["days"].get(d), stage) for d in offsets]}
                       for w in reversed(found["weeks"]) if w["people"]]}


@bp.app_template_filter("share")
def share_filter(cell, stage):
    """The share of a day-0 table cell at ``stage`` as "42 %", or "" when nobody was eligible."""
    value = _share(cell, stage)
    return "" if value is None else f"{value * 100:.0f} %"

