"""The journey worker's loop: lease, builds, changes, sweep, status; a round every second.

The loop survives any exception (logged, kept for ``/healthz`` and ``tracker worker --status``)
and goes on with the next round. Only the holder of the ``journey_worker`` lease works; the
others wait, ready to take over within the lease's time when the holder stops.
"""
import gc
import json
import logging
import os
import socket
import threading
import time

from .. import metrics
from ..automations import Automations
from ..journeys import definitions, state
from ..store.locks import Lock
from .changes import ChangeFeed, persons_of_changes
from .journey import derive_history, forget_other_builds, rebuild_states, sweep, update_persons
from .erasures import LateErasureStep
from .retention import RetentionStep

log = logging.getLogger(__name__)

LEASE_SECONDS = 30
SWEEP_SECONDS = 15
STATUS_STALE_SECONDS = 60
# Time a round gives to deriving the history of new builds, after what arrived.
HISTORY_SECONDS = 1.0
# A round makes and drops millions of containers (rows, states, transitions). With Python's
# default thresholds (700, 10, 10) its cycle collector runs thousands of times a round and
# scans the process's long-lived objects again and again: a quarter of the worker's CPU in a
# catch-up (10M bench, 10,000 people: 4.0 s of Python CPU, 2.9 s with these).
GC_THRESHOLDS = (50_000, 20, 20)
_collecting_less = threading.Lock()


def collect_less():
    """Once per process: what exists now (the app, its modules) is left out of collections, and
    young objects are collected in larger steps. Cycles are still found, later."""
    if _collecting_less.acquire(blocking=False):
        gc.collect()
        gc.freeze()
        gc.set_threshold(*GC_THRESHOLDS)


