"""The automations API: definitions, a test delivery, the delivery log with retries by hand,
and the dry run. Registered on the ``api`` blueprint (``/api/v1``); the schemas of bodies and
query strings are marshmallow's, for the generated OpenAPI description."""
from flask import current_app, request
from marshmallow import Schema, ValidationError, fields, validate

from ..automations import definitions, outbox
from ..automations.dryrun import dry_run
from ..automations.payload import iso
from ..automations.sender import send_test
from ..errors import ApiError, field_errors
from ..journeys import definitions as journeys
from .auth import site_access
from .params import DAY_MS, now_ms, time_ms
from .views import bp

AutomationBody = definitions.AutomationSchema


class DeliveriesQuery(Schema):
    """``GET …/automations/ID/deliveries``: newest first, a page at a time."""

    status = fields.String(validate=validate.OneOf(outbox.STATUSES))
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))
    before = fields.String(validate=validate.Regexp(r"^\d+:[A-Za-z0-9_]+$"), metadata={
        "description": "the next_cursor of the previous page"})


class DryRunQuery(Schema):
    """``GET …/automations/ID/dry-run``: the period (default the last 30 days)."""

    from_ = fields.String(data_key="from", metadata={"description": "YYYY-MM-DD, ISO 8601 or Unix ms"})
    to = fields.String(metadata={"description": "YYYY-MM-DD (inclusive), ISO 8601 or Unix ms"})


DELIVERIES_QUERY = DeliveriesQuery()
DRY_RUN_QUERY = DryRunQuery()


def _store():
    return current_app.extensions["store"]


def _settings():
    return current_app.config["TRACKER"]


def _args(schema):
    try:
        return schema.load(request.args.to_dict())
    except ValidationError as exc:
        fields_ = field_errors(exc.messages)
        raise ApiError(400, "invalid " + ", ".join(fields_), fields_) from None


def _automation(site, automation_id):
    found = definitions.get(_store(), site, automation_id)
    if found is None:
        raise ApiError(404, f"no automation {automation_id!r} on site {site!r}")
    return found


def _journey_of(site, definition):
    journey = journeys.get(_store(), site, definition["journey"])
    if journey is None:
        raise ApiError(409, f"its journey {definition['journey']!r} no longer exists")
    return journey


def validated(site, body):
    """A request's definition and its journey, checked in full; ApiError 400 naming each bad field."""
    try:
        return definitions.checked(_store(), site, body, _settings()["webhook_allow_private"])
    except definitions.AutomationError as exc:
        raise ApiError(400, str(exc), exc.fields) from None


@bp.get("/sites/<site>/automations")
@site_access
def list_automations(site):
    """The site's automations (``journey=ID``: of one journey)."""
    return {"automations": [definitions.public(a) for a in
                            definitions.list_all(_store(), site, request.args.get("journey") or None)]}


@bp.put("/sites/<site>/automations/<automation_id>")
@site_access
def put_automation(site, automation_id):
    """Create or replace an automation; the first PUT answers its signing secret, once."""
    if not journeys.valid_id(automation_id):
        raise ApiError(400, "invalid automation id", {"id": "letters, digits, '_', '.', '-'; at most 64"})
    loaded, _ = validated(site, request.get_json(silent=True))
    secret = definitions.save(_store(), site, automation_id, loaded)
    shown = definitions.public(definitions.get(_store(), site, automation_id))
    if secret:
        return dict(shown, secret=secret), 201
    return shown, 200


@bp.get("/sites/<site>/automations/<automation_id>")
@site_access
def get_automation(site, automation_id):
    """One automation (never its secret), with its deliveries counted by status."""
    found = _automation(site, automation_id)
    return dict(definitions.public(found), deliveries=outbox.counts(_store(), site, automation_id))


@bp.delete("/sites/<site>/automations/<automation_id>")
@site_access
def delete_automation(site, automation_id):
    """Delete an automation; its pending deliveries are not sent."""
    if not definitions.delete(_store(), site, automation_id):
        raise ApiError(404, f"no automation {automation_id!r} on site {site!r}")
    return "", 204


@bp.post("/sites/<site>/automations/<automation_id>/test")
@site_access
def test_automation(site, automation_id):
    """Send a sample delivery now (marked ``"test": true``) and answer what the receiver said."""
    automation = _automation(site, automation_id)
    sent = send_test(_store(), automation, _journey_of(site, automation["definition"]),
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
def list_deliveries(site, automation_id):
    """The delivery log, newest first: status, attempts (each with its answer), next try."""
    _automation(site, automation_id)
    args = _args(DELIVERIES_QUERY)
    before = None
    if args.get("before"):
        created, delivery = args["before"].split(":", 1)
        before = (int(created), delivery)
    rows, more = outbox.listing(_store(), site, automation_id, args["limit"], args.get("status"), before)
    attempts = outbox.attempts_of(_store(), site, automation_id, [r["delivery_id"] for r in rows])
    return {"deliveries": [delivery_json(r, attempts.get(r["delivery_id"], [])) for r in rows],
            "next_cursor": f"{more[0]}:{more[1]}" if more else None}


@bp.post("/sites/<site>/automations/<automation_id>/deliveries/<delivery_id>/retry")
@site_access
def retry_delivery(site, automation_id, delivery_id):
    """Send a delivery once more (failed, cancelled, skipped or delivered), at the next round."""
    _automation(site, automation_id)
    try:
        row = outbox.retry(_store(), site, automation_id, delivery_id)
    except ValueError as exc:
        raise ApiError(409, str(exc)) from None
    if row is None:
        raise ApiError(404, f"no delivery {delivery_id!r} of automation {automation_id!r}")
    return delivery_json(row), 202


def _period():
    args = _args(DRY_RUN_QUERY)
    now = now_ms()
    end = min(time_ms({"to": args.get("to")}, "to", now, end_of_day=True), now)
    start = time_ms({"from": args.get("from_")}, "from", end - 30 * DAY_MS)
    if start > end:
        raise ApiError(400, "invalid from: after 'to'", {"from": "after 'to'"})
    return start, end, now


def _dry_run_json(site, definition, journey):
    start, end, now = _period()
    found = dry_run(_store(), site, definition, journey, start, end, now)
    return {"from": iso(start), "to": iso(end), "people": found["people"], "truncated": found["truncated"],
            "deliveries": [{"person": d["person"], "at": iso(d["at_ms"]), "fire_at": iso(d["fire_ms"]),
                            "stage": d["to_stage"]} for d in found["deliveries"][:1000]]}


@bp.get("/sites/<site>/automations/<automation_id>/dry-run")
@site_access
def dry_run_automation(site, automation_id):
    """Who the automation would have fired for between from and to (the recorded transitions)."""
    automation = _automation(site, automation_id)
    return _dry_run_json(site, automation["definition"], _journey_of(site, automation["definition"]))


@bp.post("/sites/<site>/automations/dry-run")
@site_access
def dry_run_unsaved(site):
    """The dry run of a definition in the body, not saved (an editor's preview)."""
    loaded, journey = validated(site, request.get_json(silent=True))
    return _dry_run_json(site, loaded, journey)
