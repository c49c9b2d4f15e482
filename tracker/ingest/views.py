"""The three ingest endpoints: the pixel, the browser batch and the server-side API."""
import base64
import json

from flask import Blueprint, Response, current_app, request
from marshmallow import ValidationError

from ..clock import now_ms
from ..errors import ApiError, field_errors
from .enrich import host_of, same_site
from .schemas import BATCH, PIXEL, load_fast, pixel_params
from .touchpoints import Hit, SaltUnavailable, records_for

bp = Blueprint("ingest", __name__)

GIF = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
CORS = {"Access-Control-Allow-Origin": "*", "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
        "Access-Control-Allow-Headers": "Content-Type", "Access-Control-Max-Age": "86400"}


def _ingest():
    return current_app.extensions["tracker"]


def _client_ip():
    if current_app.config["TRACKER"]["trust_proxy"]:
        forwarded = request.headers.get("X-Forwarded-For", "")
        if forwarded:
            return forwarded.split(",")[0].strip()
    return request.remote_addr or ""


def _hit(site_key, trusted=False):
    tracker = _ingest()
    ip = _client_ip()
    # The server API's address is the company's server, not the visitor's: no country.
    country, continent = ("", "") if trusted else tracker.geo.locate(ip)
    return Hit(site=site_key, user_agent=request.headers.get("User-Agent", "")[:512],
               salt=tracker.salts.today(), ip=ip, received_ms=now_ms(), trusted=trusted,
               country=country, continent=continent)


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


def _accept(hit, batch_vid, events):
    """Store the batch; the number stored (referrer spam is dropped and counted)."""
    tracker = _ingest()
    try:
        records = records_for(hit, batch_vid, events)
    except SaltUnavailable:
        raise ApiError(503, "the database does not answer, so visitors without an id cannot be counted "
                            "right now; send a vid, or retry later") from None
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
def _cors_on_errors(response):
    """Errors are readable cross-origin too (a success already carries the headers)."""
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
    _refuse_server_fields(batch["events"])
    _check_domain(site, batch["events"])
    accepted = _accept(_hit(site["site"]), batch["vid"], batch["events"])
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
    if body["site"] != site["site"]:
        raise ApiError(403, "the secret belongs to another site", {"site": "does not match the secret"})
    missing = {f"events.{i}": "needs uid or vid" for i, e in enumerate(body["events"])
               if not (e["uid"] or e["vid"] or body["vid"])}
    if missing:
        raise ApiError(400, "every server-side touchpoint needs a uid or a vid", missing)
    return {"accepted": _accept(_hit(site["site"], trusted=True), body["vid"], body["events"])}, 202


GIF_HEADERS = {"Cache-Control": "no-store, max-age=0", "Access-Control-Allow-Origin": "*"}


def _gif(error=None):
    response = Response(GIF, mimetype="image/gif", headers=GIF_HEADERS)
    if error:
        # Printable ASCII only: the reason may quote what the client sent.
        response.headers["X-Tracker-Error"] = "".join(c if " " <= c <= "~" else "?" for c in error[:300])
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
        return _gif("site: unknown site, not recorded")
    data.pop("cb", None)
    try:
        _refuse_server_fields([data])
        _check_domain(site, [data])
        _accept(_hit(site["site"]), data.get("vid") or "", [data])
    except ApiError as exc:
        return _gif(exc.message)
    return _gif()
