"""Journey figures on the ClickHouse server and on embedded chDB: the live engine (the funnel API
against the bare SQL it runs), journey state (its build against the live funnel, its reads
against raw windowFunnel, the worker's catch-up rate, a touchpoint's way from 202 to the
person's stage under load), a person's page, a people-list page and a search.

    .venv/bin/python bench/journeys.py                 # 10M touchpoints of 1M people
    .venv/bin/python bench/journeys.py --rows 200000   # a quick run

Touchpoints are generated inside ClickHouse (numbers() and hashes), once per database;
later runs reuse them. Printed, not asserted. A figure whose query goes over the engine's
limits (``QUERY_SETTINGS``: 30 s, 4 GB) is printed as failed, with the reason.
"""
import argparse
import logging
import statistics
import sys
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tracker import close_app, create_app  # noqa: E402
from tracker.journeys import definitions, engine, reports, state  # noqa: E402
from tracker.worker import JourneyWorker  # noqa: E402
from tracker.worker.journey import derive_history, rebuild_states  # noqa: E402
from tracker.journeys.engine import QUERY_SETTINGS, Query  # noqa: E402
from tracker.store.backend import StoreError  # noqa: E402
from tracker.store.sites import create_token  # noqa: E402

SITE = "bench"
REDIS = "redis://127.0.0.1:6379/0"  # the rate limits' counters (make bench starts it)
DAY_S = 86_400
BASE_S = 1_700_000_000
STAGES = ["destination", "compare", "book", "prepare", "travel"]
JOURNEY = {"name": "Trip", "window_days": 14, "stall_after_days": 7, "order": "ordered", "exclude": [],
           "stages": [{"name": n, "match": {"type": "pageview", "name": n}} for n in STAGES]}

# Each person has ten touchpoints; the k-th tends to be stage k//2 and drops off at random.
EVENTS_SQL = """
INSERT INTO events (site, event_id, event_time, event_ms, received_at, visitor_id, session_id, user_id,
    type, name, url, host, path, channel, utm_source, utm_campaign, browser, os, device, is_bot,
    prop_keys, prop_values)
SELECT 'bench', toString(number), toDateTime({base} + p % (30 * 86400) + (number % 10) * 3600 * (1 + h % 5)),
    toUInt16(h % 1000), toDateTime({base}), concat('v', toString(p)), concat('s', toString(p), '-', toString(number % 10 > 4)),
    if(p % 3 = 0, concat('user', toString(p)), ''), 'pageview',
    if(h % 100 < 100 - 12 * (number % 10), [{names}][1 + intDiv(number % 10, 2)], 'other'),
    '', 'example.com', '/', ['direct', 'email', 'paid', 'social'][1 + h % 4], '', ['spring', 'summer', ''][1 + h % 3],
    'Firefox', 'Linux', ['desktop', 'mobile'][1 + h % 2], 0, [], []
FROM (SELECT number, intDiv(number, 10) AS p, cityHash64(number) AS h FROM numbers({rows}))
"""
PERSONS_SQL = """
INSERT INTO persons (site, user_id, trait_keys, trait_values, updated_at, updated_ms)
SELECT 'bench', concat('user', toString(p)), ['email', 'name', 'company'],
    [concat('user', toString(p), '@example.com'), concat('Person ', toString(p)), concat('Company ', toString(p % 5000))],
    toDateTime({base}), 0
FROM (SELECT number * 3 AS p FROM numbers({people}))
"""
# The visitor that made a known person's touchpoints is linked to them (as an identify
# does), so a person's page finds that visitor and rebuilds a real timeline.
IDENTITIES_SQL = """
INSERT INTO identities (site, visitor_id, user_id, linked_at)
SELECT 'bench', concat('v', toString(p)), concat('user', toString(p)), toDateTime({base})
FROM (SELECT number * 3 AS p FROM numbers({people}))
"""
WINDOW_FUNNEL_SQL = """
SELECT level, count() FROM (
    SELECT visitor_id, windowFunnel(1209600)(event_time, {conds}) AS level
    FROM events WHERE site = 'bench' AND is_bot = 0 GROUP BY visitor_id)
GROUP BY level ORDER BY level"""


