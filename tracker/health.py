"""What an operator and a load balancer ask of a process: /healthz (alive), /readyz (fit to
take traffic) and /metrics (Prometheus)."""
from flask import Blueprint, Response, current_app, request

from . import metrics
from .access import token_sites
from .errors import ApiError
from .store.migrations import available, applied

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    """Liveness: whether ClickHouse answers (on a cluster, how many replicas of each shard do),
    the state of this process's background threads (the batch writer, the journey worker): 503
    when one of them died (a shard that is down is no reason: ingest spools); and what ingest
    dropped on purpose (referrer spam) since the process started."""
    ingest, store = current_app.extensions["tracker"], current_app.extensions["store"]
    writer = ingest.writer.health()
    body = {"clickhouse": store.ping(), "writer": writer,
            "spooled_segments": writer["spooled_segments"], "dropped": ingest.counters.snapshot()}
    if store.kind == "cluster":
        body["shards_answering"] = {str(shard): count for shard, count in store.shard_health().items()}
    threads = [writer]
    if "journey_worker" in current_app.extensions:
        body["journey_worker"] = current_app.extensions["journey_worker"].health()
        threads.append(body["journey_worker"])
    body["ok"] = all(t["ok"] for t in threads)
    return body, 200 if body["ok"] else 503


def _migrations_applied(store):
    done = applied(store)
    return [m.name for m in available() if m.version not in done]


@bp.get("/readyz")
def readyz():
    """Readiness: the store answers, every migration is applied, and the spool drains (no
    segment has waited longer than TRACKER_READY_SPOOL_SECONDS); 503 with the reasons if not."""
    store = current_app.extensions["store"]
    settings = current_app.config["TRACKER"]
    reasons = []
    missing = []
    if not store.ping():
        reasons.append("ClickHouse does not answer")
    else:
        missing = _migrations_applied(store)
        if missing:
            reasons.append("migrations not applied: " + ", ".join(missing))
    segments, oldest = current_app.extensions["tracker"].writer.spool.backlog()
    if oldest > settings["ready_spool_seconds"]:
        reasons.append(f"the spool is not draining: a segment has waited {oldest:.0f} s")
    body = {"ready": not reasons, "reasons": reasons, "spooled_segments": segments,
            "oldest_spooled_seconds": round(oldest, 1)}
    return body, 200 if body["ready"] else 503


@bp.get("/metrics")
def metrics_page():
    """Prometheus' text format, for a holder of an API token; 404 when TRACKER_METRICS_BIND
    serves the metrics on an address of their own."""
    if current_app.config["TRACKER"]["metrics_bind"]:
        raise ApiError(404, "metrics are served on TRACKER_METRICS_BIND")
    auth = request.headers.get("Authorization", "")
    if not auth.lower().startswith("bearer ") or token_sites(auth[7:].strip()) is None:
        raise ApiError(401, "send an API token as 'Authorization: Bearer TOKEN' (tracker token create)")
    body, content_type = metrics.exposition()
    return Response(body, content_type=content_type)
