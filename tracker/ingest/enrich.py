"""Enrichment: URLs, UTM fields, sessions and hashed IPs.

Pure functions of the request and a few in-memory caches; nothing here touches ClickHouse
except the daily salt, which ``Salts`` reads through a callable. Channels and sources are in
``channels.py``, browsers and bots in ``agents.py``, countries in ``geo.py``.
"""
import hashlib
import secrets
import threading
import time
from collections import OrderedDict
from functools import lru_cache
from urllib.parse import parse_qsl, urlsplit

UTM_FIELDS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")
SESSION_IDLE_SECONDS = 30 * 60


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


class Sessions:
    """Session ids and entry origins (channel, source) of visitors, kept for 30 idle minutes.

    The snippet sends its own session id; this serves the pixel and the server API,
    and carries a session's entry origin over to its internal navigations.
    """

    def __init__(self, capacity=200_000):
        self._capacity = capacity
        self._seen = OrderedDict()  # (site, visitor) -> [session id, last time, (channel, source)]
        self._lock = threading.Lock()

    def resolve(self, site, visitor, session_id, when, origin):
        """(session id, (channel, source)) for a touchpoint at ``when`` (Unix seconds) whose own
        origin is ``origin``; a channel of '' takes the session's."""
        key = (site, visitor)
        with self._lock:
            known = self._seen.get(key)
            fresh = known is None or when - known[1] > SESSION_IDLE_SECONDS or (
                session_id and session_id != known[0])
            if fresh:
                sid = session_id or hashlib.sha1(f"{site}|{visitor}|{when}".encode()).hexdigest()[:16]
                known = [sid, when, origin if origin[0] else ("direct", "")]
                self._seen[key] = known
            else:
                known[1] = max(known[1], when)
                self._seen.move_to_end(key)
                if origin[0] == "direct":  # a reload mid-session keeps how the session came
                    origin = ("", "")
            if len(self._seen) > self._capacity:
                self._seen.popitem(last=False)
            return known[0], origin if origin[0] else known[2]


class Salts:
    """A random salt per UTC day for hashing IP addresses; yesterday's becomes unknowable.

    ``load(day)`` returns the stored salt of the day or None, ``save(day, salt)`` stores one;
    both may fail (ClickHouse down), and then a salt of our own serves until they work.
    """

    def __init__(self, load, save):
        self._load, self._save = load, save
        self._day, self._salt = None, None
        self._lock = threading.Lock()

    def today(self, now=None):
        day_number = int((now or time.time()) // 86400)
        if day_number == self._day:  # the hot path: no lock, no formatting
            return self._salt
        with self._lock:
            if day_number != self._day:
                self._salt = self._fetch(time.strftime("%Y-%m-%d", time.gmtime(day_number * 86400)))
                self._day = day_number
            return self._salt

    def _fetch(self, day):
        try:
            salt = self._load(day)
            if salt is None:
                self._save(day, secrets.token_hex(16))
                salt = self._load(day)
            if salt:
                return salt
        except Exception:  # ClickHouse down: a process-local salt keeps ingest going
            pass
        return secrets.token_hex(16)


def hashed(salt, *parts):
    """A short salted SHA-256 of ``parts``: the only trace of an IP address we keep."""
    return hashlib.sha256("|".join((salt,) + parts).encode()).hexdigest()[:16]
