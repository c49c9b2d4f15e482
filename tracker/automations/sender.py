"""Sending what the outbox holds: due deliveries claimed, posted by a bounded pool of threads,
their outcomes written back in batches.

Run by the journey worker's lease holder, within a time budget per round: a slow receiver
never holds the round up (its sends finish in the pool and are written in a later round), and
a process that dies leaves its claimed deliveries to come due again (``outbox.CLAIM_MS``).
"""
import logging
import queue
import secrets
import time
from concurrent.futures import ThreadPoolExecutor, wait

from .. import metrics
from ..clock import now_ms as real_clock
from . import definitions, outbox, payload, triggers
from .delivery import outcome, post

log = logging.getLogger(__name__)

BATCH = 500


class Sender:
    """Sends due deliveries; ``clock()`` (ms) decides what is due and when to try again."""

    def __init__(self, store, allow_private=False, clock=real_clock, threads=32, budget_seconds=5.0):
        self.store = store
        self.allow_private = allow_private
        self.clock = clock
        self.threads = threads
        self.budget_seconds = budget_seconds
        self.pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="webhook")
        self.in_flight = {}  # delivery id → future
        self.outcomes = queue.Queue()  # (delivery, result, now_ms) from the pool's threads
        self.totals = {"sent": 0, "delivered": 0, "failed": 0, "skipped": 0, "cancelled": 0}

    def close(self):
        self.pool.shutdown(wait=False, cancel_futures=True)

    def run(self):
        """Send what is due for up to the time budget; sends still running then are written by
        a later call."""
        deadline = time.monotonic() + self.budget_seconds
        self._write_outcomes()
        while time.monotonic() < deadline:
            now = self.clock()
            room = self.threads * 4 - len(self.in_flight)
            if room <= 0:
                break
            automations = self._automations()
            batch = self._sendable(outbox.due(self.store, now, min(BATCH, room), exclude=self.in_flight), automations)
            if not batch:
                break
            self._claim(batch, now)
            submitted = []
            for delivery in batch:
                automation = automations[(delivery["site"], delivery["automation_id"])]
                submitted.append(self.pool.submit(self._send, delivery, automation, now))
                self.in_flight[delivery["delivery_id"]] = submitted[-1]
            wait(submitted, timeout=max(0.0, deadline - time.monotonic()))
            self._write_outcomes()
        self._write_outcomes()

    def _automations(self):
        return {(a["site"], a["id"]): a for a in definitions.list_every(self.store)}

    def _send(self, delivery, automation, now):
        try:
            result = post(automation["definition"]["webhook"]["url"], automation["secret"], delivery["delivery_id"],
                          delivery["payload"], self.allow_private)
        except Exception as exc:  # a bug must not lose the delivery: it is tried again later
            log.exception("sending delivery %s failed", delivery["delivery_id"])
            result = {"code": 0, "retry_after_ms": None, "error": f"{type(exc).__name__}: {exc}", "duration_ms": 0}
        self.outcomes.put((delivery, result, now))

    def _claim(self, batch, now):
        """Push each delivery's next try past the time a send can take, before sending it."""
        outbox.write(self.store, [dict(d, next_ms=now + outbox.CLAIM_MS) for d in batch])

    def _sendable(self, batch, automations):
        """The deliveries of ``batch`` to send; the others are closed here: cancelled (the
        automation is disabled, deleted, or its trigger was edited) or skipped (a no_touchpoint
        whose person did touch, checked when it first comes due)."""
        if not batch:
            return []
        closed, keep, silent = [], [], {}
        for d in batch:
            automation = automations.get((d["site"], d["automation_id"]))
            reason = None
            if automation is None:
                reason = "the automation was deleted"
            elif not automation["enabled"]:
                reason = "the automation is disabled"
            elif d["trigger"] not in ("test", definitions.signature(automation["definition"])):
                reason = "the automation's trigger was edited"
            if reason:
                closed.append(dict(d, status="cancelled", next_ms=0, last_error=reason))
            elif "no_touchpoint" in automation["definition"]["when"] and d["attempts"] == 0:
                silent.setdefault((d["site"], d["automation_id"]), []).append(d)
            else:
                keep.append(d)
        for (site, automation_id), waiting in silent.items():
            rule = automations[(site, automation_id)]["definition"]["when"]["no_touchpoint"]
            windows = {(d["person"], d["at_ms"], d["due_ms"]): d for d in waiting}
            touched = triggers.touched(self.store, site, rule["match"], list(windows))
            for window, d in windows.items():
                if window in touched:
                    closed.append(dict(d, status="skipped", next_ms=0, last_error="a matching touchpoint came"))
                else:
                    keep.append(d)
        outbox.write(self.store, closed)
        for d in closed:
            self.totals[d["status"]] += 1
        return keep

    def _write_outcomes(self):
        """Write the outcomes the pool has finished (one insert per table), and disable the
        automations whose receiver answered 410 Gone."""
        done = []
        while True:
            try:
                done.append(self.outcomes.get_nowait())
            except queue.Empty:
                break
        if not done:
            return
        rows, attempts, gone = [], [], set()
        for delivery, result, now in done:
            self.in_flight.pop(delivery["delivery_id"], None)
            updated, disable = outcome(delivery, result, now)
            rows.append(updated)
            attempts.append(outbox.attempt(delivery, updated["attempts"], result, real_clock()))
            if disable:
                gone.add((delivery["site"], delivery["automation_id"]))
            self.totals["sent"] += 1
            if updated["status"] in ("delivered", "failed"):
                self.totals[updated["status"]] += 1
            metrics.WEBHOOK_DELIVERIES.labels(
                outcome=updated["status"] if updated["status"] in ("delivered", "failed") else "retry").inc()
        outbox.write(self.store, rows)
        outbox.record_attempts(self.store, attempts)
        for site, automation_id in gone:
            log.warning("the receiver of automation %s/%s answered 410 Gone: disabled", site, automation_id)
            definitions.disable(self.store, site, automation_id, "the receiver answered 410 Gone "
                                f"({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})")



def send_test(store, automation, journey, public_url="", allow_private=False):
    """Send a sample delivery of ``automation`` now, from the calling thread (``POST …/test``),
    once, and log it with the others. Returns the delivery row, with ``duration_ms``."""
    now = real_clock()
    body = payload.sample(automation["site"], journey, automation, now, public_url)
    delivery = outbox.new_delivery(automation["site"], automation["id"], payload.SAMPLE_PERSON, "test", 0, now, now,
                                   now, body, now)
    delivery["delivery_id"] = "msg_test_" + secrets.token_hex(8)
    result = post(automation["definition"]["webhook"]["url"], automation["secret"], delivery["delivery_id"], body,
                  allow_private)
    ok = 200 <= result["code"] < 300
    delivery.update(status="delivered" if ok else "failed", attempts=1, last_code=result["code"],
                    last_error=result["error"], next_ms=0, delivered_ms=now if ok else 0)
    outbox.write(store, [delivery])
    outbox.record_attempts(store, [outbox.attempt(delivery, 1, result, now)])
    return dict(delivery, duration_ms=result["duration_ms"])
