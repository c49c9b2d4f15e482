"""Turn validated events into rows of ``events``, ``identities`` and ``persons``."""
import itertools
import uuid
from dataclasses import dataclass

from .agents import parse_user_agent
from .channels import is_spam, origin_of
from .enrich import hashed, split_url, utm_fields

EVENT_COLUMNS = [
    "site", "event_id", "event_time", "event_ms", "received_at", "visitor_id", "session_id",
    "user_id", "type", "name", "url", "host", "path", "title", "referrer", "referrer_host",
    "channel", "utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content",
    "browser", "os", "device", "is_bot", "screen", "ip_hash", "prop_keys", "prop_values",
    # migration 0020: where the touchpoint came from, and the user agent for `tracker reclassify`
    "source", "country", "continent", "user_agent",
]
IDENTITY_COLUMNS = ["site", "visitor_id", "user_id", "linked_at"]
PERSON_COLUMNS = ["site", "user_id", "trait_keys", "trait_values", "updated_at", "updated_ms"]
COLUMNS = {"events": EVENT_COLUMNS, "identities": IDENTITY_COLUMNS, "persons": PERSON_COLUMNS}

# Browsers' clocks drift: outside this window around arrival a public hit's own time is
# replaced by the arrival time (the event is kept). The server API is trusted further back.
PUBLIC_PAST_MS = 24 * 3600 * 1000
FUTURE_MS = 5 * 60 * 1000


class SaltUnavailable(Exception):
    """No IP salt can be read (ClickHouse unreachable on a new day): cookieless visitors
    cannot be told apart the same way in every worker, so their touchpoints are refused."""


@dataclass
class Hit:
    """What the request tells about all its events: who sent it and when."""

    site: str
    user_agent: str
    salt: str | None
    ip: str
    received_ms: int
    trusted: bool  # the server API: its times and channels are taken as given
    country: str = ""  # of the IP address (never stored itself); '' for the server API
    continent: str = ""


def event_time(hit, ts):
    """(seconds, milliseconds) of an event's time, within what the endpoint accepts."""
    now = hit.received_ms
    if ts is None or ts > now + FUTURE_MS or (not hit.trusted and ts < now - PUBLIC_PAST_MS):
        ts = now
    return ts // 1000, ts % 1000


def visitor_of(hit, batch_vid, event):
    """The event's visitor id: given, else a daily hash of address and browser (cookieless)."""
    vid = event.get("vid") or batch_vid
    if vid:
        return vid
    # A known person without a browser id (an email open, a CRM record) is their own
    # visitor; an identify keeps the hashed visitor so its earlier touchpoints get linked.
    if event.get("uid") and event["type"] != "identify":
        return "u:" + event["uid"]
    if hit.salt is None:
        raise SaltUnavailable()
    return "h:" + hashed(hit.salt, hit.site, hit.ip, hit.user_agent)


def records_for(hit, batch_vid, events):
    """The ``(table, row)`` records of a batch of validated events; referrer spam is left out.

    Each touchpoint keeps its own channel and source and the session id its sender gave (the
    snippet does); visits and their channels and sources are read from event times and these
    ids at query time, so no worker's memory decides them and late or reordered touchpoints
    land in place.
    """
    request_agent = ("", "", "server", 0) if hit.trusted else parse_user_agent(hit.user_agent)
    ip_hash = hashed(hit.salt, hit.ip) if hit.ip and hit.salt else ""
    records = []
    for event in events:
        ref_host, ref_path, _ = split_url(event["ref"])
        if is_spam(ref_host):
            continue
        seconds, millis = event_time(hit, event["ts"])
        # The server API may pass on the visitor's own browser (a server-side proxy, an import).
        user_agent = event["ua"] if hit.trusted else hit.user_agent
        browser, os_name, device, is_bot = (
            parse_user_agent(user_agent) if hit.trusted and user_agent else request_agent)
        visitor = visitor_of(hit, batch_vid, event)
        host, path, pairs = split_url(event["url"])
        query = dict(pairs)
        utm = utm_fields(event, query)
        given = hit.trusted and event["channel"]
        channel, source = (given, "") if given else origin_of(event["type"], utm, query, ref_host, ref_path, host)
        props = event.get("props") or {}
        records.append(("events", [
            hit.site, event["eid"] or next_event_id(), seconds, millis, hit.received_ms // 1000,
            visitor, event["sid"], event["uid"], event["type"], event["name"], event["url"], host, path,
            event["title"], event["ref"], ref_host, channel, utm["utm_source"], utm["utm_medium"],
            utm["utm_campaign"], utm["utm_term"], utm["utm_content"], browser, os_name, device, is_bot,
            event["screen"], ip_hash, list(props), list(props.values()),
            source, hit.country, hit.continent, user_agent,
        ]))
        # The link is made by an identify (or a server-side event naming both ids), not
        # again by every later event of that visitor, which carries the user id itself.
        links = event["type"] == "identify" or hit.trusted
        if links and event["uid"] and not visitor.startswith("u:"):
            records.append(("identities", [hit.site, visitor, event["uid"], seconds]))
        traits = event.get("traits") or {}
        if event["uid"] and traits:
            records.append(("persons", [hit.site, event["uid"], list(traits), list(traits.values()),
                                        seconds, millis]))
    return records


_ID_PREFIX = uuid.uuid4().hex[:12]
_id_counter = itertools.count()


def next_event_id():
    """A unique id for an event sent without one: a random per-process prefix and a counter."""
    return f"{_ID_PREFIX}{next(_id_counter):x}"
