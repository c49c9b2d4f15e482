"""`tracker reclassify`: channel, source and bot flag of stored touchpoints, recomputed with the
current lists and patterns, in place, one month (a partition of ``events``) at a time.

Per month, the distinct inputs of the classification are read and classified in Python by the
code ingest uses (``channels.classify``, ``agents.parse_user_agent``), so there is one
definition of a channel. The results go to small scratch tables, and one ``ALTER TABLE events
UPDATE`` sets the new values through IN-subqueries on them: a mutation on ClickHouse 18.16 can
neither join nor use joinGet or a Set table (both leave the mutation stuck), but IN works.
Each touchpoint gets its own channel and source, as ingest stores them ('' when it has none of
its own); visits and the origin a touchpoint takes from its visit are read at query time
(``journeys.engine.touchpoints_sql``), so nothing is propagated here. Rows the server API
wrote without a browser (device 'server') keep the channel they were given. The bot flag needs
the user agent, stored since migration 0020: older rows keep theirs.

Mutations bypass materialized views, so afterwards the overview's daily tables of the site and
month are rebuilt from ``events``, and the visitors whose touchpoints changed are written to
``journey_changes`` (what the views of migration 0007 do for an insert): the journey worker
recomputes those persons.
"""
import calendar
import time
import uuid

from .agents import parse_user_agent
from .channels import CLICK_IDS, classify

# What the classification of a touchpoint depends on, hashed to one key per distinct input.
INPUTS = ("type", "utm_medium", "utm_source", "referrer_host", "path(referrer)", "host",
          "arrayFilter(k -> has(%(click_ids)s, k), extractURLParameterNames(url))")
KEY = f"cityHash64({', '.join(INPUTS)})"
MONTH = "site = %(site)s AND toYYYYMM(event_time) = %(month)s AND device != 'server'"
SCRATCH = {"keys": "key UInt64, target UInt32",
           "agents": "user_agent String, is_bot UInt8, device String",
           "visitors": "site String, visitor_id String, user_id String"}
# The overview's daily tables as their materialized views fill them (migrations 0005 and 0020).
OVERVIEW_TABLES = {
    "overview_daily": """SELECT site, toDate(event_time) AS day, channel,
        if(type = 'pageview', path, '') AS page, utm_campaign AS campaign,
        uniqHLL12State(cityHash64(event_id)) AS touchpoints, uniqHLL12State(visitor_id) AS people
        FROM events WHERE is_bot = 0 AND {where} GROUP BY site, day, channel, page, campaign""",
    "overview_origin_daily": """SELECT site, toDate(event_time) AS day, is_bot, country, source,
        uniqHLL12State(cityHash64(event_id)) AS touchpoints, uniqHLL12State(visitor_id) AS people
        FROM events WHERE {where} GROUP BY site, day, is_bot, country, source""",
}
WAIT_SECONDS = 3600


def months(store, site, since=None):
    """The months (YYYYMM) holding touchpoints of ``site``, from ``since`` (a date, UTC) on."""
    start = calendar.timegm(since.timetuple()) if since else 0
    rows = store.query("""SELECT DISTINCT toYYYYMM(event_time) AS m FROM events
        WHERE site = %(site)s AND event_time >= toDateTime(%(start)s) ORDER BY m""", {"site": site, "start": start})
    return [r[0] for r in rows]


def reclassify(store, site, since=None, progress=print):
    """Recompute channel, source and bot flag of ``site``'s touchpoints; returns months done."""
    done = months(store, site, since)
    for number, month in enumerate(done, 1):
        params = {"site": site, "month": month, "click_ids": list(CLICK_IDS)}
        # Dropped only once the mutation is done: it reads them while it runs. A run that fails
        # leaves its reclassify_* tables behind rather than a mutation that can never finish.
        scratch = Scratch(store)
        summary = _month(store, params, scratch)
        progress(f"{month}: {summary} ({number}/{len(done)}); waiting for ClickHouse to rewrite it")
        wait_for_mutations(store, "events")
        rebuild_overview(store, params)
        # Only now that the rows are rewritten: a worker that read them earlier would keep the old state.
        store.execute(f"INSERT INTO journey_changes SELECT site, visitor_id, user_id, now() "
                      f"FROM {scratch.names['visitors']}")
        scratch.drop()
        progress(f"{month}: done, overview rebuilt, journeys of the changed visitors queued ({number}/{len(done)})")
    return done


class Scratch:
    """The small tables of one month's results, named uniquely, dropped afterwards."""

    def __init__(self, store):
        self.store = store
        suffix = uuid.uuid4().hex[:10]
        self.names = {kind: f"reclassify_{kind}_{suffix}" for kind in SCRATCH}
        for kind, columns in SCRATCH.items():
            # Log, not Memory: the mutation reads these in the background, maybe after a restart.
            store.execute(f"CREATE TABLE {self.names[kind]} ({columns}) ENGINE = Log")

    def drop(self):
        for name in self.names.values():
            self.store.execute(f"DROP TABLE IF EXISTS {name}")


