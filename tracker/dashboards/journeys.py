"""Journey pages: the list, the funnel, people lists (with CSV) and the editor.

Figures come from the journey engine (``tracker.journeys.reports``); nothing here computes
a funnel itself.
"""
import csv
import io
import time
from datetime import timedelta

from flask import Response, abort, redirect, render_template, request, url_for

from .. import current
from ..clock import DAY_MS, day_end_ms, day_start_ms, now_ms
from ..journeys import definitions, persons, reports, state
from ..journeys.engine import STATUSES
from ..journeys.rules import BREAKDOWNS, RULE_FIELDS
from . import bp
from .editor import WINDOW_CHOICES, blank_definition, definition_from_form, describe_errors, props_text
from .overview import date_range, site_name
from .security import site_required

BREAKDOWN_LABELS = {"channel": "Channel", "utm_campaign": "Campaign", "device": "Device",
                    "utm_source": "Source", "source": "Search engine, network…", "country": "Country",
                    "browser": "Browser", "first_touch_channel": "First-touch channel"}
PAGE_SIZE = 50
CSV_MAX_ROWS = 50_000


def _journey(site, journey_id):
    journey = definitions.get(current.store(), site, journey_id)
    if journey is None:
        abort(404, "There is no journey with this id on this site.")
    return journey


def _ms_range(first, last, as_of=None):
    """Entry bounds in ms for the days first..last (inclusive, UTC), the end no later than now
    (as the API does)."""
    return day_start_ms(first), min(day_end_ms(last), as_of or now_ms())


@bp.get("/<site>/journeys/")
@site_required
def journey_list(site):
    """The site's journeys, each linking to its funnel."""
    return render_template("journeys.html", site=site, site_name=site_name(site),
                           journeys=definitions.list_all(current.store(), site))


def _previous(first, last):
    """The period of the same length just before first..last."""
    days = (last - first).days + 1
    return first - timedelta(days=days), first - timedelta(days=1)


def _chart(journey, result, previous, links):
    return {"labels": [s["name"] for s in journey["stages"]],
            "reached": [s["reached"] for s in result["stages"]],
            "dropped": [s["dropped"] for s in result["stages"]],
            "in_progress": [s["in_progress"] for s in result["stages"]],
            "previous": [s["reached"] for s in previous["stages"]] if previous else None,
            "drop_links": links}


@bp.get("/<site>/journeys/<journey_id>/")
@site_required
def funnel(site, journey_id):
    """The funnel: stages with people, in progress, dropped, conversion and times; breakdown;
    the previous period for comparison; each drop-off links to its people."""
    journey = _journey(site, journey_id)
    first, last, message = date_range(request.args)
    breakdown = request.args.get("breakdown", "")
    if breakdown not in BREAKDOWNS:
        breakdown = ""
    compare = request.args.get("compare", "1") == "1"
    as_of = now_ms()
    start, end = _ms_range(first, last)
    build, about = reports.source(current.store(), site, journey, as_of)
    this_period = current.query_pool().submit(reports.funnel, current.store(), journey, site, start, end, as_of,
                                              breakdown or None, build)
    previous = None
    if compare:  # computed alongside the current period: the page waits for the slower one
        p_first, p_last = _previous(first, last)
        previous = reports.funnel(current.store(), journey, site, *_ms_range(p_first, p_last), as_of, None, build)
        previous["first"], previous["last"] = p_first, p_last
    result = this_period.result()
    args = {"from": first.isoformat(), "to": last.isoformat()}
    links = [url_for("dashboards.people_list", site=site, journey_id=journey_id, stage=j + 1,
                     status="dropped", **args) if j + 1 < len(journey["stages"]) else None
             for j in range(len(journey["stages"]))]
    return render_template(
        "funnel.html", site=site, site_name=site_name(site), journey=journey, first=first, last=last,
        message=message, result=result, previous=previous, breakdown=breakdown, compare=compare,
        breakdowns=BREAKDOWN_LABELS, args=args, drop_links=links, chart=_chart(journey, result, previous, links),
        about=about)


def _people_args(journey):
    stage = request.args.get("stage", "1")
    status = request.args.get("status", "reached")
    if not stage.isdigit() or not 1 <= int(stage) <= len(journey["stages"]):
        abort(400, f"stage must be a number from 1 to {len(journey['stages'])}")
    if status not in STATUSES:
        abort(400, f"status must be one of {', '.join(STATUSES)}")
    return int(stage), status


def _cursor():
    text = request.args.get("cursor")
    if not text:
        return None
    try:
        return reports.decode_cursor(text)
    except ValueError:
        abort(400, "This page link is broken; go back to the first page.")


