"""Server time of each dashboard page: the median (and 90th percentile) of several requests
made in-process through the Flask test client, so the figure is the server's work only.

    python bench/pages.py --url clickhouse://default@127.0.0.1:9000/bench_pages --generate 10000000
    python bench/pages.py --url clickhouse://…/db --site KEY --journey ID --person USER_ID

``--generate N`` fills a fresh database with N synthetic touchpoints over the last 30 days
(made inside ClickHouse by INSERT … SELECT FROM numbers(N), so 10 million take seconds), with
identities, traits and a four-stage journey, whose journey state it builds (timed) before the
pages are: the journey pages read the state, as in production once a build is ready. Goal
(issues 5 and 9): every page under 300 ms at the median.
Without ``--url`` it runs on the embedded store in a temporary folder.
"""
import argparse
import json
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tracker import close_app, create_app  # noqa: E402
from tracker.journeys import definitions, state  # noqa: E402
from tracker.store.sites import create_site  # noqa: E402
from tracker.worker.journey import rebuild_states  # noqa: E402

GOAL_MS = 300
# What a journey page says while it cannot read journey state (templates/_macros.html).
LIVE_NOTICE = b"computed from the touchpoints while the journey's state is rebuilt"
EVENTS_PER_VISITOR = 20
DAYS = 30
JOURNEY = {
    "name": "Trial", "window_days": 14, "stall_after_days": 7,
    "stages": [{"name": "Home", "match": {"type": "pageview", "path": "/"}},
               {"name": "Pricing", "match": {"type": "pageview", "path": "/pricing"}},
               {"name": "Sign up", "match": {"type": "signup"}},
               {"name": "Purchase", "match": {"type": "purchase"}}],
}

# Visitor v's k-th touchpoint (number = k * visitors + v) comes k steps after its own start.
_EVENTS = """
INSERT INTO events (site, event_id, event_time, event_ms, received_at, visitor_id, session_id, user_id,
    type, name, url, host, path, title, referrer, referrer_host, channel, utm_source, utm_medium,
    utm_campaign, utm_term, utm_content, browser, os, device, is_bot, screen, ip_hash, prop_keys, prop_values)
SELECT %(site)s, concat('e', toString(number)), t, toUInt16(number %% 1000), t,
    concat('v', toString(v)), concat('s', toString(v), '-', toString(intDiv(k, 5))),
    if(v %% 2 = 0 AND k >= 10, concat('u', toString(v)), ''),
    multiIf(k = 12 AND v %% 3 = 0, 'signup', k = 18 AND v %% 7 = 0, 'purchase', 'pageview'), '',
    concat('https://bench.example', p), 'bench.example', p, 'Page', '', '',
    ['direct', 'organic_search', 'paid', 'social', 'email', 'referral'][v %% 6 + 1],
    '', '', if(v %% 6 IN (2, 4), concat('campaign-', toString(v %% 12)), ''), '', '',
    'Chrome', 'Linux', ['desktop', 'mobile', 'tablet'][v %% 3 + 1], toUInt8(v %% 50 = 0), '', '',
    emptyArrayString(), emptyArrayString()
FROM (
    SELECT number, number %% %(visitors)s AS v, intDiv(number, %(visitors)s) AS k,
           toDateTime(%(start)s + (v * 7919) %% %(spread)s + k * %(step)s) AS t,
           ['/', '/pricing', '/blog', '/docs', '/signup'][k %% 5 + 1] AS p
    FROM numbers(%(n)s))"""

_IDENTITIES = """
INSERT INTO identities (site, visitor_id, user_id, linked_at)
SELECT %(site)s, concat('v', toString(number * 2)), concat('u', toString(number * 2)), toDateTime(%(start)s)
FROM numbers(%(users)s)"""

_PERSONS = """
INSERT INTO persons (site, user_id, trait_keys, trait_values, updated_at, updated_ms)
SELECT %(site)s, concat('u', toString(number * 2)), ['email', 'name', 'company'],
    [concat('user', toString(number * 2), '@bench.example'), concat('Person ', toString(number * 2)),
     concat('Company ', toString(number %% 997))], toDateTime(%(start)s), toUInt16(0)
FROM numbers(%(users)s)"""


