"""Log in, log out, the list of sites, invitations."""
import time
from urllib.parse import urlparse

from flask import flash, redirect, render_template, request, session, url_for

from .. import current
from ..access import login_sites
from ..countries import country_name
from ..store import accounts
from ..store.sites import list_sites, may_see
from . import bp
from .security import login_required, start_session


def _safe_next(target):
    """Only a path on this site under /dashboard/ may be a redirect target (no open redirect)."""
    parts = urlparse(target or "")
    if parts.scheme or parts.netloc or not parts.path.startswith("/dashboard/") or target.startswith("//"):
        return url_for("dashboards.home")
    return target


def my_sites():
    """The sites of the logged-in user as [{"site", "name"}], in name order."""
    mine = login_sites() or []
    sites = ({"site": s["site"], "name": s["name"]} for s in list_sites(current.store()) if may_see(mine, s["site"]))
    return sorted(sites, key=lambda s: s["name"].lower())


@bp.get("/")
@login_required
def home():
    """The user's sites; straight to the overview when there is only one."""
    sites = my_sites()
    if len(sites) == 1:
        return redirect(url_for("dashboards.overview", site=sites[0]["site"]))
    return render_template("sites.html", sites=sites)


@bp.route("/login", methods=["GET", "POST"])
def login():
    """The login form; a wrong password or a locked account says so and keeps the email."""
    error = None
    email = request.form.get("email", "")
    if request.method == "POST":
        try:
            user = accounts.authenticate(current.store(), email, request.form.get("password", ""),
                                         ip=request.remote_addr or "")
        except accounts.AccountError as exc:
            error = str(exc)
        else:
            start_session(user)
            return redirect(_safe_next(request.args.get("next")))
    notice = "Your session expired: please log in again." if request.args.get("expired") else None
    return render_template("login.html", error=error, notice=notice, email=email), 401 if error else 200


@bp.post("/logout")
def logout():
    """End the session (the form carries the CSRF token, so no other site can log you out)."""
    session.clear()
    flash("You are logged out.")
    return redirect(url_for("dashboards.login"))


@bp.route("/invite", methods=["GET", "POST"])
@login_required
def invite():
    """Invite a colleague to some of your sites: makes a one-time link to pass on."""
    sites = my_sites()
    link = error = None
    chosen = request.form.getlist("site")
    email = request.form.get("email", "")
    if request.method == "POST":
        try:
            token = accounts.create_invitation(current.store(), email, chosen, session["user_id"],
                                               allowed=login_sites() or [])
        except accounts.AccountError as exc:
            error = str(exc)
        else:
            link = url_for("dashboards.join", token=token, _external=True)
    return render_template("invite.html", sites=sites, chosen=chosen, email=email, link=link,
                           error=error), 400 if error else 200


@bp.route("/join/<token>", methods=["GET", "POST"])
def join(token):
    """Accept an invitation: choose a password, then you are logged in."""
    store = current.store()
    invitation = accounts.find_invitation(store, token)
    error = None
    if invitation and request.method == "POST":
        password = request.form.get("password", "")
        if password != request.form.get("password2", ""):
            error = "the two passwords differ"
        else:
            try:
                user = accounts.accept_invitation(store, token, password)
            except accounts.AccountError as exc:
                error = str(exc)
            else:
                start_session(user)
                return redirect(url_for("dashboards.home"))
    status = 404 if invitation is None else (400 if error else 200)
    return render_template("join.html", invitation=invitation, error=error), status


@bp.app_template_filter("utc")
def utc(ms, zone=True):
    """Unix milliseconds as 'YYYY-MM-DD HH:MM UTC' (the reports' time zone; without the zone
    where a table's heading says it)."""
    return time.strftime("%Y-%m-%d %H:%M" + (" UTC" if zone else ""), time.gmtime(ms / 1000)) if ms else "–"


@bp.app_template_filter("country")
def country(code):
    """'Germany (DE)' for 'DE'."""
    return f"{country_name(code)} ({code})" if code else ""