@bp.get("/<site>/journeys/<journey_id>/people")
@site_required
def people_list(site, journey_id):
    """The people of one stage and status (a drop-off, say), a page at a time, or all as CSV."""
    journey = _journey(site, journey_id)
    stage, status = _people_args(journey)
    first, last, message = date_range(request.args)
    start, end = _ms_range(first, last)
    if request.args.get("format") == "csv":
        return _csv(site, journey, stage, status, start, end)
    as_of = now_ms()
    build, about = reports.source(current.store(), site, journey, as_of)
    rows, next_cursor = reports.people(current.store(), journey, site, status, stage, as_of, limit=PAGE_SIZE,
                                       cursor=_cursor(), start_ms=start, end_ms=end, build=build)
    args = {"from": first.isoformat(), "to": last.isoformat(), "stage": stage, "status": status}
    return render_template(
        "people_list.html", site=site, site_name=site_name(site), journey=journey, stage=stage,
        status=status, status_label=STATUSES[status], first=first, last=last, message=message, args=args,
        rows=_who_and_when(rows, journey, as_of), next_cursor=next_cursor, about=about)


def _traits(person_ids):
    """Traits (email, name, company…) of the people listed."""
    return persons.traits_of(current.store(), request.view_args["site"], person_ids)


def _who_and_when(rows, journey, as_of):
    """The rows of a people list with who each person is (their traits) and the times that
    say where they stand: whole days at their stage and since their last touchpoint, and
    when the window from their entry closes (or closed)."""
    traits = _traits([r["person"] for r in rows])
    window = definitions.window_ms(journey)
    return [dict(r, traits=traits.get(r["person"], {}), days_at_stage=(as_of - r["stage_time_ms"]) // DAY_MS,
                 days_silent=(as_of - r["last_touch_ms"]) // DAY_MS, window_ends_ms=r["entered_ms"] + window)
            for r in rows]


def _csv(site, journey, stage, status, start, end):
    """Every person of the list as CSV (person, stage, status, stalled, entry and last touch)."""
    as_of, cursor, rows = now_ms(), None, []
    build, _ = reports.source(current.store(), site, journey, as_of)
    while len(rows) < CSV_MAX_ROWS:
        page, cursor = reports.people(current.store(), journey, site, status, stage, as_of, limit=1000,
                                      cursor=cursor, start_ms=start, end_ms=end, build=build)
        rows.extend(page)
        if cursor is None:
            break
    traits = _traits([r["person"] for r in rows])
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["person", "email", "name", "company", "stage", "stage_name", "status", "stalled",
                     "entered_utc", "stage_reached_utc", "last_touch_utc"])
    for r in rows:
        t = traits.get(r["person"], {})
        writer.writerow([_cell(v) for v in (
            r["person"], t.get("email", ""), t.get("name", ""), t.get("company", ""), r["stage"],
            r["stage_name"] or "", r["status"], "yes" if r["stalled"] else "no",
            _iso(r["entered_ms"]), _iso(r["stage_time_ms"]), _iso(r["last_touch_ms"]))])
    name = f"{journey['id']}-stage{stage}-{status}.csv"
    return Response(out.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


def _cell(value):
    """A CSV cell that a spreadsheet will not run as a formula (OWASP's CSV injection advice)."""
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _iso(ms):
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ms / 1000)) if ms else ""


@bp.route("/<site>/journeys/new", methods=["GET", "POST"], defaults={"journey_id": None})
@bp.route("/<site>/journeys/<journey_id>/edit", methods=["GET", "POST"])
@site_required
def edit(site, journey_id):
    """The journey editor: a form for stages, rules, window, stall days, order and exclusions;
    "Preview" shows people per stage for the last 30 days without saving."""
    store = current.store()
    existing = _journey(site, journey_id) if journey_id else None
    if request.method == "GET":
        return _editor(site, journey_id, existing or blank_definition())
    if request.form.get("action") == "delete" and existing:
        definitions.delete(store, site, journey_id)
        return redirect(url_for("dashboards.journey_list", site=site))
    raw, new_id, errors = definition_from_form(request.form, journey_id)
    loaded = None
    if not errors:
        try:
            loaded = definitions.validate_definition(raw)
        except definitions.DefinitionError as exc:
            errors = describe_errors(exc.fields, raw)
    if not errors and not journey_id and definitions.get(store, site, new_id) is not None:
        errors = [("id", "a journey with this id exists already: choose another")]
    if errors:
        return _editor(site, journey_id, raw, errors=errors, new_id=new_id), 400
    if request.form.get("action") == "preview":
        as_of = now_ms()
        preview = reports.funnel(store, loaded, site, as_of - 30 * DAY_MS, as_of, as_of)
        return _editor(site, journey_id, raw, preview=preview, new_id=new_id)
    definitions.save(store, site, journey_id or new_id, loaded)
    return redirect(url_for("dashboards.funnel", site=site, journey_id=journey_id or new_id))


def _editor(site, journey_id, journey, errors=(), preview=None, new_id=""):
    built = None
    if journey_id:  # how far the journey state of the stored definition is
        stored = definitions.get(current.store(), site, journey_id)
        built = stored and state.build_progress(state.build_status(current.store(), site, stored))
    return render_template("editor.html", site=site, site_name=site_name(site), journey_id=journey_id,
                           journey=journey, errors=list(errors), preview=preview, new_id=new_id, built=built,
                           rule_fields=RULE_FIELDS.items(), orders=definitions.ORDERS.items(), props_text=props_text,
                           window_units=WINDOW_CHOICES)
