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


def _flag(value):
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off", ""):
        return False
    raise ValueError("expected 1/0, true/false, yes/no or on/off")


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
