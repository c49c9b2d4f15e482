"""Automation definitions: their marshmallow schema, their triggers, and their storage.

An automation is ``{"name", "journey", "when": {TRIGGER}, "filter": {...}, "webhook": {"url"},
"enabled", "reentry", "backfill_from"}`` (DESIGN.md, *Automations*). Triggers:

- ``{"entered": J}``, ``{"dropped_after": J}``, ``{"stalled_at": J}``, ``{"reactivated": true}``,
  ``{"completed": true}``: a transition of that kind (at stage J) fires it;
- ``{"days_after": N, "stage": J}``: N days after the person entered stage J (their own day 0);
- ``{"no_touchpoint": {"after_stage": J, "days": N, "match": {rule} or [{rule}, …]}}``: N days
  after the person entered stage J, when no touchpoint of theirs matched the rule (any of the
  rules) in between.

``reentry``: ``once_per_run`` (the default: the first match of each pass of a person through the
journey), ``every_time`` (every matching transition), ``once_per_person`` (the first ever).
``filter``: ``traits`` (each must equal the person's current value), ``channel`` and ``campaign``
(one of the values given; of the touchpoint that started the person's run). Enabling never fires
for the past: transitions from the moment it was enabled fire, or from ``backfill_from``.
"""
import base64
import hashlib
import json
import secrets
import time
from datetime import date, datetime, timezone

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from .. import clock
from ..clock import DAY_MS
from ..errors import field_errors
from ..journeys import definitions as journeys
from ..journeys.definitions import ID_PATTERN, MatchSchema
from .addresses import AddressRefused, resolve

COLUMNS = ["site", "automation_id", "definition", "secret", "enabled", "since_ms", "disabled_reason", "deleted",
           "version"]
REENTRY = ("once_per_run", "every_time", "once_per_person")
# Trigger → the transition kind that fires it (the scheduled ones start at an ``entered``).
TRIGGER_KINDS = {"entered": "entered", "dropped_after": "dropped", "stalled_at": "stalled",
                 "reactivated": "reactivated", "completed": "completed", "days_after": "entered",
                 "no_touchpoint": "entered"}
SCHEDULED = ("days_after", "no_touchpoint")
# The webhook body's type for each trigger.
BODY_TYPES = {"entered": "journey.entered", "dropped_after": "journey.dropped", "stalled_at": "journey.stalled",
              "reactivated": "journey.reactivated", "completed": "journey.completed", "days_after": "journey.day",
              "no_touchpoint": "journey.no_touchpoint"}

_stage = dict(strict=True, validate=validate.Range(min=1, max=20))
_days = dict(strict=True, validate=validate.Range(min=0, max=3650))


class _OnlyTrue(fields.Boolean):
    def _deserialize(self, value, attr, data, **kwargs):
        if super()._deserialize(value, attr, data, **kwargs) is not True:
            raise ValidationError("true (or leave this trigger out)")
        return True


class StringOrList(fields.Field):
    """One string or a list of them, loaded as a list ("any of these")."""

    def _deserialize(self, value, attr, data, **kwargs):
        values = [value] if isinstance(value, str) else value
        if not isinstance(values, list) or not values or len(values) > 50 or \
                not all(isinstance(v, str) and 0 < len(v) <= 200 for v in values):
            raise ValidationError("a string, or a list of 1 to 50 strings")
        return values


class RuleOrRules(fields.Field):
    """A touchpoint rule, or a list of them (any one counts: "an email_sent or a call")."""

    def _deserialize(self, value, attr, data, **kwargs):
        rules = value if isinstance(value, list) else [value]
        if not rules or len(rules) > 10 or not all(isinstance(rule, dict) for rule in rules):
            raise ValidationError("a rule, or a list of 1 to 10 rules")
        loaded = [MatchSchema().load(rule) for rule in rules]
        return loaded if isinstance(value, list) else loaded[0]


def rules_of(match):
    """The rules of a ``no_touchpoint`` match, as a list."""
    return match if isinstance(match, list) else [match]


class NoTouchpointSchema(Schema):
    after_stage = fields.Integer(required=True, **_stage)
    days = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=3650))
    match = RuleOrRules(required=True, metadata={"description": "A rule (as a journey stage's match), or a list "
                                                                "of them: a touchpoint matching any one is contact"})


