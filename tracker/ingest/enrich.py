"""Enrichment: URLs, UTM fields and hashed IPs.

Pure functions of the request, with caches: nothing here depends on which worker or node
answers, and nothing touches ClickHouse (the daily salt comes from ``salts.py``). Channels and
sources are in ``channels.py``, browsers and bots in ``agents.py``, countries in ``geo.py``.
"""
import hashlib
from functools import lru_cache
from urllib.parse import parse_qsl, urlsplit

UTM_FIELDS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")


@lru_cache(maxsize=16384)
def split_url(url):
    """(host, path, query pairs) of a URL; empty parts when it does not parse. Cached."""
    if not url:
        return "", "", ()
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
    except ValueError:
        return "", "", ()
    # A tuple of pairs, not a dict: cached values must not be mutable.
    return host, parts.path or "/", tuple(parse_qsl(parts.query, keep_blank_values=False))


def host_of(url):
    """The lower-case host of a URL ('' if none)."""
    return split_url(url)[0]


def utm_fields(explicit, query):
    """UTM values from explicit fields, else from the page URL's query string."""
    return {field: (explicit.get(field) or query.get(field, ""))[:200] for field in UTM_FIELDS}


def same_site(host, other):
    """True when two hosts belong to one site (equal or one a subdomain of the other)."""
    if not host or not other:
        return False
    host, other = host.removeprefix("www."), other.removeprefix("www.")
    return host == other or host.endswith("." + other) or other.endswith("." + host)


def hashed(salt, *parts):
    """A short salted SHA-256 of ``parts``: the only trace of an IP address we keep."""
    return hashlib.sha256("|".join((salt,) + parts).encode()).hexdigest()[:16]
