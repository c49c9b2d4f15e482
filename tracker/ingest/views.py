"""The three ingest endpoints: the pixel, the browser batch and the server-side API."""
import base64
import json

from flask import Blueprint, Response, current_app, g, request
from marshmallow import ValidationError

from .. import metrics
from ..clock import now_ms
from ..current import client_address
from ..errors import ApiError, field_errors
from .enrich import hashed, host_of, same_site
from .schemas import BATCH, PIXEL, load_fast, pixel_params
from ..privacy.blocks import CONSENT_VALUES, consent
from .touchpoints import EVENT_COLUMNS, Hit, SaltUnavailable, records_for

bp = Blueprint("ingest", __name__)

GIF = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
CORS = {"Access-Control-Allow-Origin": "*", "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
        "Access-Control-Allow-Headers": "Content-Type", "Access-Control-Max-Age": "86400"}


def _ingest():
    return current_app.extensions["tracker"]


def _hit(site_key, trusted=False):
    tracker = _ingest()
    ip = client_address()
    # The server API's address is the company's server, not the visitor's: no country.
    country, continent = ("", "") if trusted else tracker.geo.locate(ip)
    return Hit(site=site_key, user_agent=request.headers.get("User-Agent", "")[:512],
               salt=tracker.salts.today(), ip=ip, received_ms=now_ms(), trusted=trusted,
               country=country, continent=continent)


# Counters bound to their labels once: a pixel hit pays for one increment, not a look-up.
ENDPOINTS = {"ingest.pixel": "pixel", "ingest.collect": "collect", "ingest.touchpoints": "api"}
_ACCEPTED = {endpoint: metrics.TOUCHPOINTS_ACCEPTED.labels(name) for endpoint, name in ENDPOINTS.items()}
_REASONS = {400: "invalid", 401: "forbidden", 403: "forbidden", 404: "unknown_site", 413: "too_large",
            429: "rate_limited", 503: "unavailable"}


def _refused(reason):
    """Note why this request's touchpoints are not recorded (counted once, after the request)."""
    g.refused = reason


def _bound(site_key, events):
    """Raise 429 (with Retry-After) when the site, the client's address or the site's daily
    quota is past its limit (see tracker/bounds)."""
    address = client_address()
    client = hashed(_ingest().salts.today() or "", address) if address else ""
    refusal = current_app.extensions["bounds"].ingest(site_key, client, events)
    if refusal is not None:
        _refused(refusal.reason)
        raise ApiError(429, refusal.message, headers={"Retry-After": refusal.retry_after_header})


def _check_domain(site, events):
    """Refuse events whose page is not on one of the site's domains (when it has any)."""
    domains = site["domains"]
    if not domains:
        return
    for i, event in enumerate(events):
        url = event.get("url", "")
        if url:
            page = host_of(url)
            if not any(same_site(page, d) for d in domains):
                raise ApiError(403, f"{page or 'this page'} is not a domain of site {site['site']}",
                               {f"events.{i}.url": "not one of the site's domains"})


SERVER_ONLY = ("ua", "channel")


def _refuse_server_fields(events):
    """The browser endpoints may not claim another browser or a channel."""
    wrong = {f"events.{i}.{key}": "only the server API (/api/v1/touchpoints) may set this"
             for i, event in enumerate(events) for key in SERVER_ONLY if event.get(key)}
    if wrong:
        raise ApiError(400, "fields reserved for the server API", wrong)


_VISITOR, _USER = EVENT_COLUMNS.index("visitor_id"), EVENT_COLUMNS.index("user_id")


def _consents(event):
    return event["type"] == "identify" and event["uid"] and \
        str((event.get("traits") or {}).get("consent", "")).lower() in CONSENT_VALUES


def _refuse_erased(hit, events, records):
    """Refuse the touchpoints of an erased person's visitor ids (403), unless the batch brings
    their new consent: an identify whose traits say ``consent: granted``."""
    tracker = _ingest()
    rows = [row for table, row in records if table == "events"]
    erased = {f"events.{i}": "this person's data was erased; nothing is recorded until they consent again"
              for i, row in enumerate(rows) if tracker.blocks.refused(hit.site, row[_VISITOR], row[_USER])}
    if not erased:
        return
    consenting = {event["uid"] for event in events if _consents(event)}
    if consenting:
        for person in consenting:
            consent(current_app.extensions["store"], hit.site, person)
        tracker.blocks.refresh()
        if not any(tracker.blocks.refused(hit.site, row[_VISITOR], row[_USER]) for row in rows):
            return
    _refused("erased")
    raise ApiError(403, "this person's data was erased on request: nothing is recorded until they consent again",
                   erased)


