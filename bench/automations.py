"""Automation figures: how fast deliveries go out to a local receiver, how long a recorded
transition waits for its webhook, and the server time of the pages that read transitions
(Recently moved, the day-0 view) with the transitions of 10M touchpoints.

    .venv/bin/python bench/automations.py                  # server and embedded, 10M touchpoints
    .venv/bin/python bench/automations.py --rows 1000000 --backend server

The receiver is a separate process (a plain HTTP server on 127.0.0.1 answering 204 and writing
when each delivery arrived). The pages' transitions are generated inside ClickHouse (numbers()
and hashes): 20 touchpoints a person, so 10M touchpoints are 500,000 people and their runs.
Printed, not asserted.
"""
import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.pages import login  # noqa: E402
from tracker import close_app, create_app  # noqa: E402
from tracker.automations import Automations, definitions, outbox  # noqa: E402
from tracker.automations.sender import Sender  # noqa: E402
from tracker.clock import DAY_MS, now_ms  # noqa: E402
from tracker.ingest.touchpoints import EVENT_COLUMNS  # noqa: E402
from tracker.journeys import definitions as journeys  # noqa: E402
from tracker.journeys import state  # noqa: E402
from tracker.store.sites import create_site  # noqa: E402
from tracker.worker import JourneyWorker  # noqa: E402

GOAL_PAGE_MS = 300
JOURNEY = {"name": "Trial", "window_days": 14, "stall_after_days": 7, "stages": [
    {"name": "Home", "match": {"type": "pageview", "path": "/"}},
    {"name": "Pricing", "match": {"type": "pageview", "path": "/pricing"}},
    {"name": "Sign up", "match": {"type": "signup"}},
    {"name": "Purchase", "match": {"type": "purchase"}}]}

RECEIVER = r"""
import sys, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
out = open(sys.argv[1], "a", buffering=1)
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"
    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length", 0)))
        out.write(f"{self.headers.get('webhook-id')} {time.time() * 1000:.0f}\n")
        self.send_response(204)
        self.end_headers()
    def log_message(self, *a):
        pass
ThreadingHTTPServer.request_queue_size = 256  # the default 5 drops connections at 32 senders
server = ThreadingHTTPServer(("127.0.0.1", 0), H)
server.daemon_threads = True
print(server.server_port, flush=True)
server.serve_forever()
"""

# Each person's run: entered stage 1, and further with falling odds, a day or two apart; those
# who stop drop when the 14-day window closes (if it has by now). Over the last 26 weeks.
TRANSITIONS = """
INSERT INTO journey_transitions (id, site, journey_id, person, kind, run_ms, from_stage, to_stage, at_ms,
    detected_ms, dwell_ms, cause_event_id, cause_type, cause_name, cause_url, cause_channel, cause_campaign, build)
SELECT concat(person, '-', kind, toString(j)), %(site)s, 'trial', person, kind, run, {from_stage}, {to_stage},
       at, at, 0, '', {cause_type}, '', '', ['direct', 'paid', 'email', 'social'][p %% 4 + 1], '', %(build)s
FROM (
    SELECT number AS p, concat('u', toString(number)) AS person,
           %(now)s - 182 * 86400000 + cityHash64(number) %% (182 * 86400000) AS run,
           1 + (cityHash64(number, 1) %% 100 < 50) + (cityHash64(number, 1) %% 100 < 20)
             + (cityHash64(number, 1) %% 100 < 5) AS reached,
           arrayMap(i -> run + i * (86400000 + cityHash64(number, i) %% 172800000), range(reached)) AS times
    FROM numbers(%(people)s))
{shape}
WHERE at <= %(now)s"""
ENTERED = dict(from_stage="toUInt8(j - 1)", to_stage="toUInt8(j)", cause_type="'pageview'",
               shape="ARRAY JOIN arrayEnumerate(times) AS j, times AS at, arrayResize(['entered'], length(times), 'entered') AS kind")
DROPPED = dict(from_stage="toUInt8(reached)", to_stage="toUInt8(reached)", cause_type="''",
               shape="ARRAY JOIN [reached] AS j, [run + 14 * 86400000] AS at, ['dropped'] AS kind")


