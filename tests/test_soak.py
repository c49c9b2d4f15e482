"""Soak: minutes of mixed traffic against gunicorn on loopback, with a ClickHouse outage and
``kill -9`` of workers in the middle; afterwards every touchpoint that got its 202 (or its clean
GIF) is stored exactly once, and the workers' memory is flat.

``make test`` runs it for TRACKER_SOAK_SECONDS (default 20); ``make bench`` for 240 and prints
the figures. Bounded: a fixed duration, a few sender threads, loopback only.
"""
import json
import os
import signal
import statistics
import threading
import time
import uuid

import pytest
import requests

from conftest import new_database
from helpers import CHROME
from processes import Gunicorn, OwnClickHouse, tracker_cli

pytestmark = [pytest.mark.slow, pytest.mark.soak]
SECONDS = float(os.environ.get("TRACKER_SOAK_SECONDS", "20"))


def kill_newest_worker(master):
    """SIGKILL the master's newest worker (one survives); one that exited since it was listed
    (a child the master had just reaped) is no longer there to kill, so the next is taken."""
    for _ in range(50):
        try:
            os.kill(max(workers_of(master)), signal.SIGKILL)
            return
        except (ProcessLookupError, ValueError):  # gone meanwhile, or none listed yet
            time.sleep(0.1)
    raise AssertionError("the gunicorn master has no worker to kill")


def workers_of(master):
    """pids of the gunicorn master's workers."""
    found = []
    for pid in os.listdir("/proc"):
        try:
            with open(f"/proc/{pid}/stat") as stat:
                if int(stat.read().rsplit(")", 1)[1].split()[1]) == master:
                    found.append(int(pid))
        except (OSError, ValueError, IndexError):
            continue
    return found


def rss_mb(pid):
    try:
        with open(f"/proc/{pid}/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmRSS")) / 1024
    except (OSError, StopIteration):
        return None


class Traffic:
    """Senders of /collect batches and pixel hits with unique ids, and a reader of the API."""

    def __init__(self, base, site, token):
        self.base, self.site, self.token = base, site, token
        self.accepted, self.sent, self.failures, self.latencies = set(), set(), 0, []
        self.reads = 0
        self.lock = threading.Lock()
        self.stop = threading.Event()

    def _collect(self, session):
        eids = [uuid.uuid4().hex for _ in range(5)]
        body = {"site": self.site, "vid": "v-" + eids[0][:4], "events": [
            {"type": "pageview", "url": f"https://example.com/p{i}", "eid": e} for i, e in enumerate(eids)]}
        started = time.perf_counter()
        with self.lock:
            self.sent.update(eids)
        answer = session.post(self.base + "/collect", data=json.dumps(body), timeout=10, headers={"User-Agent": CHROME})
        return eids, answer.status_code == 202, time.perf_counter() - started

    def _pixel(self, session):
        eid = uuid.uuid4().hex
        started = time.perf_counter()
        with self.lock:
            self.sent.add(eid)
        answer = session.get(self.base + "/p.gif", timeout=10, headers={"User-Agent": CHROME},
                             params={"site": self.site, "type": "email_open", "uid": "u" + eid[:3], "eid": eid})
        return [eid], answer.ok and "X-Tracker-Error" not in answer.headers, time.perf_counter() - started

    def sender(self, n):
        session = requests.Session()
        while not self.stop.is_set():
            try:
                eids, ok, seconds = (self._collect if n % 2 else self._pixel)(session)
            except requests.RequestException:  # a killed worker's connection: not counted as accepted
                session = requests.Session()
                with self.lock:
                    self.failures += 1
                continue
            with self.lock:
                self.latencies.append(seconds)
                if ok:
                    self.accepted.update(eids)
                else:
                    self.failures += 1
            time.sleep(0.002)

    def reader(self):
        while not self.stop.wait(0.2):
            try:
                requests.get(f"{self.base}/api/v1/sites/{self.site}/people?q=u1", timeout=10,
                             headers={"Authorization": f"Bearer {self.token}"})
                self.reads += 1
            except requests.RequestException:
                pass


