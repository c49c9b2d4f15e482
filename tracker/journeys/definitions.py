"""Journey definitions: their marshmallow schema and their storage in ClickHouse.

A definition is ``{"name", "window_days", "stall_after_days", "order", "stages": [{"name",
"match": {...}}], "exclude": [{...}]}``; ``match`` fields are those of ``rules.RULE_FIELDS``.
"""
import json
import re
import time

from marshmallow import Schema, ValidationError, fields, post_load, validate, validates_schema

from ..clock import DAY_MS
from ..errors import field_errors
from ..ingest.channels import CHANNELS
from .rules import RULE_FIELDS

MAX_STAGES = 20
MAX_RULE_PROPS = 10
# "any" counts stages via every subset of them (Hall's theorem), so it stays small.
MAX_ANY_STAGES = 8
# order → what the editor says it means.
ORDERS = {"ordered": "In order (other touchpoints may come between)",
          "strict": "Strictly in a row (nothing in between)",
          "any": "In any order"}
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
COLUMNS = ["site", "journey_id", "definition", "deleted", "version"]

_text = dict(validate=validate.Length(min=1, max=200))


def _at_most_props(count):
    """A check of a rule's properties (not validate.Length, which OpenAPI would read as a string's)."""
    def check(props):
        if len(props) > count:
            raise ValidationError(f"at most {count} properties")
    return check


def _match_field(name):
    """The marshmallow field of one rule field: a non-empty string, but for a path (no spaces), a
    channel (one of ingest's) and properties (a few key=value pairs)."""
    if name == "path":
        return fields.String(validate=[validate.Length(min=1, max=500),
                                       validate.Regexp(r"^[^\s]*$", error="no spaces in a path")])
    if name == "channel":
        return fields.String(validate=validate.OneOf(CHANNELS))
    if name == "props":
        return fields.Dict(keys=fields.String(validate=validate.Length(min=1, max=64)),
                           values=fields.String(validate=validate.Length(max=500)),
                           validate=_at_most_props(MAX_RULE_PROPS), metadata={"maxProperties": MAX_RULE_PROPS})
    return fields.String(**_text)


class _MatchRules(Schema):
    """The conditions a touchpoint must all meet; at least one."""

    @validates_schema
    def _not_empty(self, data, **kwargs):
        if not any(data.get(f) for f in RULE_FIELDS):
            raise ValidationError(f"give at least one of {', '.join(RULE_FIELDS)}", "_schema")


# One field per entry of the rule vocabulary (rules.RULE_FIELDS), so neither can lack the other.
MatchSchema = _MatchRules.from_dict({name: _match_field(name) for name in RULE_FIELDS}, name="MatchSchema")


class StageSchema(Schema):
    name = fields.String(required=True, **_text)
    match = fields.Nested(MatchSchema, required=True)


# A conversion window's unit → (milliseconds, largest value): PostHog's units and ranges.
WINDOW_UNITS = {"second": (1000, 3600), "minute": (60_000, 1440), "hour": (3_600_000, 24),
                "day": (DAY_MS, 365), "week": (7 * DAY_MS, 53), "month": (31 * DAY_MS, 12)}


class WindowSchema(Schema):
    """``{"value": 15, "unit": "minute"}``."""

    value = fields.Integer(required=True, strict=True)
    unit = fields.String(required=True, validate=validate.OneOf(WINDOW_UNITS))

    @validates_schema
    def _in_range(self, data, **kwargs):
        largest = WINDOW_UNITS.get(data.get("unit"), (0, 0))[1]
        if largest and not 1 <= data.get("value", 0) <= largest:
            raise ValidationError(f"from 1 to {largest} {data['unit']}s", "value")


