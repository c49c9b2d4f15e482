"""The cost of the distributed layer: the same generated touchpoints on one ClickHouse server and
on the two-shard test cluster (scripts/clickhouse-cluster.sh), the same reads and writes timed on
each, and ingest through nginx in front of two app nodes on the cluster.

    .venv/bin/python bench/cluster.py                  # 1M touchpoints of 100,000 people
    .venv/bin/python bench/cluster.py --rows 200000    # a quick run

On one 2-core machine no speed-up is to be had (both shards share the cores); the ratio
cluster / single node shows what the Distributed tables and the routing cost (goal: under 1.5).
Printed, not asserted.
"""
import argparse
import json
import os
import signal
import statistics
import string
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.ingest import collect_script, wrk  # noqa: E402
from bench.journeys import BASE_S, DAY_S, EVENTS_SQL, IDENTITIES_SQL, JOURNEY, PERSONS_SQL, SITE, STAGES  # noqa: E402
from tracker import close_app, create_app  # noqa: E402
from tracker.ingest.touchpoints import EVENT_COLUMNS  # noqa: E402
from tracker.journeys import definitions  # noqa: E402
from tracker.store.sites import create_site, create_token  # noqa: E402
from tracker.store.writer import insert_segment  # noqa: E402

SINGLE = "clickhouse://default@127.0.0.1:9000"
CLUSTER = "clickhouse://default@127.0.0.1:29101"
CLUSTER_PORTS = (29101, 29102)
REDIS = "redis://127.0.0.1:6379/0"  # the rate limits' shared counters (scripts/redis-server.sh)


def drop(database, ports):
    for port in ports:
        subprocess.run(["clickhouse-client", "--port", str(port), "-q", f"DROP DATABASE IF EXISTS {database}"],
                       check=True)


def median_ms(fn, runs):
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def fill(store, rows):
    names = ", ".join(f"'{n}'" for n in STAGES)
    store.execute(EVENTS_SQL.format(base=BASE_S, rows=rows, names=names))
    people = rows // 10 // 3
    store.execute(PERSONS_SQL.format(base=BASE_S, people=people))
    store.execute(IDENTITIES_SQL.format(base=BASE_S, people=people))


