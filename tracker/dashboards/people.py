"""Prospect search and the prospect page, from the journey engine's people functions."""
from flask import abort, redirect, render_template, request, url_for

from .. import current
from ..clock import DAY_MS, now_ms
from ..journeys import persons
from . import bp
from .automations import fired_for
from .overview import site_name
from .security import site_required

SEARCH_LIMIT = 50


@bp.get("/<site>/people")
@site_required
def search(site):
    """Find a prospect by email, name, company or user id; one match opens their page."""
    q = request.args.get("q", "").strip()[:200]
    results, message = [], None
    if len(q) >= 2:
        results = persons.search(current.store(), site, q, SEARCH_LIMIT)
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
    now = now_ms()
    page = persons.person_page(current.store(), site, person, now, current.query_pool())
    if page is None:
        abort(404, "Nothing is known of this person on this site.")
    for journey in page["journeys"]:
        entered = journey.get("entered_ms")
        journey["days"] = int((now - entered) // DAY_MS) if entered else None
    return render_template("person.html", site=site, site_name=site_name(site), page=page,
                           sessions=list(reversed(page["sessions"])), title=_title(page),
                           fired=fired_for(site, person))


@bp.app_template_global()
def person_name(traits):
    """A person's name from their traits (name, else first and last name); '' when unknown."""
    return traits.get("name") or " ".join(filter(None, (traits.get("first_name"), traits.get("last_name"))))


def _title(page):
    return person_name(page["traits"]) or page["traits"].get("email") or page["person"]
