"""The site overview page, and the date range every page of a site shares."""
import time
from datetime import date, datetime, timedelta, timezone

from flask import jsonify, render_template, request

from .. import current
from ..store.backend import submit
from . import bp, queries
from .security import site_required
from .views import country, my_sites

DEFAULT_DAYS = 30
MAX_DAYS = 366


def today():
    """Today in UTC (the reports' time zone)."""
    return datetime.now(timezone.utc).date()


def date_range(args):
    """(first, last, message) from ``?from=&to=`` (ISO dates, inclusive); bad input falls back
    to the last 30 days with a message saying why."""
    last_default = today()
    first_default = last_default - timedelta(days=DEFAULT_DAYS - 1)
    try:
        first = date.fromisoformat(args.get("from") or first_default.isoformat())
        last = date.fromisoformat(args.get("to") or last_default.isoformat())
    except ValueError:
        return first_default, last_default, "Dates are written YYYY-MM-DD; showing the last 30 days."
    if first > last:
        return first_default, last_default, "The start date is after the end date; showing the last 30 days."
    if (last - first).days >= MAX_DAYS:
        first = last - timedelta(days=MAX_DAYS - 1)
        return first, last, f"Ranges are at most {MAX_DAYS} days; showing the last {MAX_DAYS} up to {last}."
    return first, last, None


def site_name(site):
    """The display name of ``site`` (one of the user's)."""
    return next((s["name"] for s in my_sites() if s["site"] == site), site)


@bp.get("/<site>/")
@site_required
def overview(site):
    """Touchpoints and people over time, by channel, source and country, top pages and
    campaigns, the bots left out, and the live count."""
    store = current.store()
    first, last, message = date_range(request.args)
    # Small independent queries: run together, the page waits for the slowest, not the sum.
    jobs = {"days": (queries.series, first, last), "totals": (queries.totals, first, last),
            "bots": (queries.bots, first, last), "live": (queries.live, time.time())}
    jobs.update({what: (queries.top, first, last, what) for what in queries.TOPS})
    pool = current.query_pool()
    futures = {name: submit(pool, job[0], store, site, *job[1:]) for name, job in jobs.items()}
    got = {name: future.result() for name, future in futures.items()}
    for row in got["country"]:
        row["value"] = country(row["value"])
    days = got["days"]
    chart = {"labels": [d["day"] for d in days], "touchpoints": [d["touchpoints"] for d in days],
             "people": [d["people"] for d in days]}
    return render_template(
        "overview.html", site=site, site_name=site_name(site), first=first, last=last, message=message,
        chart=chart, totals=got["totals"], bots=got["bots"], live=got["live"],
        tables=[("Arrivals by channel", got["channel"], "Channel", "Arrivals"),
                ("Arrivals by source", got["source"], "Search engine, network…", "Arrivals"),
                ("By country", got["country"], "Country", "Touchpoints"), ("Top pages", got["page"], "Page", "Touchpoints"),
                ("Top campaigns", got["campaign"], "Campaign", "Touchpoints")])


@bp.get("/<site>/live.json")
@site_required
def live(site):
    """The live count, for the overview's refresh every 30 seconds."""
    return jsonify(queries.live(current.store(), site, time.time()))