def reads_and_writes(config, rows, runs):
    """{figure: milliseconds (or rows/s)} on one target."""
    app = create_app(dict(config, journey_worker=False, rate_limit_storage=REDIS))
    store = app.extensions["store"]
    started = time.perf_counter()
    fill(store, rows)
    figures = {"generate (s)": time.perf_counter() - started}
    definitions.save(store, SITE, "trip", JOURNEY)
    client = app.test_client()
    headers = {"Authorization": "Bearer " + create_token(store, "bench")["token"]}
    as_of = (BASE_S + 60 * DAY_S) * 1000
    window = f"from={BASE_S * 1000}&to={(BASE_S + 45 * DAY_S) * 1000}&as_of={as_of}"

    def get(url):
        response = client.get(url, headers=headers)
        assert response.status_code == 200, response.json

    funnel = f"/api/v1/sites/{SITE}/journeys/trip/funnel?{window}"
    get(funnel)
    figures["funnel API, live engine (ms)"] = median_ms(lambda: get(funnel), runs)
    people = [f"user{p}" for p in range(0, rows // 10, max(3, rows // 10 // 30 // 3 * 3))][:30]
    pages = iter(people * runs)
    figures["person page (ms)"] = median_ms(lambda: get(f"/api/v1/sites/{SITE}/people/{next(pages)}?as_of={as_of}"),
                                            len(people))
    figures["people list page (ms)"] = median_ms(
        lambda: get(f"/api/v1/sites/{SITE}/journeys/trip/people?status=dropped&stage=2&limit=50&as_of={as_of}"), runs)
    figures["search by email (ms)"] = median_ms(lambda: get(f"/api/v1/sites/{SITE}/people?q=user{rows // 20}@"), runs)

    # What the batch writer does with a spooled segment: 5,000 touchpoints of 1,000 visitors.
    batches = []
    for b in range(20):
        batch = []
        for i in range(5000):
            values = dict.fromkeys(EVENT_COLUMNS, "")
            values.update(site="ingest", event_id=uuid.uuid4().hex, event_time=BASE_S, event_ms=i % 1000,
                          received_at=BASE_S, visitor_id=f"iv{b}-{i % 1000}", is_bot=0, type="pageview",
                          prop_keys=[], prop_values=[])
            batch.append(("events", tuple(values[c] for c in EVENT_COLUMNS)))
        batches.append(batch)
    started = time.perf_counter()
    for batch in batches:
        insert_segment(store, {"events": EVENT_COLUMNS}, batch)
    figures["writer inserts (rows/s)"] = 100_000 / (time.perf_counter() - started)
    close_app(app)
    return figures


def node(env, port):
    return subprocess.Popen([sys.executable, "-m", "gunicorn", "--workers", "2", "--threads", "4", "--bind",
                             f"127.0.0.1:{port}", "--config", "python:tracker.gunicorn_conf", "wsgi:app"],
                            cwd=ROOT, env=env, start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def wait_up(base):
    import requests

    for _ in range(300):
        try:
            if requests.get(base + "/healthz", timeout=2).ok:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{base} did not come up")


def ingest_rate(url, cluster, seconds, behind_nginx):
    """Events/s through /collect (batches of 20): one node on ``url``, or two behind nginx."""
    database = "bench_ingest_" + uuid.uuid4().hex[:6]
    env = dict(os.environ, TRACKER_CLICKHOUSE_URL=f"{url}/{database}", TRACKER_JOURNEY_WORKER="0",
               TRACKER_CLICKHOUSE_CLUSTER=cluster, TRACKER_TRUST_PROXY="1", TRACKER_RATE_LIMIT_STORAGE=REDIS,
               # as bench/ingest.py: the load comes from one address, the limits must not be what is measured
               TRACKER_LIMIT_PER_IP="100000000/second", TRACKER_LIMIT_PER_SITE="100000000/second")
    folder = Path(tempfile.mkdtemp(prefix="bench-cluster-"))
    app = create_app({"clickhouse_url": env["TRACKER_CLICKHOUSE_URL"], "clickhouse_cluster": cluster,
                      "data_dir": str(folder / "setup"), "journey_worker": False, "rate_limit_storage": REDIS})
    site = create_site(app.extensions["store"], "Bench", [])["site"]
    close_app(app)
    ports = [27001, 27002] if behind_nginx else [27001]
    processes = [node(dict(env, TRACKER_DATA_DIR=str(folder / f"node{p}")), p) for p in ports]
    nginx = None
    try:
        for port in ports:
            wait_up(f"http://127.0.0.1:{port}")
        target = f"http://127.0.0.1:{ports[0]}"
        if behind_nginx:
            run_dir = folder / "nginx"
            run_dir.mkdir()
            text = string.Template((ROOT / "deploy" / "nginx.conf").read_text()).safe_substitute(
                RUN_DIR=run_dir, LISTEN="127.0.0.1:27000", NODE_1="127.0.0.1:27001", NODE_2="127.0.0.1:27002")
            (run_dir / "nginx.conf").write_text(text)
            nginx = subprocess.Popen(["nginx", "-c", str(run_dir / "nginx.conf"), "-g", "daemon off;"])
            target = "http://127.0.0.1:27000"
            wait_up(target)
        return wrk(target + "/collect", seconds, 16, collect_script(site, 20)) * 20
    finally:
        if nginx:
            nginx.terminate()
            nginx.wait(10)
        for process in processes:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(30)
        drop(database, CLUSTER_PORTS if cluster else (9000,))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="touchpoints (10 per person)")
    parser.add_argument("--runs", type=int, default=5, help="runs per timed read")
    parser.add_argument("--seconds", type=int, default=5, help="seconds of each ingest load")
    args = parser.parse_args()
    subprocess.run([str(ROOT / "scripts" / "system-packages.sh"), "clickhouse", "nginx", "wrk"], check=True)
    subprocess.run([str(ROOT / "scripts" / "clickhouse-cluster.sh"), "start"], check=True, stdout=subprocess.DEVNULL)
    subprocess.run([str(ROOT / "scripts" / "redis-server.sh"), "start"], check=True, stdout=subprocess.DEVNULL)
    database = "bench_cluster"
    drop(database, (9000,) + CLUSTER_PORTS)
    folder = Path(tempfile.mkdtemp(prefix="bench-cluster-"))
    single = reads_and_writes({"clickhouse_url": f"{SINGLE}/{database}", "data_dir": str(folder / "a")},
                              args.rows, args.runs)
    cluster = reads_and_writes({"clickhouse_url": f"{CLUSTER}/{database}", "clickhouse_cluster": "tracker",
                                "data_dir": str(folder / "b")}, args.rows, args.runs)
    drop(database, (9000,) + CLUSTER_PORTS)
    print(f"{args.rows:,} touchpoints of {args.rows // 10:,} people; one server vs two shards (no replicas)")
    print(f"{'':32} {'one node':>12} {'cluster':>12} {'cluster/one':>12}")
    for figure in single:
        print(f"{figure:32} {single[figure]:12.1f} {cluster[figure]:12.1f} {cluster[figure] / single[figure]:12.2f}")
    one = ingest_rate(SINGLE, "", args.seconds, behind_nginx=False)
    two = ingest_rate(CLUSTER, "tracker", args.seconds, behind_nginx=True)
    print(f"{'ingest /collect (events/s)':32} {one:12.0f} {two:12.0f} {two / one:12.2f}"
          "   (one gunicorn node on one server; two behind nginx on the cluster)")


if __name__ == "__main__":
    main()
