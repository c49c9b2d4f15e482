"""Journey pages: the list, the funnel, people lists (with CSV) and the editor."""
from flask import render_template

from . import bp
from .overview import site_name
from .security import site_required


@bp.get("/<site>/journeys/")
@site_required
def journey_list(site):
    """The site's journeys."""
    return render_template("journeys.html", site=site, site_name=site_name(site), journeys=[])
