"""The dashboards' error pages: every failure of a dashboard page, or of an unknown URL under
/dashboard/, is an HTML page with a sentence for a person (never a stack trace, never JSON)."""
from flask import render_template

from .. import errors
from . import bp

TITLES = {400: "Bad request", 401: "Please log in", 403: "Not allowed", 404: "Not found", 405: "Not allowed",
          413: "Too large", 429: "Too many requests", 500: "Something went wrong", 503: "Try again"}
# The sentences of errors.describe speak to API clients; a person reading a page gets these.
SENTENCES = {
    "store": "The figures could not be computed just now (the database refused or took too long). "
             "Try a shorter date range, or again in a moment.",
    "internal": "Something failed on our side while preparing this page. It has been logged; "
                "try again, or go back to your sites.",
}


def render_error_page(failure):
    """The error page of a ``errors.Failure``, with its status."""
    return render_template("error.html", code=failure.status, title=TITLES.get(failure.status, "Error"),
                           description=SENTENCES.get(failure.kind, failure.message)), failure.status


errors.render_errors_as(bp, render_error_page)