# The generated touchpoints' days, whole (UTC).
WHOLE_DAYS = (f"from={datetime.fromtimestamp(BASE_S, timezone.utc).date()}"
              f"&to={datetime.fromtimestamp(BASE_S + 45 * DAY_S, timezone.utc).date()}")


class Failed(Exception):
    """A figure that could not be measured (a query over its time or memory limit)."""


SLOW_S = 5  # a figure slower than this is measured once, so that 10M rows stay a short run


def timed(fn, runs):
    """Seconds of each run; Failed at the first run that fails (no point in repeating it)."""
    times = []
    while len(times) < runs and sum(times) < SLOW_S:
        start = time.perf_counter()
        try:
            fn()
        except (StoreError, AssertionError) as exc:
            raise Failed(f"failed after {time.perf_counter() - start:.1f} s: "
                         f"{str(exc).splitlines()[-1][:120]}") from None
        times.append(time.perf_counter() - start)
    return times


def report(label, fn, runs, note=lambda m: ""):
    """Print the median of ``fn`` over ``runs`` (or why it has none); return it or None."""
    try:
        m = statistics.median(timed(fn, runs))
    except Failed as exc:
        print(f"{label:26} {exc}")
        return None
    print(f"{label:26} median {m * 1000:8.1f} ms{note(m)}")
    return m


def generate(store, rows):
    have = store.query("SELECT count() FROM events WHERE site = 'bench'").scalar()
    linked = store.query("SELECT count() FROM identities WHERE site = 'bench' AND visitor_id = 'v0'").scalar()
    if have == rows and linked:
        return False
    for table in ("events", "persons", "identities", "identities_by_user", "journey_state", "journey_tally",
                  "journey_people", "journey_people_hours", "journey_transitions", "journey_builds", "person_search"):
        store.execute(f"TRUNCATE TABLE {table}")
    store.execute(EVENTS_SQL.format(base=BASE_S, rows=rows, names=", ".join(f"'{n}'" for n in STAGES)))
    people = rows // 10 // 3
    store.execute(PERSONS_SQL.format(base=BASE_S, people=people))
    store.execute(IDENTITIES_SQL.format(base=BASE_S, people=people))
    store.execute("TRUNCATE TABLE journey_changes")  # generated data, not arrivals for the worker
    return True


# New touchpoints for the catch-up figure: ten per person for people p ≥ ``first`` (new visitors).
MORE_SQL = """
INSERT INTO events (site, event_id, event_time, event_ms, received_at, visitor_id, session_id, user_id,
    type, name, url, host, path, channel, browser, os, device, is_bot, prop_keys, prop_values)
SELECT 'bench', concat('more-', toString(number)), toDateTime({now} - 3600 + number % 3600), toUInt16(number % 1000),
    toDateTime({now}), concat('v', toString({first} + intDiv(number, 10))), '', '', 'pageview',
    [{names}][1 + intDiv(number % 10, 2)], '', 'example.com', '/', 'direct', 'Firefox', 'Linux', 'desktop', 0, [], []
FROM numbers({rows})
"""


@contextmanager
def timed_statements(store):
    """The INSERTs ``store.execute`` runs meanwhile, as [(table, seconds)] (the server keeps
    no query log in the test set-up, so statements are timed here)."""
    statements, execute = [], store.execute

    def timed(sql, *args, **kwargs):
        started = time.perf_counter()
        try:
            return execute(sql, *args, **kwargs)
        finally:
            words = sql.split()
            if words[:2] == ["INSERT", "INTO"]:
                statements.append((words[2], time.perf_counter() - started))

    store.execute = timed
    try:
        yield statements
    finally:
        del store.execute  # the bound method again