def test_a_soak_with_an_outage_and_killed_workers_loses_nothing(tmp_path, redis_server):
    clickhouse = OwnClickHouse(tmp_path / "clickhouse")
    clickhouse.start()
    database = new_database()
    env = dict(os.environ, TRACKER_DATA_DIR=str(tmp_path / "data"), TRACKER_CLICKHOUSE_URL=f"{clickhouse.url}/{database}",
               TRACKER_FLUSH_SECONDS="0.5", TRACKER_RATE_LIMIT_STORAGE=redis_server, TRACKER_LIMIT_PER_IP="off",
               TRACKER_LIMIT_PER_SITE="off")
    site = json.loads(tracker_cli(env, "site", "create", "--name", "Soak", "--json"))["site"]
    token = json.loads(tracker_cli(env, "token", "create", "--json"))["token"]
    server = Gunicorn(env, workers=2)
    server.start()
    traffic = Traffic(server.base, site, token)
    threads = [threading.Thread(target=traffic.sender, args=(n,)) for n in range(4)]
    threads.append(threading.Thread(target=traffic.reader))
    memory = {}

    def stored():
        return dict(clickhouse_rows(env, site))

    try:
        for thread in threads:
            thread.start()
        started = time.monotonic()
        plan = [(0.3, "outage"), (0.45, "back"), (0.6, "kill"), (0.75, "kill")]
        while time.monotonic() - started < SECONDS:
            elapsed = (time.monotonic() - started) / SECONDS
            while plan and elapsed >= plan[0][0]:
                action = plan.pop(0)[1]
                if action == "outage":
                    clickhouse.stop()
                elif action == "back":
                    clickhouse.start()
                else:
                    kill_newest_worker(server.process.pid)
            for pid in workers_of(server.process.pid):
                memory.setdefault(pid, []).append((elapsed, rss_mb(pid)))
            time.sleep(0.5)
        traffic.stop.set()
        for thread in threads:
            thread.join(15)
        deadline = time.monotonic() + 60  # replacements adopt the killed workers' spools
        while not traffic.accepted <= set(stored()):
            assert time.monotonic() < deadline, (f"{len(traffic.accepted - set(stored()))} of {len(traffic.accepted)} "
                                                 f"accepted touchpoints missing; {len(stored())} stored")
            time.sleep(1)
    finally:
        traffic.stop.set()
        server.stop(signal.SIGTERM)
        try:
            found = stored()
        finally:
            clickhouse.stop()
    assert len(traffic.accepted) > 500
    assert set(found) <= traffic.sent and set(found.values()) == {1}  # nothing twice, nothing invented
    growth = [samples[-1][1] - next(rss for t, rss in samples if t >= 0.2)
              for samples in memory.values() if samples[0][0] < 0.2 and samples[-1][0] > 0.9 and samples[-1][1]]
    latencies = sorted(traffic.latencies)
    print(f"\nsoak {SECONDS:.0f} s: {len(traffic.sent)} touchpoints sent, {len(traffic.accepted)} accepted and all "
          f"stored once, {traffic.failures} requests failed (killed workers), {traffic.reads} API reads; "
          f"latency median {statistics.median(latencies) * 1000:.1f} ms, p99 "
          f"{latencies[int(len(latencies) * 0.99)] * 1000:.1f} ms; surviving workers' RSS growth "
          f"{', '.join(f'{g:+.1f} MB' for g in growth) or 'n/a'}")
    assert all(g < 40 for g in growth), growth


def clickhouse_rows(env, site):
    out = tracker_cli(env, "sql", f"SELECT event_id, count() AS n FROM events FINAL WHERE site = '{site}' GROUP BY event_id")
    return [tuple(json.loads(line).values()) for line in out.splitlines()]
