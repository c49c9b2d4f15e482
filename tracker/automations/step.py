"""The automations' part of the journey worker's round: new transitions matched against the
enabled automations and put in the outbox (now, or at day 0 + N for the scheduled triggers),
then what is due sent.

An automation acts on transitions from the moment it was enabled (or its ``backfill_from``).
Those recorded before the feed first showed it to the worker are found by a *catch-up*: once
per automation and ``since`` (kept in ``worker_status``), a read of the recorded transitions
from ``since`` on. Whatever is found twice (the feed and a catch-up overlap, a rebuild derives
the same moment again under a new build) is the same delivery: the outbox holds it once.
"""
import logging
import time

from ..clock import now_ms as real_clock
from ..journeys import definitions as journey_definitions
from ..journeys import state
from ..journeys.persons import traits_of
from . import definitions, outbox, payload, triggers
from .feed import TransitionFeed
from .sender import Sender

log = logging.getLogger(__name__)

CAUGHT_UP = "automation_caught_up:"
CATCH_UP_SECONDS = 2.0
PRUNE_SECONDS = 3600


class Automations:
    """Matching and sending, for one journey worker. ``public_url``: the service's address, for
    the person link in each body; ``allow_private``: TRACKER_WEBHOOK_ALLOW_PRIVATE."""

    def __init__(self, store, public_url="", allow_private=False, clock=real_clock, threads=32,
                 budget_seconds=5.0):
        self.store = store
        self.public_url = public_url
        self.clock = clock
        self.feed = TransitionFeed(store)
        self.sender = Sender(store, allow_private, clock, threads, budget_seconds)
        self.totals = {"enqueued": 0}
        self._progress = {}  # automation → (since, transitions read up to), of an unfinished catch-up
        self._pruned_at = 0.0

    @classmethod
    def from_settings(cls, store, settings, **options):
        """As the settings table says (TRACKER_PUBLIC_URL, TRACKER_WEBHOOK_ALLOW_PRIVATE)."""
        return cls(store, public_url=settings["public_url"], allow_private=settings["webhook_allow_private"],
                   **options)

    def close(self):
        self.sender.close()

    def status(self):
        """Totals since start, for the worker's status (``tracker worker --status``)."""
        return dict(self.totals, **self.sender.totals, in_flight=len(self.sender.in_flight),
                    feed_watermark=self.feed.watermark)

    def lead(self):
        """A worker that has just become the leader starts where the last one left off."""
        self.feed.load()

    def step(self):
        """One round: catch up, match what is new, send what is due. Returns counts. The
        outbox runs on ``clock`` (what is due, when to try again), whatever time the journey
        worker's round was computed for."""
        now = self.clock()
        automations = [a for a in definitions.list_every(self.store) if a["enabled"]]
        journeys = {(site, j["id"]): j for site, j in journey_definitions.list_every(self.store)}
        enqueued = self._catch_up(automations, journeys, now)
        fresh = self.feed.read({(a["site"], a["definition"]["journey"]) for a in automations})
        enqueued += self._match(fresh, automations, journeys, now)
        self.feed.save()
        if time.monotonic() - self._pruned_at > PRUNE_SECONDS:
            self._pruned_at = time.monotonic()
            self.feed.prune()
        self.sender.run()
        self.totals["enqueued"] += enqueued
        return {"transitions_read": len(fresh), "enqueued": enqueued}

    # -- matching -------------------------------------------------------------------------

    def _match(self, transitions, automations, journeys, now):
        by_journey = {}
        for t in transitions:
            by_journey.setdefault((t["site"], t["journey_id"]), []).append(t)
        enqueued = 0
        for automation in automations:
            key = (automation["site"], automation["definition"]["journey"])
            journey = journeys.get(key)
            if journey is None or key not in by_journey:
                continue
            build = state.build_of(journey)
            current = [t for t in by_journey[key] if t["build"] == build]
            enqueued += self.enqueue(automation, journey, current, now)
        return enqueued

    def enqueue(self, automation, journey, transitions, now):
        """Put the deliveries ``transitions`` call for in the outbox (those not there already)."""
        definition, site = automation["definition"], automation["site"]
        signature = definitions.signature(definition)
        candidates = [t for t in transitions
                      if t["at_ms"] >= automation["since_ms"] and triggers.kind_matches(definition, t)]
        if not candidates:
            return 0
        ids = {t["id"]: outbox.delivery_id(site, automation["id"], t["person"], signature, t["at_ms"])
               for t in candidates}
        present = outbox.existing(self.store, site, automation["id"], set(ids.values()))
        candidates = [t for t in candidates if ids[t["id"]] not in present]
        persons = sorted({t["person"] for t in candidates})
        already = (outbox.fired(self.store, site, automation["id"], persons)
                   if definition["reentry"] != "every_time" else set())
        chosen = triggers.select(self.store, site, definition, candidates, already, automation["since_ms"])
        traits = traits_of(self.store, site, sorted({t["person"] for t in chosen}))
        rows = []
        for t in chosen:
            due = triggers.due_at(definition, t)
            body = payload.body(site, journey, automation, t, traits.get(t["person"], {}), due, self.public_url)
            rows.append(outbox.new_delivery(site, automation["id"], t["person"], signature, t["to_stage"], t["at_ms"],
                                            t["run_ms"], due, body, now))
        outbox.write(self.store, rows)
        return len(rows)

    # -- catching up ----------------------------------------------------------------------

    def _caught_up(self):
        rows = self.store.query("SELECT name, argMax(value, version) FROM worker_status "
                                "WHERE startsWith(name, %(prefix)s) GROUP BY name", {"prefix": CAUGHT_UP})
        return {name[len(CAUGHT_UP):]: value for name, value in rows}

    def _catch_up(self, automations, journeys, now):
        """For each automation not caught up since its ``since``: the recorded transitions from
        then on, a page at a time, within a time budget (the rest next round)."""
        deadline = time.monotonic() + CATCH_UP_SECONDS
        done = self._caught_up()
        enqueued = 0
        for automation in automations:
            marker = f"{automation['site']}/{automation['id']}"
            journey = journeys.get((automation["site"], automation["definition"]["journey"]))
            if journey is None or done.get(marker) == str(automation["since_ms"]):
                continue
            since, at_from = self._progress.get(marker, (automation["since_ms"], automation["since_ms"]))
            if since != automation["since_ms"]:
                at_from = automation["since_ms"]
            while time.monotonic() < deadline:
                page = triggers.recorded(self.store, automation["site"], automation["definition"],
                                         state.build_of(journey), at_from, 2 ** 63)
                enqueued += self.enqueue(automation, journey, page, now)
                if len(page) < triggers.PAGE:
                    self.store.insert("worker_status", ["name", "value", "version"],
                                      [(CAUGHT_UP + marker, str(automation["since_ms"]), time.time_ns())])
                    self._progress.pop(marker, None)
                    break
                at_from = max(page[-1]["at_ms"], at_from + 1)
                self._progress[marker] = (automation["since_ms"], at_from)
        return enqueued