def start_receiver(log):
    process = subprocess.Popen([sys.executable, "-c", RECEIVER, str(log)], stdout=subprocess.PIPE, text=True)
    return process, int(process.stdout.readline())


def arrivals(log):
    """{webhook-id: arrival ms} (the first arrival of each)."""
    found = {}
    for line in Path(log).read_text().splitlines():
        delivery, at = line.split()
        found.setdefault(delivery, int(at))
    return found


def automation(store, site, url, when):
    body = {"name": "bench", "journey": "trial", "when": when, "webhook": {"url": url}, "enabled": True}
    loaded = definitions.validate_definition(body, journeys.get(store, site, "trial"))
    definitions.save(store, site, "bench", loaded)
    return definitions.get(store, site, "bench")


def throughput(store, url, log, n):
    """Deliveries a second from the outbox to the receiver, ``n`` of them."""
    site = create_site(store, "Throughput", [])["site"]
    journeys.save(store, site, "trial", journeys.validate_definition(JOURNEY))
    automation(store, site, url, {"entered": 1})
    now = now_ms()
    outbox.write(store, [outbox.new_delivery(site, "bench", f"p{i}", definitions.signature(
        definitions.get(store, site, "bench")["definition"]), 1, now + i, now, now, '{"type": "bench"}', now)
        for i in range(n)])
    sender = Sender(store, allow_private=True, threads=32, budget_seconds=5.0)
    began = time.perf_counter()
    while sender.totals["delivered"] < n and time.perf_counter() - began < 120:
        sender.run()
    elapsed = time.perf_counter() - began
    sender.close()
    print(f"  deliveries to a local receiver   {sender.totals['delivered']:,} in {elapsed:.1f} s = "
          f"{sender.totals['delivered'] / elapsed:,.0f}/s   (goal ≥ 200/s)")


