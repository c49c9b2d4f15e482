"""Who may see which site: API tokens and dashboard logins, read from the store on each request.

Nothing about access is frozen in a cookie or kept for long in a process: a revoked token, a
disabled account or a site taken away takes effect on every worker and node within
``CACHE_SECONDS``. A login's cookie names only the account; its sites are looked up.
"""
import threading

from cachetools import TTLCache
from flask import g, session

from . import current
from .store.accounts import access_of
from .store.sites import find_token, may_see

CACHE_SECONDS = 2
_cache = TTLCache(maxsize=20_000, ttl=CACHE_SECONDS)
_cache_lock = threading.Lock()
_UNSET = object()


def _cached(kind, key, load):
    store = current.store()
    full_key = (kind, store.kind, store.database, key)  # tests run many databases in one process
    with _cache_lock:
        value = _cache.get(full_key, _UNSET)
    if value is _UNSET:
        value = load(store)
        with _cache_lock:
            _cache[full_key] = value
    return value


def token_sites(token):
    """The sites an API token may see (``["*"]``: all), or None for an unknown or revoked one."""
    return _cached("token", token, lambda store: find_token(store, token))


def login_sites():
    """The sites of the dashboard login of this request, or None when there is none (a login
    whose account was disabled or replaced ends here)."""
    if "sites" in g:
        return g.sites
    sites = None
    email = session.get("email")
    if email:
        access = _cached("login", email, lambda store: access_of(store, email))
        if access is None or access["user_id"] != session.get("user_id"):
            session.clear()
        else:
            sites = access["sites"]
    g.sites = sites
    return sites


def may_see_site(sites, site):
    """Whether ``sites`` (from a token or a login) include ``site``."""
    return sites is not None and may_see(sites, site)
