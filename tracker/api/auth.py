"""Who may read a site's analytics: a Bearer token from ``tracker token create``,
or a dashboard login (the dashboards put the user's sites in the session).
"""
import threading
import time
from functools import wraps

from flask import current_app, g, request, session

from ..errors import ApiError
from ..store.sites import find_token

_CACHE_SECONDS = 30
_cache = {}
_cache_lock = threading.Lock()


def _token_sites(token):
    """The sites a token may see ([] = all) or None; cached briefly (revocation takes ≤30 s)."""
    now = time.monotonic()
    with _cache_lock:
        hit = _cache.get(token)
        if hit and now - hit[0] < _CACHE_SECONDS:
            return hit[1]
    sites = find_token(current_app.extensions["store"], token)
    with _cache_lock:
        if len(_cache) > 10_000:
            _cache.clear()
        _cache[token] = (now, sites)
    return sites


def allowed_sites():
    """The sites the caller may see: a list ([] = every site); raises 401 when not signed in."""
    auth = request.headers.get("Authorization", "")
    if auth.lower().startswith("bearer "):
        sites = _token_sites(auth[7:].strip())
        if sites is None:
            raise ApiError(401, "unknown or revoked token")
        return sites
    if "user_id" in session:
        return list(session.get("sites", []))
    raise ApiError(401, "send 'Authorization: Bearer TOKEN' (tracker token create) or log in")


def check_site(site):
    """Raise 401/403 unless the caller may see ``site``."""
    sites = allowed_sites()
    if sites and site not in sites:
        raise ApiError(403, f"this token or login may not see site {site!r}")


def site_access(view):
    """Decorator for views with a ``site`` argument: 401 without credentials, 403 for a site not theirs."""

    @wraps(view)
    def wrapper(*args, site, **kwargs):
        check_site(site)
        g.site = site
        return view(*args, site=site, **kwargs)

    return wrapper
