"""The one settings table: every setting with its default and help, read from the environment once.

A bad value stops start-up with a sentence naming the variable and what is wrong
(the way datasette's ``SETTINGS`` and ``StartupError`` do it).
"""
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse
import os


class SettingsError(Exception):
    """A setting has a value we cannot start with; the message says which and why."""


def _url(value):
    if value == "":
        return ""
    parts = urlparse(value)
    if parts.scheme != "clickhouse" or not parts.hostname:
        raise ValueError("expected clickhouse://user:pass@host:9000/db")
    try:
        port = parts.port  # urllib raises ValueError for a port that is not a number
    except ValueError:
        port = -1
    if port is not None and not 0 < port < 65536:
        raise ValueError("the port is not a number from 1 to 65535")
    return value


def _cluster(value):
    if value and not value.replace("_", "").isalnum():
        raise ValueError("a cluster name of letters, digits and underscores, as in remote_servers")
    return value


def _positive_int(value):
    number = int(value)
    if number <= 0:
        raise ValueError("must be a positive whole number")
    return number


def _positive_float(value):
    number = float(value)
    if number <= 0:
        raise ValueError("must be a positive number")
    return number


def _database(value):
    if not value.replace("_", "").isalnum():
        raise ValueError("only letters, digits and underscores")
    return value


def _non_negative_int(value):
    number = int(value)
    if number < 0:
        raise ValueError("must be 0 or a positive whole number")
    return number


def _fraction(value):
    number = float(value)
    if not 0 <= number <= 1:
        raise ValueError("must be a number from 0 to 1")
    return number


def _rate(value):
    """A rate limit in the ``limits`` notation ("100/second", "20 per minute"); "" or "off": none."""
    if value.strip().lower() in ("", "off", "0"):
        return ""
    from limits import parse

    try:
        parse(value)
    except ValueError:
        raise ValueError('expected a rate such as "100/second" or "20 per minute", or "off"') from None
    return value.strip()


def _storage(value):
    if value and value.split("://")[0] not in ("redis", "rediss", "memory"):
        raise ValueError("expected redis://host:6379/0 (shared by every worker and node)")
    return value


def _bind(value):
    if value and (":" not in value or not value.rsplit(":", 1)[1].isdigit()):
        raise ValueError("expected host:port, e.g. 127.0.0.1:9100")
    return value


def _auto_flag(value):
    """on/off, or "auto" (None): the code decides from the store."""
    return None if value.strip().lower() in ("auto", "") else _flag(value)


