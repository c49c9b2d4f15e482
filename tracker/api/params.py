"""The query strings of the analytics API as marshmallow schemas: they parse every request,
and the OpenAPI document lists their fields as the parameters (``openapi.py``).

A bad value is a 400 naming each field at fault: ``{"error", "fields": {name: reason}}``.
"""
from datetime import date, datetime, timezone
from functools import wraps

from flask import request
from marshmallow import EXCLUDE, Schema, ValidationError, fields, post_load, validate, validates_schema

from ..clock import DAY_MS, day_end_ms, day_start_ms, now_ms
from ..errors import ApiError, field_errors
from ..journeys import reports
from ..journeys.definitions import MAX_STAGES
from ..journeys.engine import STATUSES
from ..journeys.rules import BREAKDOWNS
from ..journeys.transitions import KINDS as TRANSITION_KINDS
from . import openapi

DEFAULT_DAYS = 30


class TimeMs(fields.String):
    """A time as Unix milliseconds, YYYY-MM-DD (its first millisecond, or with ``end_of_day``
    its last) or ISO 8601 (UTC unless it says otherwise); loads as Unix milliseconds."""

    default_error_messages = {"invalid": "expected YYYY-MM-DD, an ISO 8601 time or Unix milliseconds"}

    def __init__(self, end_of_day=False, **kwargs):
        kwargs.setdefault("metadata", {}).setdefault(
            "description", "Unix milliseconds, YYYY-MM-DD (UTC) or ISO 8601")
        super().__init__(**kwargs)
        self.end_of_day = end_of_day

    def _deserialize(self, value, attr, data, **kwargs):
        raw = super()._deserialize(value, attr, data, **kwargs)
        if raw.isdigit():
            return int(raw)
        try:
            if len(raw) == 10:
                day = date.fromisoformat(raw)
                return day_end_ms(day) if self.end_of_day else day_start_ms(day)
            parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            raise self.make_error("invalid") from None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=timezone.utc)
        return int(parsed.timestamp() * 1000)


class TransitionCursor(fields.String):
    """The opaque ``next_cursor`` of a previous page of transitions; loads as (at, id)."""

    def _serialize(self, value, attr, obj, **kwargs):
        return reports.encode_cursor(*value) if value else None

    def _deserialize(self, value, attr, data, **kwargs):
        try:
            at, transition_id = reports.decode_cursor(super()._deserialize(value, attr, data, **kwargs))
        except ValueError as exc:
            raise ValidationError(str(exc)) from None
        return at, transition_id


class Cursor(fields.String):
    """The opaque ``next_cursor`` of a previous page; loads as (last touchpoint, person)."""

    def _deserialize(self, value, attr, data, **kwargs):
        try:
            return reports.decode_cursor(super()._deserialize(value, attr, data, **kwargs))
        except ValueError as exc:
            raise ValidationError(str(exc)) from None


def _whole(low, high, **kwargs):
    """A whole number from ``low`` to ``high``."""
    return fields.Integer(validate=validate.Range(low, high, error="must be between {min} and {max}"),
                          error_messages={"invalid": "not a whole number"}, **kwargs)


def _one_of(choices, **kwargs):
    return fields.String(validate=validate.OneOf(tuple(choices), error="one of {choices}"), **kwargs)


class QueryArgs(Schema):
    """Unknown parameters are ignored (cache busters, tracking tags), as the web does."""

    class Meta:
        unknown = EXCLUDE


class FunnelArgs(QueryArgs):
    """Entries from ``from`` to ``to`` (default the 30 whole days up to ``as_of``, today included;
    ``as_of`` defaults to now)."""

    from_ = TimeMs(data_key="from", metadata={"description": "First entry time (default the start of the UTC "
                                                            "day 29 days before 'to': 30 whole days)"})
    to = TimeMs(end_of_day=True, metadata={"description": "Last entry time, a whole day when a date "
                                                          "(default and at most as_of)"})
    as_of = TimeMs(metadata={"description": "The time the figures are as of (default now)"})
    breakdown = _one_of(BREAKDOWNS, metadata={"description": "Figures per value of this field too"})

    @post_load
    def _range(self, data, **kwargs):
        as_of = data.get("as_of", now_ms())
        end = min(data.get("to", as_of), as_of)
        # whole days, as the dashboards ask: a range of days is read from journey state's sums
        start = data.get("from_", end - end % DAY_MS - (DEFAULT_DAYS - 1) * DAY_MS)
        if start > end:
            raise ValidationError("after 'to' (or after as_of)", "from")
        return {"start": start, "end": end, "as_of": as_of, "breakdown": data.get("breakdown")}


