"""Every request gets an id (a sane ``X-Request-Id`` it came with, else a new one), sent back in
``X-Request-Id``, and a JSON log line: each one on the analytics side (API, dashboards, health),
a sample on ingest (``TRACKER_INGEST_LOG_SAMPLE``), whose hits are too many to log each. Time
to answer and time spent in ClickHouse feed the per-endpoint histograms of ``metrics``.
"""
import json
import logging
import os
import random
import re
import time

from flask import g, request

from . import metrics
from .store.backend import query_clock

log = logging.getLogger("tracker.requests")
REQUEST_ID = "X-Request-Id"
_SANE_ID = re.compile(r"[A-Za-z0-9._:@/+=-]{1,128}")
INGEST = "ingest"  # the blueprint of the pixel, /collect and /api/v1/touchpoints


class JsonLines(logging.Formatter):
    """One JSON object per record: time, level, logger, message and the record's ``fields``."""

    def format(self, record):
        line = {"time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
                + f".{int(record.msecs):03d}Z", "level": record.levelname, "logger": record.name,
                "message": record.getMessage()}
        line.update(getattr(record, "fields", {}))
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def _configure_logger():
    if not log.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(JsonLines())
        log.addHandler(handler)
        if log.level == logging.NOTSET:  # a level the embedding program chose stands (make bench: WARNING)
            log.setLevel(logging.INFO)
        log.propagate = False


def request_id():
    """The id of the request being served."""
    return g.get("request_id", "")


def _start():
    incoming = request.headers.get(REQUEST_ID, "")
    g.request_id = incoming if _SANE_ID.fullmatch(incoming) else os.urandom(8).hex()
    g.started = time.perf_counter()
    if request.blueprint != INGEST:
        g.query_clock = query_clock.set([0.0])


def _finish(response, sample):
    response.headers[REQUEST_ID] = g.get("request_id", "")
    started = g.get("started")
    if started is None:
        return response
    seconds = time.perf_counter() - started
    ingest = request.blueprint == INGEST
    if ingest and random.random() >= sample:
        return response  # the hot path: an ingest hit that is not in the sample costs no more
    fields = {"request_id": g.request_id, "method": request.method, "path": request.path,
              "endpoint": request.endpoint or "", "status": response.status_code,
              "duration_ms": round(seconds * 1000, 2)}
    if not ingest:
        endpoint = request.endpoint or "unmatched"
        spent = query_clock.get(None)
        metrics.REQUEST_SECONDS.labels(endpoint).observe(seconds)
        if spent is not None:
            metrics.QUERY_SECONDS.labels(endpoint).observe(spent[0])
            fields["query_ms"] = round(spent[0] * 1000, 2)
        if g.get("site"):
            fields["site"] = g.site
    log.info("request", extra={"fields": fields})
    return response


def _teardown(_exc):
    token = g.pop("query_clock", None)
    if token is not None:
        query_clock.reset(token)


def init_app(app, settings):
    """Request ids, JSON request lines and request metrics for every request of ``app``."""
    _configure_logger()
    sample = settings["ingest_log_sample"]
    app.before_request(_start)
    app.after_request(lambda response: _finish(response, sample))
    app.teardown_request(_teardown)
