"""Ingest benchmarks against a real ClickHouse server under gunicorn, load from wrk on loopback.

Prints: the pixel's requests/s as a ratio to a bare Flask endpoint with the same gunicorn
settings (goal ≥ 0.8), events/s through /collect in batches of 20 (goal ≥ 20,000), and
seconds from a 202 to the row being queryable (goal ≤ 2). Also what operating it costs: the
rate limits' check per pixel hit (in-process, and the pixel's req/s with the limits on against
off), and the spool's fsync (group commit) on /collect (on against off).
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tracker.store.server import ServerBackend  # noqa: E402
from tracker.store.sites import create_site  # noqa: E402
from tracker.store.migrations import migrate  # noqa: E402

CHROME = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36"


def gunicorn(module, port, env, workers, threads):
    """Start gunicorn serving ``module``; return the process once it answers."""
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--workers", str(workers), "--threads", str(threads),
         "--bind", f"127.0.0.1:{port}", "--config", "python:tracker.gunicorn_conf", module],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    for _ in range(300):
        try:
            requests.get(f"http://127.0.0.1:{port}/p.gif", timeout=1)
            return process
        except requests.RequestException:
            time.sleep(0.1)
    raise SystemExit(f"{module} did not start")


def stop(process):
    os.killpg(process.pid, 15)
    process.wait(30)


def wrk(url, seconds, connections, script=None):
    """Requests per second that wrk measured."""
    args = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "-H", f"User-Agent: {CHROME}"]
    if script:
        args += ["-s", script]
    output = subprocess.run(args + [url], capture_output=True, text=True, check=True).stdout
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if non_2xx:
        raise SystemExit(f"wrk saw {non_2xx.group(1)} error responses:\n{output}")
    return float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))


def collect_script(site, batch):
    body = json.dumps({"site": site, "vid": "bench-visitor", "events": [
        {"type": "pageview", "url": f"https://example.com/page/{i}?utm_source=bench", "ref": "https://www.google.com/"}
        for i in range(batch)]})
    script = tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False)
    script.write(f'wrk.method = "POST"\nwrk.body = {json.dumps(body)}\n'
                 f'wrk.headers["Content-Type"] = "text/plain"\n')
    script.close()
    return script.name


def latency(base, store, site, samples):
    """Seconds from a 202 to the row being returned by a query, per sample."""
    found = []
    for _ in range(samples):
        eid = uuid.uuid4().hex
        requests.post(base + "/collect", data=json.dumps({"site": site, "vid": "latency", "events": [
            {"type": "pageview", "url": "https://example.com/", "eid": eid}]}), headers={"User-Agent": CHROME}
        ).raise_for_status()
        accepted = time.monotonic()
        while not store.query("SELECT count() FROM events WHERE event_id = %(e)s", {"e": eid}).scalar():
            time.sleep(0.01)
        found.append(time.monotonic() - accepted)
        time.sleep(0.3)  # land at different points of the flush interval
    return found


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clickhouse", default="clickhouse://default@127.0.0.1:9000")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0", help="the rate limits' shared counters")
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()

    database = "bench_" + uuid.uuid4().hex[:8]
    url = f"{args.clickhouse}/{database}"
    store = ServerBackend(url)
    migrate(store)
    site = create_site(store, "Bench", [])["site"]
    data_dir = tempfile.mkdtemp(prefix="tracker-bench-")
    # Limits on but out of reach: the pixel pays for the check, never for a refusal.
    env = dict(os.environ, TRACKER_CLICKHOUSE_URL=url, TRACKER_DATA_DIR=data_dir, TRACKER_MAX_EVENTS="100",
               TRACKER_RATE_LIMIT_STORAGE=args.redis, TRACKER_LIMIT_PER_IP="100000000/second",
               TRACKER_LIMIT_PER_SITE="100000000/second")
    settings = (args.workers, args.threads)

    bare = gunicorn("bench.bare_app:app", 8301, env, *settings)
    app = gunicorn("wsgi:app", 8302, env, *settings)
    try:
        bare_url = "http://127.0.0.1:8301/p.gif"
        pixel_url = (f"http://127.0.0.1:8302/p.gif?site={site}&type=email_open&uid=reader-1"
                     f"&utm_source=newsletter&utm_campaign=bench")
        wrk(bare_url, 2, args.connections)  # warm up both
        wrk(pixel_url, 2, args.connections)
        # Alternate short runs so that a change in the machine's load hits both sides alike.
        pairs = []
        for _ in range(args.rounds):
            bare_rps = wrk(bare_url, args.seconds, args.connections)
            pixel_rps = wrk(pixel_url, args.seconds, args.connections)
            pairs.append((bare_rps, pixel_rps))
        ratio = statistics.median(p / b for b, p in pairs)
        bare_rps = statistics.median(b for b, _ in pairs)
        pixel_rps = statistics.median(p for _, p in pairs)
        script = collect_script(site, 20)
        collect_rps = wrk("http://127.0.0.1:8302/collect", args.seconds * 2, args.connections, script)
        time.sleep(3)
        delays = latency("http://127.0.0.1:8302", store, site, 15)
        stop(bare)
        bare = gunicorn("wsgi:app", 8301, dict(env, TRACKER_LIMIT_PER_IP="off", TRACKER_LIMIT_PER_SITE="off"), *settings)
        unlimited_url = pixel_url.replace(":8302/", ":8301/")
        limit_pairs = [(wrk(unlimited_url, args.seconds, args.connections), wrk(pixel_url, args.seconds, args.connections))
                       for _ in range(args.rounds)]
        stop(bare)
        bare = gunicorn("wsgi:app", 8301, dict(env, TRACKER_SPOOL_FSYNC="0"), *settings)
        fsync_pairs = [(wrk("http://127.0.0.1:8301/collect", args.seconds, args.connections, script),
                        wrk("http://127.0.0.1:8302/collect", args.seconds, args.connections, script))
                       for _ in range(args.rounds)]
    finally:
        stop(bare)
        stop(app)
        store.execute(f"DROP DATABASE IF EXISTS `{database}`")
    check_us = limiter_check_us(args.redis)

    print(f"ingest: gunicorn {args.workers} workers x {args.threads} threads, wrk {args.connections} connections, "
          f"{args.seconds}s per run, ClickHouse server")
    print(f"  bare Flask GIF endpoint         {bare_rps:10.0f} req/s (baseline)")
    print(f"  /p.gif pixel                    {pixel_rps:10.0f} req/s  ratio {ratio:.2f} (median of {args.rounds} "
          f"alternating pairs; goal >= 0.8)")
    print("    pairs (bare, pixel): " + ", ".join(f"({b:.0f}, {p:.0f})" for b, p in pairs))
    print(f"  /collect, batches of 20         {collect_rps * 20:10.0f} events/s ({collect_rps:.0f} req/s; goal >= 20000)")
    print(f"  202 -> queryable                median {statistics.median(delays):.2f} s, "
          f"max {max(delays):.2f} s over {len(delays)} (goal <= 2)")
    off, on = (statistics.median(x) for x in zip(*limit_pairs))
    print(f"  rate limits' check              {check_us:10.2f} us per pixel hit (per-site + per-address, "
          f"in-process, Redis-backed counters)")
    print(f"  /p.gif limits off -> on         {off:10.0f} -> {on:.0f} req/s  ratio {on / off:.2f} "
          f"(cost {max(0.0, 1e6 / on - 1e6 / off) * args.workers:.1f} us per hit of worker time)")
    unsynced, synced = (statistics.median(x) for x in zip(*fsync_pairs))
    print(f"  /collect fsync off -> on        {unsynced * 20:10.0f} -> {synced * 20:.0f} events/s  ratio "
          f"{synced / unsynced:.2f} (TRACKER_SPOOL_FSYNC, group commit)")


def limiter_check_us(redis_url, checks=200_000):
    """Microseconds of one ingest check (site and address limits) far below its limits."""
    from tracker.bounds import Bounds
    from tracker.bounds.counters import WindowCounters
    from tracker.bounds.tally import open_tally

    bounds = Bounds(WindowCounters(open_tally(redis_url), "bench-" + uuid.uuid4().hex[:6]),
                    "100000000/second", "100000000/second")
    try:
        started = time.perf_counter()
        for i in range(checks):
            bounds.ingest("site", "client")
        return (time.perf_counter() - started) / checks * 1e6
    finally:
        bounds.close()


if __name__ == "__main__":
    main()