class JourneySchema(Schema):
    """A whole journey definition, as PUT and as `tracker journey apply` take it.

    The conversion window is ``window`` (a value and a unit) or, as before, ``window_days``;
    a loaded definition has ``window`` always, and ``window_days`` when its unit is days."""

    name = fields.String(required=True, **_text)
    window = fields.Nested(WindowSchema, load_default=None)
    window_days = fields.Integer(load_default=None, validate=validate.Range(min=1, max=3650))
    stall_after_days = fields.Integer(load_default=14, validate=validate.Range(min=1, max=3650))
    order = fields.String(load_default="ordered", validate=validate.OneOf(tuple(ORDERS)))
    stages = fields.List(fields.Nested(StageSchema), required=True,
                         validate=validate.Length(min=1, max=MAX_STAGES))
    exclude = fields.List(fields.Nested(MatchSchema), load_default=list, validate=validate.Length(max=20))
    description = fields.String(load_default="", validate=validate.Length(max=2000))
    # When a rebuild of its state was last asked for (`tracker journey rebuild`); a new value
    # is a new build, with a history of transitions of its own.
    rebuilt_at = fields.Integer(load_default=None)

    @validates_schema
    def _any_is_small(self, data, **kwargs):
        if data.get("order") == "any" and len(data.get("stages") or []) > MAX_ANY_STAGES:
            raise ValidationError(f"order 'any' takes at most {MAX_ANY_STAGES} stages", "stages")

    @validates_schema
    def _one_window(self, data, **kwargs):
        window, days = data.get("window"), data.get("window_days")
        if window and days and (window["unit"], window["value"]) != ("day", days):
            raise ValidationError("give window or window_days, not both", "window")

    @post_load
    def _window(self, data, **kwargs):
        if data["window"] is None:
            data["window"] = {"value": data["window_days"] or 30, "unit": "day"}
        data["window_days"] = data["window"]["value"] if data["window"]["unit"] == "day" else None
        if data["window_days"] is None:
            del data["window_days"]
        if data.get("rebuilt_at") is None:
            data.pop("rebuilt_at", None)
        return data


def window_ms(definition):
    """A definition's conversion window in milliseconds (stored definitions may predate ``window``)."""
    window = definition.get("window") or {"value": definition["window_days"], "unit": "day"}
    return window["value"] * WINDOW_UNITS[window["unit"]][0]


JOURNEY = JourneySchema()


class DefinitionError(ValueError):
    """A definition that does not validate; ``fields`` maps "stages.2.match.path" to the reason."""

    def __init__(self, fields_):
        super().__init__("invalid journey definition: " + "; ".join(f"{k}: {v}" for k, v in fields_.items()))
        self.fields = fields_


def validate_definition(data):
    """The loaded definition, or DefinitionError naming each bad field."""
    if not isinstance(data, dict):
        raise DefinitionError({"body": "a journey is a JSON object"})
    try:
        return JOURNEY.load(data)
    except ValidationError as exc:
        raise DefinitionError(field_errors(exc.messages)) from None


def valid_id(journey_id):
    return bool(re.match(ID_PATTERN, journey_id or ""))


def save(store, site, journey_id, definition):
    """Store (create or replace) a validated definition."""
    store.insert("journeys", COLUMNS, [(site, journey_id, json.dumps(definition, sort_keys=True), 0,
                                        time.time_ns())])


def request_rebuild(store, site, journey_id):
    """Ask for the journey's state to be computed again (a new build); the definition, or None."""
    found = get(store, site, journey_id)
    if found is None:
        return None
    found["rebuilt_at"] = int(time.time() * 1000)
    save(store, site, journey_id, {k: v for k, v in found.items() if k != "id"})
    return found


def delete(store, site, journey_id):
    """Delete a journey; True when it existed."""
    if get(store, site, journey_id) is None:
        return False
    store.insert("journeys", COLUMNS, [(site, journey_id, "", 1, time.time_ns())])
    return True


def list_all(store, site):
    """Every live journey of ``site``: [{"id", ...definition}], by id."""
    rows = store.query("""
        SELECT journey_id, argMax(definition, version) AS d, argMax(deleted, version) AS gone
        FROM journeys WHERE site = %(site)s GROUP BY journey_id HAVING gone = 0 ORDER BY journey_id""",
                       {"site": site})
    return [_stored(r[1], r[0]) for r in rows]


def list_every(store):
    """Every live journey of every site: [(site, definition with its id)]."""
    rows = store.query("""
        SELECT site, journey_id, argMax(definition, version) AS d, argMax(deleted, version) AS gone
        FROM journeys GROUP BY site, journey_id HAVING gone = 0 ORDER BY site, journey_id""")
    return [(r[0], _stored(r[2], r[1])) for r in rows]


def get(store, site, journey_id):
    """One journey's definition with its id, or None."""
    rows = store.query("""
        SELECT argMax(definition, version) AS d, argMax(deleted, version) AS gone
        FROM journeys WHERE site = %(site)s AND journey_id = %(id)s GROUP BY journey_id""",
                       {"site": site, "id": journey_id})
    if not rows or rows[0][1]:
        return None
    return _stored(rows[0][0], journey_id)


def _stored(text, journey_id):
    """A stored definition with its id; those stored before ``window`` existed get it."""
    definition = dict(json.loads(text), id=journey_id)
    definition.setdefault("window", {"value": definition.get("window_days", 30), "unit": "day"})
    return definition