class WhenSchema(Schema):
    """Exactly one trigger (``stage`` goes with ``days_after``)."""

    entered = fields.Integer(**_stage)
    dropped_after = fields.Integer(**_stage)
    stalled_at = fields.Integer(**_stage)
    reactivated = _OnlyTrue()
    completed = _OnlyTrue()
    days_after = fields.Integer(**_days)
    stage = fields.Integer(**_stage)
    no_touchpoint = fields.Nested(NoTouchpointSchema)

    @validates_schema
    def _one_trigger(self, data, **kwargs):
        given = [name for name in TRIGGER_KINDS if name in data]
        if len(given) != 1:
            raise ValidationError(f"exactly one of {', '.join(TRIGGER_KINDS)}", "_schema")
        if ("stage" in data) != (given[0] == "days_after"):
            raise ValidationError("'stage' goes with 'days_after' (and it needs one)", "stage")


class FilterSchema(Schema):
    traits = fields.Dict(keys=fields.String(validate=validate.Length(min=1, max=64)),
                         values=fields.String(validate=validate.Length(max=500)), validate=validate.Length(max=20))
    channel = StringOrList()
    campaign = StringOrList()


class WebhookSchema(Schema):
    url = fields.Url(required=True, schemes={"http", "https"}, require_tld=False,
                     validate=validate.Length(max=2000))


def _moment(value):
    """``backfill_from`` as Unix ms: a date (its start, UTC), an ISO 8601 time or Unix ms."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        try:
            if len(value) == 10:
                day = date.fromisoformat(value)
                return int(datetime(day.year, day.month, day.day, tzinfo=timezone.utc).timestamp() * 1000)
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
            return int(parsed.replace(tzinfo=parsed.tzinfo or timezone.utc).timestamp() * 1000)
        except ValueError:
            pass
    raise ValidationError("a date (YYYY-MM-DD), an ISO 8601 time or Unix milliseconds")


class Moment(fields.Field):
    def _deserialize(self, value, attr, data, **kwargs):
        _moment(value)
        return value


class AutomationSchema(Schema):
    """An automation as PUT and ``tracker automation apply`` take it."""

    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    journey = fields.String(required=True, validate=validate.Regexp(ID_PATTERN, error="a journey id"))
    when = fields.Nested(WhenSchema, required=True)
    filter = fields.Nested(FilterSchema, load_default=dict)
    webhook = fields.Nested(WebhookSchema, required=True)
    enabled = fields.Boolean(load_default=False)
    reentry = fields.String(load_default="once_per_run", validate=validate.OneOf(REENTRY))
    backfill_from = Moment(load_default=None)
    description = fields.String(load_default="", validate=validate.Length(max=2000))


AUTOMATION = AutomationSchema()


class AutomationError(ValueError):
    """A definition that does not validate; ``fields`` maps "when.entered" to the reason."""

    def __init__(self, fields_):
        super().__init__("invalid automation: " + "; ".join(f"{k}: {v}" for k, v in fields_.items()))
        self.fields = fields_


def trigger(definition):
    """The trigger's name ("entered", "days_after"…)."""
    return next(name for name in TRIGGER_KINDS if name in definition["when"])


def trigger_stage(definition):
    """The stage the trigger watches (0: any)."""
    when, name = definition["when"], trigger(definition)
    if name == "days_after":
        return when["stage"]
    if name == "no_touchpoint":
        return when["no_touchpoint"]["after_stage"]
    return when[name] if isinstance(when[name], int) and not isinstance(when[name], bool) else 0


def delay_ms(definition):
    """How long after the transition a scheduled trigger is due (0 for the others)."""
    when = definition["when"]
    if "days_after" in when:
        return when["days_after"] * DAY_MS
    if "no_touchpoint" in when:
        return when["no_touchpoint"]["days"] * DAY_MS
    return 0


def signature(definition):
    """What the trigger is, as text: a pending delivery of another signature (the trigger was
    edited) is cancelled, not sent."""
    name = trigger(definition)
    detail = json.dumps(definition["when"][name], sort_keys=True)
    if name == "days_after":
        detail += f"@{definition['when']['stage']}"
    return f"{name}:{hashlib.blake2b(detail.encode(), digest_size=6).hexdigest()}"


def validate_definition(data, journey):
    """The loaded definition, or AutomationError naming each bad field; ``journey`` is the
    definition of the journey it names (None when there is none)."""
    if not isinstance(data, dict):
        raise AutomationError({"body": "an automation is a JSON object"})
    try:
        loaded = AUTOMATION.load(data)
    except ValidationError as exc:
        raise AutomationError(field_errors(exc.messages)) from None
    if journey is None:
        raise AutomationError({"journey": f"no journey {loaded['journey']!r} on this site"})
    stages = len(journey["stages"])
    if trigger_stage(loaded) > stages:
        raise AutomationError({f"when.{trigger(loaded)}": f"the journey has {stages} stages"})
    if trigger(loaded) == "dropped_after" and loaded["when"]["dropped_after"] == stages:
        raise AutomationError({"when.dropped_after": "nobody drops after the last stage (use completed)"})
    return loaded