class JourneyWorker:
    """``start()`` runs rounds in a thread; ``run_once()`` runs one (tests, ``--once``).

    ``automations``: the automations' step (matching, the outbox, sending); by default one
    configured from the settings table."""

    def __init__(self, store, interval=1.0, automations=None):
        collect_less()  # this process hosts a worker
        self.store = store
        self.interval = interval
        if automations is None:
            from ..settings import load_settings

            automations = Automations.from_settings(store, load_settings())
        self.automations = automations
        self.lease = Lock(store, "journey_worker", ttl=LEASE_SECONDS)
        self.feed = ChangeFeed(store)
        self.retention = RetentionStep(store)
        self.late_erasures = LateErasureStep(store)
        self.name = f"{socket.gethostname()}:{os.getpid()}"
        self.totals = {"persons": 0, "transitions": 0, "rounds": 0, "errors": 0}
        self.last_error = None
        self.last_round_ms = None
        self.last_automations = None
        self._last_sweep = 0.0
        self._history = {}  # build -> how far the derivation of its transitions has got
        self._stop = threading.Event()
        self._thread = None

    # -- running ----------------------------------------------------------------------

    def start(self):
        self._thread = threading.Thread(target=self._run, name="journey-worker", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout=10.0):
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self.automations.close()
        try:
            self.lease.release()
        except Exception:  # the store may be gone at shutdown; the lease then expires by itself
            log.warning("could not release the journey worker's lease", exc_info=True)

    def _run(self):
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception as exc:  # anything at all: log it, keep it, go on with the next round
                self.totals["errors"] += 1
                self.last_error = {"at": int(time.time()), "error": f"{type(exc).__name__}: {exc}"}
                log.exception("a journey worker round failed; the worker goes on")
            self._stop.wait(self.interval)

    def health(self):
        """This process's worker, for ``/healthz``: ok unless its thread died."""
        alive = self._thread is not None and self._thread.is_alive()
        return {"ok": alive or self._thread is None or self._stop.is_set(), "running": alive,
                "leading": self.lease.held, "last_error": self.last_error}

    # -- one round --------------------------------------------------------------------

    def run_once(self, as_of=None):
        """One round; returns {"persons", "transitions"} done, or None when another leads."""
        if not self._lead():
            metrics.JOURNEY_LAG_SECONDS.set(0)  # the leader reports it
            return None
        started = time.monotonic()
        journeys = {(site, j["id"]): j for site, j in definitions.list_every(self.store)}
        readable = self._builds(journeys, as_of)
        done = {"persons": 0, "transitions": 0}
        self._changes(self.feed.read(), readable, done, as_of)
        if as_of is not None or time.monotonic() - self._last_sweep >= SWEEP_SECONDS:
            self._last_sweep = time.monotonic()
            done["transitions"] += sweep(self.store, readable, as_of)
        self._aside("retention", self.retention.maybe_run, force=as_of is not None, now=as_of and as_of / 1000)
        self._aside("late erasures", self.late_erasures.maybe_run, force=as_of is not None)
        self.feed.save()
        self._histories(readable, as_of)  # last: what arrived comes first
        # after them: it acts on the transitions this round recorded
        self.last_automations = self._aside("automations", self.automations.step) or self.last_automations
        metrics.JOURNEY_PERSONS.inc(done["persons"])
        for key in ("persons", "transitions"):
            self.totals[key] += done[key]
        self.totals["rounds"] += 1
        self.last_round_ms = int((time.monotonic() - started) * 1000)
        self._save_status(journeys)
        return done

    def _lead(self):
        if self.lease.held and self.lease.renew():
            return True
        if self.lease.acquire(0):
            self.feed.load()  # a new leader starts where the last one left off
            self.automations.lead()
            log.info("journey worker %s leads", self.name)
            return True
        return False

    def _aside(self, name, step, *args, **kwargs):
        """Run a step beside the journey work (retention, late erasures, the automations): a
        failure there is kept and reported like any other, and the journey work of the round
        stands (the feed's watermark, the histories). Returns the step's answer, None on failure."""
        try:
            return step(*args, **kwargs)
        except Exception as exc:
            self.totals["errors"] += 1
            self.last_error = {"at": int(time.time()), "error": f"{name}: {type(exc).__name__}: {exc}"}
            log.exception("the journey worker's %s step failed; the worker goes on", name)
            return None

    def _builds(self, journeys, as_of):
        """Advance the builds of journeys whose definition changed; return the journeys whose
        current build is readable (state complete), the ones the round keeps up to date."""
        readable = {}
        builds = state.builds(self.store)
        for (site, journey_id), journey in sorted(journeys.items()):
            build = state.build_of(journey)
            status = builds.get((site, journey_id), {}).get(build)
            if status is None or status["status"] in ("building", "failed"):
                self._rebuild(site, journey, build, as_of)
                status = state.builds(self.store, site).get((site, journey_id), {}).get(build)
            readable[(site, journey_id)] = journey
        return readable

    def _histories(self, readable, as_of):
        """A slice of the stage changes of builds whose history is still being derived."""
        builds = state.builds(self.store)
        for (site, journey_id), journey in sorted(readable.items()):
            build = state.build_of(journey)
            status = builds.get((site, journey_id), {}).get(build)
            if status and status["status"] == "transitions":
                cursor = self._history.setdefault(build, {})
                if derive_history(self.store, site, journey, build, status, budget_seconds=HISTORY_SECONDS,
                                  as_of=as_of, cursor=cursor):
                    forget_other_builds(self.store, site, journey_id, build)

    def _rebuild(self, site, journey, build, as_of):
        since = self.store.query("SELECT toUInt32(now())").scalar()
        try:
            persons = rebuild_states(self.store, site, journey, build, as_of)
        except Exception as exc:
            state.record_build(self.store, site, journey["id"], build, "failed", error=str(exc))
            raise
        log.info("journey %s/%s rebuilt: %d people", site, journey["id"], persons)
        # What arrived while the state was computed is applied on top of it.
        rows = self.feed.since(since, site)
        if rows:
            update_persons(self.store, site, journey, build, persons_of_changes(self.store, site, rows), as_of)

    def _changes(self, rows, readable, done, as_of):
        by_site = {}
        for row in rows:
            by_site.setdefault(row[0], []).append(row)
        for site, site_rows in by_site.items():
            site_journeys = [j for (s, _), j in readable.items() if s == site]
            if not site_journeys:
                continue
            persons = persons_of_changes(self.store, site, site_rows)
            for journey in site_journeys:
                written, found = update_persons(self.store, site, journey, state.build_of(journey), persons, as_of)
                done["persons"] += written
                done["transitions"] += found

    def _save_status(self, journeys):
        lag = self.feed.lag()
        metrics.JOURNEY_LAG_SECONDS.set(lag)
        status = {"worker": self.name, "heartbeat": int(time.time()), "watermark": self.feed.watermark,
                  "lag_seconds": lag, "last_round_ms": self.last_round_ms, "totals": self.totals,
                  "last_error": self.last_error, "journeys": len(journeys),
                  "automations": self.automations.status()}
        self.store.insert("worker_status", ["name", "value", "version"],
                          [("status", json.dumps(status), time.time_ns())])


def read_status(store):
    """The leading worker's last status (any node may read it), with ``stale`` when its
    heartbeat is old (no worker runs), and the builds that are not ready."""
    text = store.query("SELECT argMax(value, version) FROM worker_status WHERE name = 'status' "
                       "HAVING count() > 0").scalar()
    status = json.loads(text) if text else {"worker": None, "heartbeat": 0}
    status["stale"] = time.time() - status.get("heartbeat", 0) > STATUS_STALE_SECONDS
    builds = state.builds(store)
    status["builds"] = []
    for site, journey in definitions.list_every(store):
        build = state.build_of(journey)
        found = builds.get((site, journey["id"]), {}).get(build) or {"status": "waiting", "build": build}
        if found["status"] != "ready":
            status["builds"].append(dict(found, site=site, journey_id=journey["id"]))
    return status
