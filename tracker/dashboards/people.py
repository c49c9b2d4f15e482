"""Prospect search and the prospect page, from the journey engine's people functions."""
import time

from flask import abort, current_app, redirect, render_template, request, url_for

from ..journeys import persons
from . import bp
from .automations import fired_for
from .overview import site_name
from .security import site_required

DAY_MS = 86_400_000
SEARCH_LIMIT = 50


def _store():
    return current_app.extensions["store"]


@bp.get("/<site>/people")
@site_required
def search(site):
    """Find a prospect by email, name, company or user id; one match opens their page."""
    q = request.args.get("q", "").strip()[:200]
    results, message = [], None
    if len(q) >= 2:
        results = persons.search(_store(), site, q, SEARCH_LIMIT)
        if len(results) == 1:
            return redirect(url_for("dashboards.person", site=site, person=results[0]["person"]))
        if not results:
            message = "Nobody matches. Try part of an email, a name, a company or a user id."
    elif q:
        message = "Type at least 2 characters."
    return render_template("search.html", site=site, site_name=site_name(site), q=q, results=results,
                           message=message, limit=SEARCH_LIMIT)


@bp.get("/<site>/people/<path:person>")
@site_required
def person(site, person):
    """One prospect: per journey a progress bar with where they are now and since when, then
    every touchpoint grouped by session (newest session first)."""
    now = int(time.time() * 1000)
    page = persons.person_page(_store(), site, person, now)
    if page is None:
        abort(404, "Nothing is known of this person on this site.")
    for journey in page["journeys"]:
        entered = journey.get("entered_ms")
        journey["days"] = int((now - entered) // DAY_MS) if entered else None
    return render_template("person.html", site=site, site_name=site_name(site), page=page,
                           sessions=list(reversed(page["sessions"])), title=_title(page),
                           fired=fired_for(site, person))


def _title(page):
    traits = page["traits"]
    name = traits.get("name") or " ".join(filter(None, (traits.get("first_name"), traits.get("last_name"))))
    return name or traits.get("email") or page["person"]