def _accept(hit, batch_vid, events):
    """Store the batch; the number stored (referrer spam is dropped and counted)."""
    tracker = _ingest()
    try:
        records = records_for(hit, batch_vid, events)
    except SaltUnavailable:
        raise ApiError(503, "the database does not answer, so visitors without an id cannot be counted "
                            "right now; send a vid, or retry later") from None
    _refuse_erased(hit, events, records)
    try:
        tracker.writer.add(records)
    except UnicodeEncodeError:
        # A JSON \ud800-\udfff escape that is not half of a pair decodes to a lone surrogate:
        # no text, and nothing UTF-8 (the spool, ClickHouse) can hold. Found where the rows are
        # encoded, so well-formed batches pay nothing for the check.
        raise ApiError(400, "an unpaired \\ud800-\\udfff escape is not text",
                       {"body": "unpaired surrogate"}) from None
    except OSError as exc:
        current_app.logger.error("spool refused a batch: %s", exc)
        raise ApiError(503, "cannot store events right now; retry later") from None
    stored = sum(1 for table, _ in records if table == "events")
    if stored < len(events):
        tracker.counters.add("referrer_spam_dropped", len(events) - stored)
        metrics.TOUCHPOINTS_DROPPED.labels("referrer_spam").inc(len(events) - stored)
    return stored


def _load_body(max_events):
    raw = request.get_data(cache=False)
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "the body is not valid JSON", {"body": "invalid JSON"}) from None
    if not isinstance(body, dict):
        raise ApiError(400, "the body must be a JSON object", {"body": "not an object"})
    if isinstance(body.get("events"), list) and len(body["events"]) > max_events:
        raise ApiError(413, f"at most {max_events} events per request",
                       {"events": f"more than {max_events}"})
    try:
        return load_fast(BATCH, body)
    except ValidationError as exc:
        raise ApiError(400, "invalid events", field_errors(exc.messages)) from None


@bp.after_request
def _count_and_cors(response):
    """Count the request's refusal; errors are readable cross-origin too (a success already
    carries the headers)."""
    reason = g.get("refused")
    if reason is None and response.status_code >= 400:
        reason = _REASONS.get(response.status_code, "invalid")
    if reason is not None and request.endpoint in ENDPOINTS:
        metrics.TOUCHPOINTS_REFUSED.labels(ENDPOINTS[request.endpoint], reason).inc()
    if response.status_code >= 400 and request.path == "/collect":
        response.headers.update(CORS)
    return response


@bp.route("/collect", methods=["POST", "OPTIONS"])
def collect():
    """A batch of touchpoints from the snippet (JSON, or text/plain from sendBeacon)."""
    if request.method == "OPTIONS":
        return Response(status=204, headers=CORS)
    batch = _load_body(current_app.config["TRACKER"]["max_events"])
    site = _ingest().sites.get(batch["site"])
    if site is None:
        raise ApiError(404, f"unknown site {batch['site']!r}; nothing was recorded", {"site": "unknown"})
    _bound(site["site"], len(batch["events"]))
    _refuse_server_fields(batch["events"])
    _check_domain(site, batch["events"])
    accepted = _accept(_hit(site["site"]), batch["vid"], batch["events"])
    _ACCEPTED["ingest.collect"].inc(accepted)
    return {"accepted": accepted}, 202, CORS


@bp.route("/api/v1/touchpoints", methods=["POST"])
def touchpoints():
    """Touchpoints from a company's own servers (CRM, shop, call centre), with the site secret."""
    auth = request.headers.get("Authorization", "")
    secret = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
    site = _ingest().sites.by_secret(secret)
    if site is None:
        raise ApiError(401, "send the site secret as 'Authorization: Bearer SECRET'")
    body = _load_body(current_app.config["TRACKER"]["max_events"])
    _bound(site["site"], len(body["events"]))
    if body["site"] != site["site"]:
        raise ApiError(403, "the secret belongs to another site", {"site": "does not match the secret"})
    missing = {f"events.{i}": "needs uid or vid" for i, e in enumerate(body["events"])
               if not (e["uid"] or e["vid"] or body["vid"])}
    if missing:
        raise ApiError(400, "every server-side touchpoint needs a uid or a vid", missing)
    accepted = _accept(_hit(site["site"], trusted=True), body["vid"], body["events"])
    _ACCEPTED["ingest.touchpoints"].inc(accepted)
    return {"accepted": accepted}, 202


GIF_HEADERS = {"Cache-Control": "no-store, max-age=0", "Access-Control-Allow-Origin": "*"}


def _gif(error=None, reason="invalid", headers=None):
    response = Response(GIF, mimetype="image/gif", headers=GIF_HEADERS)
    if error:
        # Printable ASCII only: the reason may quote what the client sent.
        response.headers["X-Tracker-Error"] = "".join(c if " " <= c <= "~" else "?" for c in error[:300])
        response.headers.update(headers or {})
        g.refused = g.get("refused") or reason
    return response


@bp.route("/p.gif", methods=["GET"])
def pixel():
    """The pixel: always a GIF; a bad hit is not recorded and says why in X-Tracker-Error."""
    try:
        data = load_fast(PIXEL, pixel_params(request.args))
    except ValidationError as exc:
        first = field_errors(exc.messages)
        return _gif("; ".join(f"{k}: {v}" for k, v in first.items()))
    site = _ingest().sites.get(data.pop("site"))
    if site is None:
        return _gif("site: unknown site, not recorded", "unknown_site")
    data.pop("cb", None)
    try:
        _bound(site["site"], 1)
        _refuse_server_fields([data])
        _check_domain(site, [data])
        _accept(_hit(site["site"]), data.get("vid") or "", [data])
    except ApiError as exc:
        return _gif(exc.message, _REASONS.get(exc.status, "invalid"), exc.headers)
    _ACCEPTED["ingest.pixel"].inc()
    return _gif()
