"""The automations API: definitions, a test delivery, the delivery log with retries by hand,
and the dry run. Registered on the ``api`` blueprint (``/api/v1``); what each route takes and
answers is described by the marshmallow schemas below, for the OpenAPI document."""
from flask import current_app, request
from marshmallow import Schema, ValidationError, fields, post_load, validate

from .. import current
from ..automations import definitions, outbox
from ..automations.dryrun import dry_run
from ..automations.payload import iso
from ..automations.sender import send_test
from ..clock import DAY_MS, now_ms
from ..errors import ApiError
from ..journeys import definitions as journeys
from . import openapi
from .auth import site_access
from .params import DEFAULT_DAYS, QueryArgs, TimeMs, query_args
from .views import bp


class DeliveriesArgs(QueryArgs):
    """A page of the delivery log, newest first."""

    status = fields.String(validate=validate.OneOf(outbox.STATUSES, error="one of {choices}"))
    limit = fields.Integer(load_default=50, validate=validate.Range(1, 500, error="must be between {min} and {max}"))
    before = fields.String(validate=validate.Regexp(r"^\d+:[A-Za-z0-9_]+$", error="the next_cursor of a page"),
                           metadata={"description": "next_cursor of the previous page"})

    @post_load
    def _cursor(self, data, **kwargs):
        created, _, delivery = data.pop("before", "").partition(":")
        data["before"] = (int(created), delivery) if delivery else None
        data.setdefault("status", None)
        return data


class DryRunArgs(QueryArgs):
    """The period whose sends the dry run lists (default the 30 days up to now)."""

    from_ = TimeMs(data_key="from", metadata={"description": "Start (default 30 days before 'to')"})
    to = TimeMs(end_of_day=True, metadata={"description": "End, a whole day when a date (default and at most now)"})

    @post_load
    def _range(self, data, **kwargs):
        now = now_ms()
        end = min(data.get("to", now), now)
        start = data.get("from_", end - DEFAULT_DAYS * DAY_MS)
        if start > end:
            raise ValidationError("after 'to'", "from")
        return {"start": start, "end": end, "now": now}


class StoredAutomationSchema(definitions.AutomationSchema):
    """An automation as stored: its definition, its id, from when it acts, why it was disabled."""

    id = fields.String(required=True)
    since = fields.Integer(allow_none=True, metadata={"description": "Transitions from this time (Unix ms) fire"})
    disabled_reason = fields.String(allow_none=True)
    secret = fields.String(metadata={"description": "The signing secret (whsec_…): in the first PUT's answer only"})
    deliveries = fields.Dict(keys=fields.String(), values=fields.Integer(),
                             metadata={"description": "Deliveries by status (GET of one automation)"})


class AutomationListSchema(Schema):
    automations = fields.List(fields.Nested(StoredAutomationSchema), required=True)


class AttemptSchema(Schema):
    attempt = fields.Integer(required=True)
    at = fields.String(required=True)
    code = fields.Integer(allow_none=True, metadata={"description": "The receiver's HTTP status (null: no answer)"})
    error = fields.String(allow_none=True)
    duration_ms = fields.Integer()


class DeliverySchema(Schema):
    """One webhook delivery (its id is the webhook-id header, the same on every try)."""

    id = fields.String(required=True)
    person = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(outbox.STATUSES))
    stage = fields.Integer()
    test = fields.Boolean()
    attempts = fields.Integer(required=True)
    last_code = fields.Integer(allow_none=True)
    last_error = fields.String(allow_none=True)
    at = fields.String(metadata={"description": "When the transition happened"})
    due_at = fields.String(metadata={"description": "When it was first due (day 0 + N for scheduled triggers)"})
    created_at = fields.String()
    next_try_at = fields.String(allow_none=True)
    delivered_at = fields.String(allow_none=True)
    attempt_log = fields.List(fields.Nested(AttemptSchema))
    ok = fields.Boolean(metadata={"description": "Of a test delivery: the receiver answered 2xx"})
    duration_ms = fields.Integer()