def _public_url(value):
    if value == "":
        return ""
    parts = urlparse(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("expected the address people open the dashboards at, like https://tracker.example.com")
    return value.rstrip("/")


def _flag(value):
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off", ""):
        return False
    raise ValueError("expected 1/0, true/false, yes/no or on/off")


def _mmdb(value):
    from .ingest.geo import readable_database

    if value and not readable_database(value):
        raise ValueError("not a readable MaxMind database (.mmdb) file")
    return value


@dataclass(frozen=True)
class Setting:
    name: str
    default: str
    parse: object
    help: str


SETTINGS = [
    Setting("TRACKER_CLICKHOUSE_URL", "", _url,
            "ClickHouse server as clickhouse://user:pass@host:9000/db; unset means the embedded chDB store."),
    Setting("TRACKER_CLICKHOUSE_CLUSTER", "", _cluster,
            "A cluster of the servers' remote_servers (system.clusters): the tables are sharded over it "
            "and `tracker migrate` creates them on every host; unset means one server."),
    Setting("TRACKER_DATA_DIR", "./data", str,
            "Folder of the embedded store and of the spool of events waiting for ClickHouse."),
    Setting("TRACKER_DATABASE", "tracker", _database,
            "Database of the embedded store (the server takes it from the URL path)."),
    Setting("TRACKER_FLUSH_SECONDS", "1", _positive_float,
            "Longest time an accepted event waits in memory before it is written to ClickHouse."),
    Setting("TRACKER_FLUSH_ROWS", "5000", _positive_int,
            "Rows that trigger a write before the flush interval is up."),
    Setting("TRACKER_MAX_BODY_BYTES", "262144", _positive_int,
            "Largest request body the ingest endpoints read; larger gets 413."),
    Setting("TRACKER_MAX_EVENTS", "100", _positive_int,
            "Most events in one /collect or /api/v1/touchpoints batch."),
    Setting("TRACKER_TRUST_PROXY", "0", _flag,
            "Take the client address from X-Forwarded-For (only behind a proxy you run)."),
    Setting("TRACKER_SECRET_KEY", "", str,
            "Signs dashboard sessions; unset means a random key made once and kept in the store, "
            "shared by every worker and app node."),
    Setting("TRACKER_QUERY_SECONDS", "30", _positive_int,
            "Time limit of one analytics query in ClickHouse."),
    Setting("TRACKER_JOURNEY_WORKER", "1", _flag,
            "Run a journey worker in each serving process (one leads at a time); 0 when a separate "
            "`tracker worker` keeps journey state instead."),
    Setting("TRACKER_SESSION_IDLE_HOURS", "8", _positive_float,
            "A dashboard login ends after this long without a request."),
    Setting("TRACKER_PUBLIC_URL", "", _public_url,
            "The address people open the dashboards at (https://tracker.example.com), for the links in "
            "webhooks; unset, a webhook's link to a person is a path only."),
    Setting("TRACKER_WEBHOOK_ALLOW_PRIVATE", "0", _flag,
            "Let webhooks go to private, loopback and link-local addresses (a receiver on this machine, "
            "the demo); by default they are refused, so no automation reaches the internal network."),
    Setting("TRACKER_GEOIP_DB", "", _mmdb,
            "IP-to-country database (.mmdb); unset means the pinned npm package under geoip/ (make install)."),
    # -- operating it: metrics, logs, readiness, limits, durability ----------------------
    Setting("TRACKER_METRICS_BIND", "", _bind,
            "host:port where the gunicorn master serves /metrics to anyone who can reach it; unset: "
            "/metrics on the app itself, for a holder of an API token (Authorization: Bearer)."),
    Setting("TRACKER_INGEST_LOG_SAMPLE", "0.01", _fraction,
            "Share of ingest requests (pixel, /collect, /api/v1/touchpoints) written to the JSON "
            "request log; every other request is logged."),
    Setting("TRACKER_READY_SPOOL_SECONDS", "30", _positive_float,
            "/readyz fails while a spooled segment has waited longer than this for ClickHouse."),
    Setting("TRACKER_RATE_LIMIT_STORAGE", "", _storage,
            "Where every worker and node counts requests: redis://host:6379/0. Required on a "
            "ClickHouse server store while a limit is on; unset on the embedded store (one process) "
            "counts in memory."),
    Setting("TRACKER_LIMIT_PER_IP", "100/second", _rate,
            "Ingest requests per client address (hashed) beyond which 429 (the pixel: a GIF with "
            "X-Tracker-Error); 'off' for none."),
    Setting("TRACKER_LIMIT_PER_SITE", "2000/second", _rate,
            "Ingest requests per site beyond which 429; 'off' for none."),
    Setting("TRACKER_LOGIN_LIMIT_PER_IP", "30/minute", _rate,
            "Dashboard login attempts per client address (besides the lock-out of an email after "
            "repeated failures)."),
    Setting("TRACKER_LOGIN_LIMIT_PER_EMAIL", "10/minute", _rate,
            "Dashboard login attempts per email address."),
    Setting("TRACKER_SITE_DAILY_QUOTA", "0", _non_negative_int,
            "Touchpoints a site may send per UTC day; beyond, 429 until midnight UTC. 0: no quota."),
    Setting("TRACKER_SPOOL_FSYNC", "auto", _auto_flag,
            "fsync the spool before each 202 (group commit: one fsync serves the requests of the "
            "same few milliseconds), so a power cut loses no accepted touchpoint. auto: on with a "
            "ClickHouse server, off on the embedded store."),
]


def load_settings(environ=None, **overrides):
    """Read every setting from ``environ`` (default: the process environment).

    ``overrides`` take Python names (``clickhouse_url=...``) and win over the
    environment; tests pass them instead of patching.
    """
    environ = os.environ if environ is None else environ
    values = {}
    for setting in SETTINGS:
        key = setting.name.removeprefix("TRACKER_").lower()
        raw = overrides.pop(key, environ.get(setting.name, setting.default))
        try:
            values[key] = setting.parse(raw) if isinstance(raw, str) else raw
        except ValueError as exc:
            raise SettingsError(f"{setting.name}={raw!r} is not valid: {exc}. {setting.help}") from None
    if overrides:
        raise SettingsError(f"unknown settings: {', '.join(sorted(overrides))}")
    values["data_dir"] = Path(values["data_dir"]).resolve()
    return values


def describe():
    """The settings table as text, for ``tracker settings``."""
    return "\n".join(f"{s.name} (default {s.default!r})\n    {s.help}" for s in SETTINGS)
