"""The service's Prometheus metrics; every gunicorn worker counts (prometheus-client's
multiprocess mode, set up by ``gunicorn_conf``; one process without it, as in tests).

Names, for dashboards and alerts (``_total``, ``_bucket``… added by the client as usual):

- ``tracker_touchpoints_accepted_total{endpoint}``: touchpoints answered 2xx (pixel, collect, api)
- ``tracker_touchpoints_refused_total{endpoint, reason}``: ingest requests refused (invalid,
  unknown_site, forbidden, rate_limited, quota, erased, unavailable)
- ``tracker_touchpoints_dropped_total{reason}``: touchpoints of accepted requests left out on
  purpose (referrer_spam)
- ``tracker_touchpoints_spooled_total``, ``tracker_touchpoints_inserted_total``: rows of ``events``
  written to the spool, and inserted into ClickHouse (the difference waits in the spool)
- ``tracker_insert_seconds``: one insert of a spool segment
- ``tracker_spool_segments``, ``tracker_spool_oldest_seconds``: what waits for ClickHouse
- ``tracker_journey_worker_lag_seconds``, ``tracker_journey_worker_persons_total``
- ``tracker_webhook_deliveries_total{outcome}``: for the automations' sender to increment
  (``WEBHOOK_DELIVERIES.labels(outcome="delivered").inc()``; outcomes: delivered, retry, failed)
- ``tracker_request_seconds{endpoint}``, ``tracker_query_seconds{endpoint}``: time to answer a
  request, and the part of it spent in ClickHouse queries, per Flask endpoint (not ingest: a
  pixel hit must not pay for histograms)

Metrics are made when this module is first imported, which must follow the choice of mode:
``PROMETHEUS_MULTIPROC_DIR`` is read by prometheus-client when it is imported.
"""
import os

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client import REGISTRY, multiprocess

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

TOUCHPOINTS_ACCEPTED = Counter("tracker_touchpoints_accepted", "Touchpoints accepted (answered 2xx), by endpoint.",
                               ["endpoint"])
TOUCHPOINTS_REFUSED = Counter("tracker_touchpoints_refused",
                              "Ingest requests refused (their touchpoints not recorded), by endpoint and reason.",
                              ["endpoint", "reason"])
TOUCHPOINTS_DROPPED = Counter("tracker_touchpoints_dropped",
                               "Touchpoints of accepted requests left out on purpose, by reason.", ["reason"])
TOUCHPOINTS_SPOOLED = Counter("tracker_touchpoints_spooled", "Touchpoints written to the spool before their 202.")
TOUCHPOINTS_INSERTED = Counter("tracker_touchpoints_inserted", "Touchpoints inserted into ClickHouse.")
INSERT_SECONDS = Histogram("tracker_insert_seconds", "Time of one insert of a spool segment into ClickHouse.",
                           buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
SPOOL_SEGMENTS = Gauge("tracker_spool_segments", "Spool segments waiting for ClickHouse (every process's).",
                       multiprocess_mode="livemax")
SPOOL_OLDEST_SECONDS = Gauge("tracker_spool_oldest_seconds", "Age of the oldest spool segment waiting for ClickHouse.",
                             multiprocess_mode="livemax")
JOURNEY_LAG_SECONDS = Gauge("tracker_journey_worker_lag_seconds",
                            "How far the leading journey worker is behind what arrived.", multiprocess_mode="livemax")
JOURNEY_PERSONS = Counter("tracker_journey_worker_persons", "Persons whose journey state the worker recomputed.")
WEBHOOK_DELIVERIES = Counter("tracker_webhook_deliveries", "Webhook delivery attempts, by outcome.", ["outcome"])
REQUEST_SECONDS = Histogram("tracker_request_seconds", "Time to answer a request, by endpoint.", ["endpoint"])
QUERY_SECONDS = Histogram("tracker_query_seconds", "ClickHouse time of one request's queries, by endpoint.",
                          ["endpoint"])


def registry():
    """What a scrape reads: every live and dead worker's files in multiprocess mode, else this process."""
    if not os.environ.get(MULTIPROC_ENV):
        return REGISTRY
    collected = CollectorRegistry()
    multiprocess.MultiProcessCollector(collected)
    return collected


def exposition():
    """(body, content type) of a scrape."""
    return generate_latest(registry()), CONTENT_TYPE_LATEST
