"""Sessions, CSRF tokens and site access of the dashboards."""
import hmac
import secrets
import time
from functools import wraps

from flask import abort, current_app, g, redirect, request, session, url_for

from ..access import login_sites, may_see_site
from . import bp

_UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
# Pages load only our own files: no inline script, no inline style, nothing from elsewhere.
_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


def csrf_token():
    """This session's CSRF token (created on first use); forms put it in a hidden field."""
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]


def start_session(user):
    """Log ``user`` in: a fresh session (new CSRF token) with their id and their sites."""
    session.clear()
    session["user_id"] = user["user_id"]
    session["email"] = user["email"]  # its sites are looked up on each request (tracker.access)
    session["seen_at"] = int(time.time())
    csrf_token()


@bp.app_template_global()
def csrf_field():
    """The value of the hidden CSRF field, for templates."""
    return csrf_token()


@bp.before_app_request
def _expire_idle_session():
    """End a login idle for longer than DASHBOARD_IDLE_SECONDS, for the pages and the API alike."""
    if "user_id" not in session:
        return
    now = int(time.time())
    idle = current_app.config["DASHBOARD_IDLE_SECONDS"]
    if now - session.get("seen_at", 0) > idle:
        session.clear()
        g.session_expired = True
    elif now - session.get("seen_at", 0) > 60:  # refresh the cookie at most once a minute
        session["seen_at"] = now


@bp.before_request
def _check_csrf():
    """Refuse a form or fetch that changes something without this session's CSRF token."""
    if request.method not in _UNSAFE:
        return
    sent = request.form.get("csrf_token") or request.headers.get("X-CSRF-Token", "")
    expected = session.get("csrf")
    if not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
        abort(400, "This form has expired or did not come from this site. Reload the page and try again.")


@bp.after_request
def _headers(response):
    response.headers.setdefault("Content-Security-Policy", _CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if response.mimetype == "text/html":
        response.headers.setdefault("Cache-Control", "no-store")
    return response


def login_required(view):
    """Send a visitor without a session to the login page (and back here afterwards)."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        if login_sites() is None:
            expired = "1" if g.get("session_expired") else None
            return redirect(url_for("dashboards.login", next=request.full_path.rstrip("?"), expired=expired))
        return view(*args, **kwargs)

    return wrapper


def site_required(view):
    """``login_required``, and a 403 page for a site the user was not given."""

    @wraps(view)
    @login_required
    def wrapper(*args, site, **kwargs):
        if not may_see_site(login_sites(), site):
            abort(403, "You do not have access to this site. Ask someone who has it to invite you.")
        g.site = site
        return view(*args, site=site, **kwargs)

    return wrapper