def _month(store, params, scratch):
    """Classify one month's inputs into the scratch tables, note the visitors whose touchpoints
    change, and start the month's mutation; a summary."""
    targets = {}  # (channel, source) -> number in the mutation
    keys = []
    for key, event_type, medium, utm_source, ref_host, ref_path, host, click_ids in store.query(
            f"SELECT DISTINCT {KEY}, {', '.join(INPUTS)} FROM events WHERE {MONTH}", params):
        origin = classify(event_type, medium, utm_source, ref_host, ref_path or "/", host, tuple(click_ids))
        keys.append((key, targets.setdefault(origin, len(targets) + 1)))
    if not keys:
        return "nothing to reclassify (only the server API's touchpoints)"
    store.insert(scratch.names["keys"], ["key", "target"], keys)
    agents = _changed_agents(store, params)
    store.insert(scratch.names["agents"], ["user_agent", "is_bot", "device"], agents)
    assignments, more = new_values(scratch.names, targets, {a[2] for a in agents})
    params = {**params, **more}
    changed = " OR ".join(f"{column} != {value}" for column, value in assignments.items())
    store.execute(f"""INSERT INTO {scratch.names['visitors']}
        SELECT DISTINCT site, visitor_id, user_id FROM events WHERE {MONTH} AND ({changed})""", params)
    updates = ",\n        ".join(f"{column} = {value}" for column, value in assignments.items())
    store.execute(f"ALTER TABLE events UPDATE\n        {updates}\n        WHERE {MONTH}", params)
    return (f"{len(keys)} distinct origins into {len(targets)} (channel, source) pairs, "
            f"{len(agents)} user agents with a new bot flag")


def _changed_agents(store, params):
    """(user agent, is_bot, device) of the month's user agents whose bot flag changes."""
    rows = store.query(f"""SELECT DISTINCT user_agent, is_bot FROM events
        WHERE {MONTH} AND user_agent != ''""", params)
    changed = []
    for user_agent, was_bot in rows:
        _, _, device, bot = parse_user_agent(user_agent)
        if bot != was_bot:
            changed.append((user_agent, bot, device))
    return changed


def new_values(names, targets, devices):
    """{column: SQL of its new value} for channel, source, is_bot and device of a row, from the
    scratch tables, and their parameters: ``targets`` numbers each (channel, source) pair,
    ``devices`` are the device classes of user agents that stop being bots."""
    number = ("toUInt32(multiIf(" + "".join(f"{KEY} IN (SELECT key FROM {names['keys']} WHERE target = {n}), {n}, "
                                            for n in targets.values()) + "0))")
    ids = f"CAST([{', '.join(str(n) for n in targets.values())}] AS Array(UInt32))"
    agents = names["agents"]
    is_bot = f"user_agent IN (SELECT user_agent FROM {agents} WHERE is_bot = %(bot)s)"
    params = {"channels": [t[0] for t in targets], "sources": [t[1] for t in targets], "bot": 1, "human": 0,
              "bot_device": "bot"}
    unbotted = ""
    for i, device in enumerate(sorted(devices - {"bot"})):
        params[f"device{i}"] = device
        unbotted += (f"user_agent IN (SELECT user_agent FROM {agents} WHERE is_bot = 0 "
                     f"AND device = %(device{i})s), %(device{i})s, ")
    return {
        "channel": f"transform({number}, {ids}, %(channels)s, channel)",
        "source": f"transform({number}, {ids}, %(sources)s, source)",
        "is_bot": f"multiIf({is_bot}, 1, {is_bot.replace('%(bot)s', '%(human)s')}, 0, is_bot)",
        "device": f"multiIf({is_bot}, %(bot_device)s, {unbotted}device)",
    }, params


def wait_for_mutations(store, table, timeout=WAIT_SECONDS):
    """Block until no mutation of ``table`` is left to do (both backends run them in the background)."""
    deadline = time.monotonic() + timeout
    while store.query("""SELECT count() FROM system.mutations
            WHERE database = currentDatabase() AND table = %(t)s AND is_done = 0""", {"t": table}).scalar():
        if time.monotonic() > deadline:
            raise TimeoutError(f"mutations of {table} still running after {timeout} s; see system.mutations")
        time.sleep(0.2)


def rebuild_overview(store, params):
    """Recompute the overview's daily rows of one site and month from ``events``."""
    where = "site = %(site)s AND toYYYYMM(event_time) = %(month)s"
    for table in OVERVIEW_TABLES:
        store.execute(f"ALTER TABLE {table} DELETE WHERE site = %(site)s AND toYYYYMM(day) = %(month)s", params)
    for table in OVERVIEW_TABLES:
        wait_for_mutations(store, table)
    for table, select in OVERVIEW_TABLES.items():
        store.execute(f"INSERT INTO {table} {select.format(where=where)}", params)