def generate(app, n):
    """A site filled with ``n`` touchpoints of the last 30 days, a journey and traits."""
    store = app.extensions["store"]
    site = create_site(store, "Bench", ["bench.example"])["site"]
    visitors = max(1, n // EVENTS_PER_VISITOR)
    now = int(time.time())
    start = now - DAYS * 86400
    step = (DAYS * 86400 // 2) // EVENTS_PER_VISITOR
    params = {"site": site, "n": n, "visitors": visitors, "start": start, "spread": DAYS * 86400 // 2,
              "step": step, "users": (visitors + 1) // 2}
    began = time.perf_counter()
    store.execute(_EVENTS, params)
    store.execute(_IDENTITIES, params)
    store.execute(_PERSONS, params)
    definitions.save(store, site, "trial", definitions.validate_definition(JOURNEY))
    print(f"generated {n:,} touchpoints of {visitors:,} visitors in {time.perf_counter() - began:.1f} s",
          file=sys.stderr)
    began = time.perf_counter()
    journey = definitions.get(store, site, "trial")
    persons = rebuild_states(store, site, journey, state.build_of(journey))
    print(f"built the journey state of {persons:,} people in {time.perf_counter() - began:.1f} s", file=sys.stderr)
    return {"site": site, "journey": "trial", "person": "u2", "query": "user2"}


def pages(target):
    """(label, path) of every page to time."""
    site, journey = target["site"], target["journey"]
    base = f"/dashboard/{site}"
    listed = [("overview (30 days)", f"{base}/"), ("live count", f"{base}/live.json"),
              ("journeys", f"{base}/journeys/")]
    if journey:
        listed += [("funnel + previous period", f"{base}/journeys/{journey}/"),
                   ("funnel by channel", f"{base}/journeys/{journey}/?breakdown=channel&compare=0"),
                   ("dropped after stage 1", f"{base}/journeys/{journey}/people?stage=1&status=dropped"),
                   ("journey editor", f"{base}/journeys/{journey}/edit")]
    if target.get("query"):
        listed.append(("prospect search", f"{base}/people?q={target['query']}"))
    if target.get("person"):
        listed.append(("prospect page", f"{base}/people/{target['person']}"))
    return listed


def login(app, site):
    """A test client with the session a login to ``site`` makes (the login itself is not timed):
    an account of its own, since a session's sites are those of its account in the store."""
    from tracker.store.accounts import create_user

    email = f"bench-{site.lower()}@bench.example"
    user = create_user(app.extensions["store"], email, "a bench password", [site])
    client = app.test_client()
    with client.session_transaction() as session:
        session.update(user_id=user["user_id"], email=email, seen_at=int(time.time()), csrf="bench")
    return client


def measure(app, target, runs, only=None):
    """{label: {"median_ms", "p90_ms"}} for every page (or those whose label holds one of
    ``only``); a page that fails stops the run."""
    client = login(app, target["site"])
    results = {}
    for label, path in pages(target):
        if only and not any(word in label for word in only):
            continue
        times = []
        for _ in range(runs + 1):  # the first run warms caches and is not counted
            began = time.perf_counter()
            response = client.get(path)
            times.append((time.perf_counter() - began) * 1000)
            if response.status_code not in (200, 302):
                raise SystemExit(f"{label}: {path} answered {response.status_code}")
            if LIVE_NOTICE in response.data:  # the figure would be the live engine's
                raise SystemExit(f"{label}: {path} was computed from the touchpoints, not journey state")
        times = sorted(times[1:])
        results[label] = {"median_ms": round(statistics.median(times), 1),
                          "p90_ms": round(times[min(len(times) - 1, int(len(times) * 0.9))], 1)}
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="", help="clickhouse://… of the data (default: embedded, temporary)")
    parser.add_argument("--generate", type=int, default=0, help="first fill the database with N touchpoints")
    parser.add_argument("--site", help="site key of existing data")
    parser.add_argument("--journey", help="journey id of existing data")
    parser.add_argument("--person", help="a person's user id for the prospect page")
    parser.add_argument("--query", help="text for the prospect search")
    parser.add_argument("--runs", type=int, default=11, help="requests per page (median of these)")
    parser.add_argument("--only", help="comma-separated words: time only the pages whose label holds one")
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args(argv)
    logging.getLogger("tracker.requests").setLevel(logging.WARNING)  # a line per request is not a figure
    if not args.generate and not args.site:
        parser.error("give --site (existing data) or --generate N")
    # The rate limits' counters (make bench starts this Redis); a server store needs shared ones.
    config = {"clickhouse_url": args.url, "rate_limit_storage": "redis://127.0.0.1:6379/0" if args.url else ""}
    if not args.url:
        config.update(data_dir=tempfile.mkdtemp(prefix="bench-pages-"), database="bench_pages")
    app = create_app(dict(config, journey_worker=False))  # the build is made here, timed
    try:
        target = generate(app, args.generate) if args.generate else {
            "site": args.site, "journey": args.journey, "person": args.person, "query": args.query}
        results = measure(app, target, args.runs, args.only.split(",") if args.only else None)
    finally:
        close_app(app)
    if args.json:
        print(json.dumps(results))
        return results
    print(f"dashboard pages, server time over {args.runs} requests (goal: median < {GOAL_MS} ms)")
    for label, figures in results.items():
        flag = "ok " if figures["median_ms"] < GOAL_MS else "SLOW"
        print(f"  {flag} {label:28} median {figures['median_ms']:8.1f} ms   p90 {figures['p90_ms']:8.1f} ms")
    return results


if __name__ == "__main__":
    main()
