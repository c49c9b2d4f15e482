"""Bounds on what clients may ask: ingest rate limits per site and per client address, a daily
touchpoint quota per site (both through ``WindowCounters``, shared by every worker), and login
attempts per address and per email (flask-limiter, ``logins.py``), all counted in one storage:
``TRACKER_RATE_LIMIT_STORAGE`` (Redis), or memory on the embedded store's single process.
"""
from dataclasses import dataclass

from limits import parse

from ..settings import SettingsError
from .counters import WindowCounters
from .tally import open_tally

DAY_SECONDS = 86_400
INGEST_LIMITS = ("limit_per_ip", "limit_per_site")


@dataclass(frozen=True)
class Refusal:
    """Why a request is refused (``reason``: 'rate_limited' or 'quota'), and for how long."""

    reason: str
    message: str
    retry_after: float

    @property
    def retry_after_header(self):
        """Whole seconds for ``Retry-After`` (at least 1)."""
        return str(max(1, int(self.retry_after + 0.999)))


def _rate(text):
    """(amount, seconds) of a rate such as "100/second", or None for no limit."""
    if not text:
        return None
    item = parse(text)
    return item.amount, item.get_expiry()


class Bounds:
    """The ingest side's limits, checked in microseconds (see counters.py)."""

    def __init__(self, counters, per_ip="", per_site="", daily_quota=0):
        self.counters = counters
        self.per_ip, self.per_site = _rate(per_ip), _rate(per_site)
        self._texts = {"ip": per_ip, "site": per_site}
        self.daily_quota = daily_quota

    def ingest(self, site, client, events=1):
        """None when a request of ``events`` touchpoints from ``client`` (an address hash) to
        ``site`` may go on, else the Refusal. A refused request does not count against the quota."""
        hit = self.counters.hit
        if self.per_site:
            wait = hit("site:" + site, *self.per_site)
            if wait:
                return Refusal("rate_limited", f"site {site} sends more than {self._texts['site']}; retry later",
                               wait)
        if self.per_ip and client:
            wait = hit("ip:" + client, *self.per_ip)
            if wait:
                return Refusal("rate_limited", f"this address sends more than {self._texts['ip']}; retry later",
                               wait)
        if self.daily_quota:
            wait = hit("quota:" + site, self.daily_quota, DAY_SECONDS, cost=events)
            if wait:
                return Refusal("quota", f"site {site} has used its {self.daily_quota} touchpoints of today "
                                        f"(UTC); retry after midnight UTC", wait)
        return None

    def close(self):
        self.counters.close()


def storage_uri(settings, store):
    """The counters' storage: the setting, or memory on the embedded store; a server store with
    a limit on and no shared storage stops start-up (each worker would count on its own)."""
    uri = settings["rate_limit_storage"]
    limits_on = any(settings[k] for k in INGEST_LIMITS + ("login_limit_per_ip", "login_limit_per_email")) \
        or settings["site_daily_quota"]
    if store.kind == "server" and limits_on and (not uri or uri.startswith("memory://")):
        raise SettingsError(
            "TRACKER_RATE_LIMIT_STORAGE must name a storage every worker and node shares (redis://host:6379/0) "
            "on a ClickHouse server store: in memory each gunicorn worker would count on its own. Or turn the "
            "limits off: TRACKER_LIMIT_PER_IP=off TRACKER_LIMIT_PER_SITE=off TRACKER_LOGIN_LIMIT_PER_IP=off "
            "TRACKER_LOGIN_LIMIT_PER_EMAIL=off TRACKER_SITE_DAILY_QUOTA=0")
    return uri or "memory://"


def start_bounds(app, settings, store, uri):
    """The app's Bounds (``app.extensions["bounds"]``) and its login limits, counted in ``uri``."""
    from .logins import limit_logins

    prefix = f"tracker:{store.database}"  # nodes of one store share counters; tests' databases do not
    bounds = Bounds(WindowCounters(open_tally(uri), prefix), settings["limit_per_ip"], settings["limit_per_site"],
                    settings["site_daily_quota"])
    app.extensions["bounds"] = bounds
    limit_logins(app, settings, uri, prefix)
    return bounds