class DeliveryPageSchema(Schema):
    deliveries = fields.List(fields.Nested(DeliverySchema), required=True)
    next_cursor = fields.String(allow_none=True, required=True)


class WouldFireSchema(Schema):
    person = fields.String(required=True)
    at = fields.String(required=True, metadata={"description": "The transition's time"})
    fire_at = fields.String(required=True, metadata={"description": "When it would have been sent"})
    stage = fields.Integer()


class DryRunSchema(Schema):
    """Who the automation would have fired for (the first 1,000 listed)."""

    from_ = fields.String(data_key="from", required=True)
    to = fields.String(required=True)
    people = fields.Integer(required=True)
    truncated = fields.Boolean(required=True)
    deliveries = fields.List(fields.Nested(WouldFireSchema), required=True)


class JourneyFilterArgs(QueryArgs):
    journey = fields.String(metadata={"description": "Only the automations of this journey"})


def _settings():
    return current_app.config["TRACKER"]


def _automation(site, automation_id):
    found = definitions.get(current.store(), site, automation_id)
    if found is None:
        raise ApiError(404, f"no automation {automation_id!r} on site {site!r}")
    return found


def _journey_of(site, definition):
    journey = journeys.get(current.store(), site, definition["journey"])
    if journey is None:
        raise ApiError(409, f"its journey {definition['journey']!r} no longer exists")
    return journey


def validated(site, body):
    """A request's definition and its journey, checked in full; ApiError 400 naming each bad field."""
    try:
        return definitions.checked(current.store(), site, body, _settings()["webhook_allow_private"])
    except definitions.AutomationError as exc:
        raise ApiError(400, str(exc), exc.fields) from None


@bp.get("/sites/<site>/automations")
@site_access
@query_args(JourneyFilterArgs)
@openapi.documented(answer=AutomationListSchema)
def list_automations(site, query):
    """The site's automations (``journey=ID``: of one journey)."""
    found = definitions.list_all(current.store(), site, query.get("journey"))
    return {"automations": [definitions.public(a) for a in found]}


@bp.put("/sites/<site>/automations/<automation_id>")
@site_access
@openapi.documented(body=definitions.AutomationSchema, answer=StoredAutomationSchema, status=201)
def put_automation(site, automation_id):
    """Create or replace an automation; the first PUT answers its signing secret, once.

    201 (with ``secret``) when created, 200 when replaced. A webhook URL whose host resolves
    to a private, loopback or link-local address is refused unless TRACKER_WEBHOOK_ALLOW_PRIVATE=1.
    """
    if not journeys.valid_id(automation_id):
        raise ApiError(400, "invalid automation id", {"id": "letters, digits, '_', '.', '-'; at most 64"})
    loaded, _ = validated(site, request.get_json(silent=True))
    secret = definitions.save(current.store(), site, automation_id, loaded)
    shown = definitions.public(definitions.get(current.store(), site, automation_id))
    if secret:
        return dict(shown, secret=secret), 201
    return shown, 200


@bp.get("/sites/<site>/automations/<automation_id>")
@site_access
@openapi.documented(answer=StoredAutomationSchema)
def get_automation(site, automation_id):
    """One automation (never its secret), with its deliveries counted by status."""
    found = _automation(site, automation_id)
    return dict(definitions.public(found), deliveries=outbox.counts(current.store(), site, automation_id))


@bp.delete("/sites/<site>/automations/<automation_id>")
@site_access
@openapi.documented(status=204)
def delete_automation(site, automation_id):
    """Delete an automation; its pending deliveries are not sent."""
    if not definitions.delete(current.store(), site, automation_id):
        raise ApiError(404, f"no automation {automation_id!r} on site {site!r}")
    return "", 204