def latency(store, url, log, people, seconds):
    """From a transition recorded (its detected time) to its webhook arriving, with the journey
    worker running as it does in ``tracker serve``."""
    site = create_site(store, "Latency", [])["site"]
    journeys.save(store, site, "trial", journeys.validate_definition(JOURNEY))
    automation(store, site, url, {"entered": 1})
    worker = JourneyWorker(store, automations=Automations(store, allow_private=True)).start()
    inserted = {}
    try:
        time.sleep(3)  # its first rounds build the (empty) journey
        per_batch = max(1, people // (seconds * 5))
        for batch in range(seconds * 5):
            rows, moment = [], now_ms()
            for i in range(per_batch):
                person = f"l{batch}-{i}"
                values = dict.fromkeys(EVENT_COLUMNS, "")
                values.update(site=site, event_id=person, event_time=moment // 1000, event_ms=moment % 1000,
                              received_at=moment // 1000, visitor_id=person, type="pageview", path="/",
                              is_bot=0, prop_keys=[], prop_values=[])
                rows.append(tuple(values[c] for c in EVENT_COLUMNS))
                inserted[person] = moment
            store.insert("events", EVENT_COLUMNS, rows)
            time.sleep(0.2)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if outbox.counts(store, site, "bench").get("delivered", 0) >= len(inserted):
                break
            time.sleep(0.5)
    finally:
        worker.stop()
    arrived = arrivals(log)
    rows, _ = outbox.listing(store, site, "bench", limit=100_000)
    detected = dict(((p, at), d) for p, at, d in store.query(
        "SELECT person, at_ms, min(detected_ms) FROM journey_transitions WHERE site = %(s)s AND kind = 'entered' "
        "GROUP BY person, at_ms", {"s": site}))
    waits = sorted(arrived[r["delivery_id"]] - detected[(r["person"], r["at_ms"])] for r in rows
                   if r["delivery_id"] in arrived)
    lags = sorted(detected[(r["person"], r["at_ms"])] - inserted[r["person"]] for r in rows if r["person"] in inserted)
    if not waits:
        print("  transition → webhook             nothing arrived")
        return
    p95 = waits[int(0.95 * (len(waits) - 1))]
    print(f"  transition recorded → webhook    median {statistics.median(waits):7.0f} ms   p95 {p95:7.0f} ms   "
          f"({len(waits):,} of {len(inserted):,} people; goal p95 < 5000 ms)")
    print(f"  (the worker's own lag: touchpoint → transition recorded, median {statistics.median(lags):.0f} ms, "
          f"p95 {lags[int(0.95 * (len(lags) - 1))]:.0f} ms)")


def pages(app, rows, runs):
    """Server time of Recently moved and the day-0 view over the transitions of ``rows`` touchpoints."""
    store = app.extensions["store"]
    site = create_site(store, "Pages", [])["site"]
    journey = journeys.validate_definition(JOURNEY)
    journeys.save(store, site, "trial", journey)
    build = state.build_of(dict(journey, id="trial"))
    params = {"site": site, "build": build, "now": now_ms(), "people": rows // 20}
    began = time.perf_counter()
    for shape in (ENTERED, DROPPED):
        store.execute(TRANSITIONS.format(**shape), params)
    state.record_build(store, site, "trial", build, "ready", persons=params["people"])
    count = store.query("SELECT count() FROM journey_transitions WHERE site = %(s)s", {"s": site}).scalar()
    print(f"  {count:,} transitions of {params['people']:,} people generated in {time.perf_counter() - began:.1f} s")
    client = login(app, site)
    base = f"/dashboard/{site}"
    for label, path in (("Recently moved (7 days)", f"{base}/moved"),
                        ("Recently moved, dropped, 90 days", f"{base}/moved?journey=trial&kind=dropped&days=90"),
                        ("Recently moved, stage 3, 30 days", f"{base}/moved?journey=trial&stage=3&days=30"),
                        ("day-0 view (8 weeks)", f"{base}/journeys/trial/day0"),
                        ("day-0 view (26 weeks)", f"{base}/journeys/trial/day0?weeks=26&stage=2")):
        times = []
        for _ in range(runs + 1):
            start = time.perf_counter()
            response = client.get(path)
            times.append((time.perf_counter() - start) * 1000)
            assert response.status_code == 200, (path, response.status_code)
        times = sorted(times[1:])
        median = statistics.median(times)
        print(f"  {'ok ' if median < GOAL_PAGE_MS else 'SLOW'} {label:34} median {median:7.1f} ms   "
              f"p90 {times[int(0.9 * (len(times) - 1))]:7.1f} ms")


def run(kind, config, args, log, url):
    print(f"\n== {kind}", flush=True)
    app = create_app(dict(config, journey_worker=False))
    store = app.extensions["store"]
    try:
        throughput(store, url, log, args.deliveries)
        latency(store, url, log, args.people, args.seconds)
        pages(app, args.rows, args.runs)
    finally:
        close_app(app)
        store.execute(f"DROP DATABASE IF EXISTS `{store.database}`")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=10_000_000, help="touchpoints whose transitions the pages read")
    parser.add_argument("--deliveries", type=int, default=3000)
    parser.add_argument("--people", type=int, default=600, help="people entering during the latency run")
    parser.add_argument("--seconds", type=int, default=15, help="how long people keep entering")
    parser.add_argument("--runs", type=int, default=7, help="requests per page")
    parser.add_argument("--backend", choices=["server", "embedded", "both"], default="both")
    parser.add_argument("--url", default="clickhouse://default@127.0.0.1:9000", help="ClickHouse server")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-automations-"))
    log = folder / "arrivals.log"
    receiver, port = start_receiver(log)
    url = f"http://127.0.0.1:{port}/hook"
    database = "bench_automations"
    try:
        if args.backend in ("server", "both"):
            run("server (ClickHouse 18.16)", {"clickhouse_url": f"{args.url}/{database}", "data_dir": str(folder)},
                args, log, url)
        if args.backend in ("embedded", "both"):
            run("embedded (chDB)", {"clickhouse_url": "", "data_dir": str(folder / "embedded"), "database": database},
                args, log, url)
    finally:
        receiver.terminate()


if __name__ == "__main__":
    main()