def checked(store, site, data, allow_private=False):
    """``(definition, journey)`` of ``data`` checked in full: the schema, its journey and stage
    on ``site``, and its webhook's address; AutomationError naming each bad field."""
    journey_id = data.get("journey") if isinstance(data, dict) else None
    journey = journeys.get(store, site, journey_id) if isinstance(journey_id, str) else None
    loaded = validate_definition(data, journey)
    try:
        resolve(loaded["webhook"]["url"], allow_private)
    except AddressRefused as exc:
        raise AutomationError({"webhook.url": str(exc)}) from None
    return loaded, journey


def new_secret():
    """A Standard Webhooks signing secret: ``whsec_`` and 24 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def since_of(definition, previous, now_ms):
    """From when transitions fire: ``backfill_from``; else the moment it was enabled (kept while
    it stays enabled; 0 while disabled)."""
    if not definition["enabled"]:
        return 0
    if definition.get("backfill_from") is not None:
        return _moment(definition["backfill_from"])
    if previous and previous["enabled"] and previous["since_ms"] and previous["definition"].get("backfill_from") is None:
        return previous["since_ms"]
    return now_ms


def save(store, site, automation_id, definition, now_ms=None):
    """Store a validated definition (create or replace). Returns the signing secret when it
    was made now (the first save), else None."""
    previous = get(store, site, automation_id)
    now_ms = now_ms or clock.now_ms()
    made = None if previous else new_secret()
    secret = previous["secret"] if previous else made
    _write(store, site, automation_id, definition, secret, since_of(definition, previous, now_ms))
    return made


def disable(store, site, automation_id, reason):
    """Turn an automation off, saying why (the receiver answered 410 Gone)."""
    found = get(store, site, automation_id)
    if found and found["definition"]["enabled"]:
        _write(store, site, automation_id, dict(found["definition"], enabled=False), found["secret"], 0, reason)


def _write(store, site, automation_id, definition, secret, since_ms, reason="", deleted=0):
    store.insert("automations", COLUMNS, [(site, automation_id, json.dumps(definition, sort_keys=True), secret,
                                           int(definition.get("enabled", False)), since_ms, reason, deleted,
                                           time.time_ns())])


def delete(store, site, automation_id):
    """Delete an automation; True when it existed. Its pending deliveries are not sent."""
    found = get(store, site, automation_id)
    if found is None:
        return False
    _write(store, site, automation_id, found["definition"], found["secret"], 0, deleted=1)
    return True


_LATEST = """SELECT site, automation_id, argMax(definition, version) AS definition, argMax(secret, version) AS secret,
    argMax(since_ms, version) AS since_ms, argMax(disabled_reason, version) AS disabled_reason,
    argMax(deleted, version) AS gone
    FROM automations WHERE {where} GROUP BY site, automation_id HAVING gone = 0 ORDER BY site, automation_id"""


def _rows(store, where, params):
    rows = store.query(_LATEST.format(where=where), params).dicts()
    found = []
    for r in rows:
        definition = json.loads(r["definition"])
        found.append({"site": r["site"], "id": r["automation_id"], "definition": definition,
                      "enabled": definition["enabled"], "secret": r["secret"], "since_ms": r["since_ms"],
                      "disabled_reason": r["disabled_reason"]})
    return found


def get(store, site, automation_id):
    """{"site", "id", "definition", "secret", "since_ms", "disabled_reason"} or None."""
    found = _rows(store, "site = %(site)s AND automation_id = %(id)s", {"site": site, "id": automation_id})
    return found[0] if found else None


def list_all(store, site, journey_id=None):
    """The site's automations (of one journey, if given), by id."""
    found = _rows(store, "site = %(site)s", {"site": site})
    return [a for a in found if journey_id is None or a["definition"]["journey"] == journey_id]


def list_every(store):
    """Every automation of every site, enabled or not."""
    return _rows(store, "1", {})


def public(automation):
    """What the API shows of an automation (never its secret)."""
    return dict(automation["definition"], id=automation["id"], since=automation["since_ms"] or None,
                disabled_reason=automation["disabled_reason"] or None)