@bp.post("/sites/<site>/automations/<automation_id>/test")
@site_access
@openapi.documented(answer=DeliverySchema)
def test_automation(site, automation_id):
    """Send a sample delivery now (marked ``"test": true``) and answer what the receiver said."""
    automation = _automation(site, automation_id)
    sent = send_test(current.store(), automation, _journey_of(site, automation["definition"]),
                     _settings()["public_url"], _settings()["webhook_allow_private"])
    return dict(delivery_json(sent), ok=sent["status"] == "delivered", duration_ms=sent["duration_ms"])


def delivery_json(row, attempts=None):
    """A delivery as the API shows it."""
    shown = {"id": row["delivery_id"], "person": row["person"], "status": row["status"], "stage": row["stage"],
             "test": row["trigger"] == "test", "attempts": row["attempts"], "last_code": row["last_code"] or None,
             "last_error": row["last_error"] or None, "at": iso(row["at_ms"]), "due_at": iso(row["due_ms"]),
             "created_at": iso(row["created_ms"]),
             "next_try_at": iso(row["next_ms"]) if row["status"] == "pending" else None,
             "delivered_at": iso(row["delivered_ms"]) if row["delivered_ms"] else None}
    if attempts is not None:
        shown["attempt_log"] = [{"attempt": a["attempt"], "at": iso(a["at_ms"]), "code": a["code"] or None,
                                 "error": a["error"] or None, "duration_ms": a["duration_ms"]} for a in attempts]
    return shown


@bp.get("/sites/<site>/automations/<automation_id>/deliveries")
@site_access
@query_args(DeliveriesArgs)
@openapi.documented(answer=DeliveryPageSchema)
def list_deliveries(site, automation_id, query):
    """The delivery log, newest first: status, attempts (each with its answer), next try."""
    _automation(site, automation_id)
    rows, more = outbox.listing(current.store(), site, automation_id, query["limit"], query["status"],
                                query["before"])
    attempts = outbox.attempts_of(current.store(), site, automation_id, [r["delivery_id"] for r in rows])
    return {"deliveries": [delivery_json(r, attempts.get(r["delivery_id"], [])) for r in rows],
            "next_cursor": f"{more[0]}:{more[1]}" if more else None}


@bp.post("/sites/<site>/automations/<automation_id>/deliveries/<delivery_id>/retry")
@site_access
@openapi.documented(answer=DeliverySchema, status=202)
def retry_delivery(site, automation_id, delivery_id):
    """Send a delivery once more (failed, cancelled, skipped or delivered), at the next round.

    409 when it is pending already.
    """
    _automation(site, automation_id)
    try:
        row = outbox.retry(current.store(), site, automation_id, delivery_id)
    except ValueError as exc:
        raise ApiError(409, str(exc)) from None
    if row is None:
        raise ApiError(404, f"no delivery {delivery_id!r} of automation {automation_id!r}")
    return delivery_json(row), 202


def _dry_run_json(site, definition, journey, query):
    found = dry_run(current.store(), site, definition, journey, query["start"], query["end"], query["now"])
    return {"from": iso(query["start"]), "to": iso(query["end"]), "people": found["people"],
            "truncated": found["truncated"],
            "deliveries": [{"person": d["person"], "at": iso(d["at_ms"]), "fire_at": iso(d["fire_ms"]),
                            "stage": d["to_stage"]} for d in found["deliveries"][:1000]]}


@bp.get("/sites/<site>/automations/<automation_id>/dry-run")
@site_access
@query_args(DryRunArgs)
@openapi.documented(answer=DryRunSchema)
def dry_run_automation(site, automation_id, query):
    """Who the automation would have fired for between from and to (the recorded transitions)."""
    automation = _automation(site, automation_id)
    return _dry_run_json(site, automation["definition"], _journey_of(site, automation["definition"]), query)


@bp.post("/sites/<site>/automations/dry-run")
@site_access
@query_args(DryRunArgs)
@openapi.documented(body=definitions.AutomationSchema, answer=DryRunSchema)
def dry_run_unsaved(site, query):
    """The dry run of a definition in the body, not saved (an editor's preview)."""
    loaded, journey = validated(site, request.get_json(silent=True))
    return _dry_run_json(site, loaded, journey, query)