class PeopleArgs(QueryArgs):
    """A page of a journey's people with a status at a stage, by last touchpoint."""

    stage = _whole(1, MAX_STAGES, metadata={"description": "The stage (default: any)"})
    status = _one_of(STATUSES, load_default="at")
    as_of = TimeMs(metadata={"description": "The time the list is as of (default now)"})
    order = _one_of(("desc", "asc"), load_default="desc", metadata={"description": "By last touchpoint"})
    limit = _whole(1, 500, load_default=50)
    cursor = Cursor(metadata={"description": "next_cursor of the previous page"})
    from_ = TimeMs(data_key="from", metadata={"description": "First entry time (default: any)"})
    to = TimeMs(end_of_day=True, metadata={"description": "Last entry time (default and at most as_of)"})

    @post_load
    def _times(self, data, **kwargs):
        data["as_of"] = data.get("as_of", now_ms())
        data["start"] = data.pop("from_", 0)
        data["end"] = min(data.pop("to", data["as_of"]), data["as_of"])
        data.setdefault("stage", None)
        data.setdefault("cursor", None)
        return data


class TransitionArgs(QueryArgs):
    """Who moved in a journey, newest first."""

    since = TimeMs(metadata={"description": "Transitions from this time on (default 30 days ago)"})
    kind = fields.List(_one_of(TRANSITION_KINDS), metadata={"description": "Only these kinds (repeatable)"})
    stage = _whole(1, MAX_STAGES, metadata={"description": "Only transitions to this stage"})
    limit = _whole(1, 500, load_default=50)
    cursor = TransitionCursor(metadata={"description": "next_cursor of the previous page"})

    @post_load
    def _defaults(self, data, **kwargs):
        data.setdefault("since", now_ms() - DEFAULT_DAYS * DAY_MS)
        for key in ("kind", "stage", "cursor"):
            data.setdefault(key, None)
        return data


class SearchArgs(QueryArgs):
    """Text to find in a person's email, user id, name or company."""

    q = fields.String(required=True, error_messages={"required": "at least 2 characters"},
                      metadata={"description": "At least 2 characters (the first 200 count)"})
    limit = _whole(1, 100, load_default=20)

    @validates_schema
    def _long_enough(self, data, **kwargs):
        if len(data.get("q", "").strip()) < 2:
            raise ValidationError("at least 2 characters", "q")

    @post_load
    def _trim(self, data, **kwargs):
        return dict(data, q=data["q"].strip()[:200])


class PersonArgs(QueryArgs):
    """One person's page as of a time."""

    as_of = TimeMs(metadata={"description": "The time the page is as of (default now)"})

    @post_load
    def _now(self, data, **kwargs):
        return {"as_of": data.get("as_of", now_ms())}


def _plain(schema, args):
    """A query string as a dict: a list field takes every value given (``kind=a&kind=b`` or
    ``kind=a,b``), any other field its first."""
    if not hasattr(args, "getlist"):
        return args
    lists = {field.data_key or name for name, field in schema.fields.items() if isinstance(field, fields.List)}
    return {key: [v for value in args.getlist(key) for v in value.split(",") if v] if key in lists else args[key]
            for key in args}


def load_args(schema, args):
    """``args`` loaded by ``schema``, or a 400 naming every bad field."""
    try:
        return schema.load(_plain(schema, args))
    except ValidationError as exc:
        fields_ = field_errors(exc.messages)
        raise ApiError(400, "invalid " + "; ".join(f"{k}: {v}" for k, v in fields_.items()), fields_) from None


def query_args(schema_class):
    """Decorator: the view gets ``query``, the query string loaded by ``schema_class`` (400 when
    bad), and the OpenAPI document lists the schema's fields as the view's parameters."""
    schema = schema_class()

    def decorate(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            return view(*args, query=load_args(schema, request.args), **kwargs)

        openapi.describe(wrapper, query=schema_class)
        return wrapper

    return decorate
