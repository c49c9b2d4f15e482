"""Who may read a site's analytics: a Bearer token from ``tracker token create``, or a
dashboard login (both looked up in the store, see ``tracker.access``)."""
from functools import wraps

from flask import g, request, session

from ..access import login_sites, may_see_site, token_sites
from ..errors import ApiError
from ..store.sites import digest


def allowed_sites():
    """The sites the caller may see (``["*"]``: all); raises 401 when not signed in."""
    auth = request.headers.get("Authorization", "")
    if auth.lower().startswith("bearer "):
        sites = token_sites(auth[7:].strip())
        if sites is None:
            raise ApiError(401, "unknown or revoked token")
        return sites
    sites = login_sites()
    if sites is None:
        raise ApiError(401, "send 'Authorization: Bearer TOKEN' (tracker token create) or log in")
    return sites


def check_site(site):
    """Raise 401/403 unless the caller may see ``site``."""
    if not may_see_site(allowed_sites(), site):
        raise ApiError(403, f"this token or login may not see site {site!r}")


def site_access(view):
    """Decorator for views with a ``site`` argument: 401 without credentials, 403 for a site not theirs."""

    @wraps(view)
    def wrapper(*args, site, **kwargs):
        check_site(site)
        g.site = site
        return view(*args, site=site, **kwargs)

    return wrapper


def actor():
    """Who is asking, for an audit trail: the token's id (the start of its hash) or the login."""
    auth = request.headers.get("Authorization", "")
    if auth.lower().startswith("bearer "):
        return "token:" + digest(auth[7:].strip())[:12]
    return "login:" + session.get("email", "")
