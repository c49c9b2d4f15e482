"""Prospect search and the prospect page."""
from flask import render_template, request

from . import bp
from .overview import site_name
from .security import site_required


@bp.get("/<site>/people")
@site_required
def search(site):
    """Find a prospect by email, name, company or user id."""
    q = request.args.get("q", "").strip()
    return render_template("search.html", site=site, site_name=site_name(site), q=q, results=[])


@bp.get("/<site>/people/<path:person>")
@site_required
def person(site, person):
    """One prospect: per journey where they are, then their touchpoints by session."""
    return render_template("search.html", site=site, site_name=site_name(site), q="", results=[])