def journey_state_figures(store, client, headers, rows, runs, live, history=True):
    """Build the journey's state (timed against the live funnel, ``live``: {label: seconds}),
    then read from it."""
    journey = definitions.get(store, SITE, "trip")
    build = state.build_of(journey)
    started = time.perf_counter()
    with timed_statements(store) as statements:
        persons = rebuild_states(store, SITE, journey, build)
    built = time.perf_counter() - started
    ratios = "".join(f"   build/{label} = {built / seconds:.2f}" for label, seconds in live.items() if seconds)
    print(f"{'state build (readable)':26} {built * 1000:8.1f} ms   ({persons:,} people, state and sums){ratios}")
    for table, seconds in statements:  # where a build's time goes: the next cut starts here
        print(f"{'  of it, ' + table:26} {seconds * 1000:8.1f} ms")
    if history:
        started, cursor = time.perf_counter(), {}
        while not derive_history(store, SITE, journey, build, state.build_status(store, SITE, journey),
                                 budget_seconds=60, cursor=cursor):
            pass
        took = time.perf_counter() - started
        print(f"{'history of stage changes':26} {took:8.1f} s   ({persons / took:,.0f} people/s, in the background: "
              f"reads use the state meanwhile)")

    window = WHOLE_DAYS  # as the dashboards ask, and the API by default: whole days, from the sums
    conds = ", ".join(f"type = 'pageview' AND name = '{n}'" for n in STAGES)
    raw_m = report("raw windowFunnel", lambda: store.query(WINDOW_FUNNEL_SQL.format(conds=conds)), runs)

    def get(url):
        response = client.get(url, headers=headers)
        assert response.status_code == 200 and response.json.get("source", "state") == "state", response.json

    note = (lambda m: f"   state/raw = {m / raw_m:.2f}") if raw_m else (lambda m: "")
    report("funnel API from state", lambda: get(f"/api/v1/sites/{SITE}/journeys/trip/funnel?{window}"), runs, note)
    report("funnel by channel", lambda: get(f"/api/v1/sites/{SITE}/journeys/trip/funnel?{window}&breakdown=channel"),
           runs, note)
    report("people list (50), state", lambda: get(f"/api/v1/sites/{SITE}/journeys/trip/people?status=dropped"
                                                   f"&stage=2&limit=50"), runs, lambda m: "   (dropped after stage 2)")
    report("people list (50), state", lambda: get(f"/api/v1/sites/{SITE}/journeys/trip/people?status=stalled"
                                                   f"&stage=1&limit=50&{WHOLE_DAYS}"), runs,
           lambda m: "   (stalled at or after stage 1, a range of days)")
    person_pages(client, headers, rows, "person page, state")
    report("search by email, state", lambda: get(f"/api/v1/sites/{SITE}/people?q=user{rows // 10 // 2 // 3 * 3}@"),
           runs)

    worker = JourneyWorker(store)
    worker.run_once()  # takes the lease, marks the build as it stands
    more = max(rows // 100, 10_000)
    now = int(time.time())
    store.execute(MORE_SQL.format(now=now, first=rows // 10 - more // 20, rows=more,
                                  names=", ".join(f"'{n}'" for n in STAGES)))
    started = time.perf_counter()
    while worker.run_once()["persons"]:
        pass
    took = time.perf_counter() - started
    print(f"{'worker catch-up':26} {more / took:8.0f} touchpoints/s   ({more:,} new touchpoints of "
          f"{more // 10:,} people, half of them new)")
    worker.stop()
    # The people who came back were the newest stalled: their old rows and the copies that took
    # them back stay at the top of the list until ClickHouse merges them.
    taken_back = store.query("SELECT -sum(n) FROM journey_people WHERE site = %(site)s AND n < 0",
                             {"site": SITE}).scalar()
    report("people list (50), state", lambda: get(f"/api/v1/sites/{SITE}/journeys/trip/people?status=stalled"
                                                   f"&stage=1&limit=50&{WHOLE_DAYS}"), runs,
           lambda m: f"   (the same, after the catch-up: {taken_back:,} rows taken back, unmerged)")
    person_pages(client, headers, rows, "person page, catch-up")  # journey_state's parts unmerged too


def freshness(app, client, seconds=30, rate=5000):
    """While /api/v1/touchpoints takes ``rate`` touchpoints/s, seconds from a probe's 202 to the
    probe person's stage in journey state (the app's own journey worker running)."""
    import threading

    store = app.extensions["store"]
    site = create_site_for_bench(app)
    definitions.save(store, site["site"], "fresh", definitions.validate_definition(
        {"name": "Fresh", "window_days": 1, "stages": [{"name": "seen", "match": {"type": "pageview"}}]}))
    headers = {"Authorization": "Bearer " + site["secret"]}
    stop, sent, lags = threading.Event(), [0], []

    def load():
        batch, interval = 100, 100 / rate
        n = 0
        while not stop.is_set():
            began = time.perf_counter()
            # ten touchpoints a visitor, as a visit leaves them: 500 people a second at 5,000/s
            events = [{"type": "pageview", "url": f"https://bench.example/{i}", "vid": f"load-{n}-{i // 10}"}
                      for i in range(batch)]
            client.post("/api/v1/touchpoints", json={"site": site["site"], "events": events}, headers=headers)
            sent[0] += batch
            n += 1
            time.sleep(max(0.0, interval - (time.perf_counter() - began)))

    loader = threading.Thread(target=load, daemon=True)
    loader.start()
    deadline = time.monotonic() + seconds
    probe = 0
    while time.monotonic() < deadline:
        probe += 1
        person = f"probe-{probe}"
        client.post("/api/v1/touchpoints", json={"site": site["site"], "events": [
            {"type": "pageview", "vid": person, "url": "https://bench.example/"}]}, headers=headers)
        accepted = time.perf_counter()
        while time.perf_counter() - accepted < 30:
            found = store.query("SELECT count() FROM journey_state FINAL WHERE site = %(site)s AND person = %(p)s",
                                {"site": site["site"], "p": person}).scalar()
            if found:
                lags.append(time.perf_counter() - accepted)
                break
            time.sleep(0.05)
    stop.set()
    loader.join(5)
    lags.sort()
    achieved = sent[0] / seconds
    if not lags:
        print(f"{'202 to stage (p95)':26} no probe reached its stage within 30 s, while {achieved:,.0f} "
              f"touchpoints/s arrived")
        return
    print(f"{'202 to stage (p95)':26} {lags[int(0.95 * (len(lags) - 1))]:8.2f} s   median {statistics.median(lags):.2f} s, "
          f"{len(lags)} probes, while {achieved:,.0f} touchpoints/s arrived")


def create_site_for_bench(app):
    from tracker.store.sites import create_site

    site = create_site(app.extensions["store"], "Freshness", [])
    app.extensions["tracker"].sites.refresh()
    return site


def person_pages(client, headers, rows, label, query=""):
    """The median and p95 of the API's person page over 30 known people."""
    people = rows // 10
    sample = [f"user{p}" for p in range(0, people, max(3, people // 30 // 3 * 3))][:30]
    page_t, touchpoints = [], []
    for person in sample:
        start = time.perf_counter()
        response = client.get(f"/api/v1/sites/{SITE}/people/{person}{query}", headers=headers)
        page_t.append(time.perf_counter() - start)
        if response.status_code != 200:
            print(f"{label:26} failed: {response.status_code} {response.json}")
            return
        touchpoints.append(response.json["touchpoints"])
    page_t.sort()
    print(f"{label:26} median {statistics.median(page_t) * 1000:8.1f} ms   "
          f"p95 {page_t[int(0.95 * (len(page_t) - 1))] * 1000:.1f} ms   "
          f"({len(sample)} people, {statistics.mean(touchpoints):.0f} touchpoints each)")


def run(kind, config, rows, runs, scale=False):
    """Every figure on one backend; ``scale``: only those of journey state (and the raw
    windowFunnel and live funnel they are measured against, once)."""
    app = create_app(dict(config, journey_worker=False))
    store = app.extensions["store"]
    started = time.perf_counter()
    made = generate(store, rows)
    print(f"\n== {kind}: {rows:,} touchpoints of {rows // 10:,} people "
          f"({'generated in %.1f s' % (time.perf_counter() - started) if made else 'reused'})")
    definitions.save(store, SITE, "trip", JOURNEY)
    client = app.test_client()
    headers = {"Authorization": "Bearer " + create_token(store, "bench")["token"]}
    window = f"from={BASE_S * 1000}&to={(BASE_S + 45 * DAY_S) * 1000}&as_of={(BASE_S + 60 * DAY_S) * 1000}"

    def api_funnel():
        response = client.get(f"/api/v1/sites/{SITE}/journeys/trip/funnel?{window}", headers=headers)
        assert response.status_code == 200, response.json

    journey = dict(JOURNEY, id="trip")
    q = Query(journey, SITE, BASE_S * 1000, (BASE_S + 45 * DAY_S) * 1000, (BASE_S + 60 * DAY_S) * 1000)
    sql = engine.funnel_sql(q)
    bare = lambda: store.query(sql, q.params.values, settings=QUERY_SETTINGS)  # noqa: E731
    conds = ", ".join(f"type = 'pageview' AND name = '{n}'" for n in STAGES)
    raw = lambda: store.query(WINDOW_FUNNEL_SQL.format(conds=conds))  # noqa: E731

    empty_q = Query(journey, "bench-empty", q.params.values["start"], q.params.values["end"], q.params.values["as_of"])
    empty_sql = engine.funnel_sql(empty_q)
    report("funnel SQL, empty site", lambda: store.query(empty_sql, empty_q.params.values, settings=QUERY_SETTINGS),
           runs, lambda m: "   (analysing the query, no rows)")
    api_m = None
    if not scale:  # at 100M the live engine takes minutes a query
        first = report("funnel API, first run", api_funnel, 1)
        api_m = report("funnel API (5 stages)", api_funnel, runs) if first else None
    bare_m = report("bare SQL the API runs", bare, 1 if scale else runs,
                    lambda m: f"   API/bare = {api_m / m:.2f}" if api_m else "")
    report("raw windowFunnel", raw, runs,
           lambda m: f"   (no ties, no person resolution)   bare/raw = {bare_m / m:.2f}" if bare_m else "")

    def get(url):
        response = client.get(url, headers=headers)
        assert response.status_code == 200, response.json

    live = {"live funnel": bare_m}
    if not scale:
        by_channel = Query(journey, SITE, BASE_S * 1000, (BASE_S + 45 * DAY_S) * 1000, (BASE_S + 60 * DAY_S) * 1000,
                           "channel")
        channel_sql = engine.funnel_sql(by_channel)
        live["live funnel by channel"] = report(
            "bare SQL by channel", lambda: store.query(channel_sql, by_channel.params.values, settings=QUERY_SETTINGS),
            runs)
        person_pages(client, headers, rows, "person page, live", f"?as_of={(BASE_S + 60 * DAY_S) * 1000}")
        report("people list page (50)", lambda: get(f"/api/v1/sites/{SITE}/journeys/trip/people?status=dropped"
                                                    f"&stage=2&limit=50&as_of={(BASE_S + 60 * DAY_S) * 1000}"), runs)
    journey_state_figures(store, client, headers, rows, runs, live, history=not scale)
    close_app(app)
    if scale:
        return
    # On a store of its own: the big journey's history, still being derived, is not the figure.
    fresh = dict(config, database=config.get("database", "") + "_fresh") if not config["clickhouse_url"] else \
        dict(config, clickhouse_url=config["clickhouse_url"] + "_fresh")
    scratch = create_app(dict(fresh, journey_worker=False))  # a new store each run: no backlog of the last
    scratch.extensions["store"].execute(f"DROP DATABASE IF EXISTS `{scratch.extensions['store'].database}`")
    close_app(scratch)
    fresh_app = create_app(dict(fresh, journey_worker=True, flush_seconds=0.5))
    freshness(fresh_app, fresh_app.test_client())
    close_app(fresh_app)


def main():
    logging.getLogger("tracker.requests").setLevel(logging.WARNING)  # a line per request is not a figure
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=10_000_000, help="touchpoints (10 per person)")
    parser.add_argument("--runs", type=int, default=5, help="runs per timed query")
    parser.add_argument("--backend", choices=["server", "embedded", "both"], default="both")
    parser.add_argument("--url", default="clickhouse://default@127.0.0.1:9000", help="ClickHouse server")
    parser.add_argument("--data-dir", default="data/bench", help="folder of the embedded store")
    parser.add_argument("--scale", action="store_true",
                        help="journey state's figures only (for 100M touchpoints: no live engine, history, freshness)")
    args = parser.parse_args()
    database = f"bench_journeys_{args.rows}"
    if args.backend in ("server", "both"):
        run("server (ClickHouse 18.16)", {"clickhouse_url": f"{args.url}/{database}", "rate_limit_storage": REDIS,
                                          "data_dir": args.data_dir}, args.rows, args.runs, args.scale)
    if args.backend in ("embedded", "both"):
        run("embedded (chDB)", {"clickhouse_url": "", "data_dir": args.data_dir, "database": database},
            args.rows, args.runs, args.scale)


if __name__ == "__main__":
    main()
