"""marshmallow schemas of the three ingest endpoints, built once per module.

Limits (string lengths, properties per event) live here; the batch size and the body
size come from settings. Unknown keys are refused so a typo is an error, not a silent loss.
"""
import re
from datetime import datetime, timezone
from functools import lru_cache
from typing import NamedTuple

from marshmallow import Schema, ValidationError, fields, missing, validate

from .channels import CHANNELS

MAX_PROPS = 50
MAX_KEY = 64
MAX_VALUE = 500
TYPE_PATTERN = r"^[a-z][a-z0-9_]{0,31}$"


class Scalar(fields.Field):
    """A property value: a string, number or boolean, stored as a string."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, (int, float)):
            return repr(value) if isinstance(value, float) else str(value)
        if isinstance(value, str):
            if len(value) > MAX_VALUE:
                raise ValidationError(f"longer than {MAX_VALUE} characters")
            return value
        if value is None:
            return ""
        raise ValidationError("must be a string, number or boolean")


class Timestamp(fields.Field):
    """Unix time in milliseconds (a number ≥ 10^11) or seconds, or an ISO-8601 string.

    Deserialises to Unix milliseconds.
    """

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool):
            raise ValidationError("must be a number or an ISO-8601 string")
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                try:
                    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
                except ValueError:
                    raise ValidationError("must be Unix milliseconds or an ISO-8601 time") from None
                if parsed.tzinfo is None:
                    parsed = parsed.replace(tzinfo=timezone.utc)
                return int(parsed.timestamp() * 1000)
        if not isinstance(value, (int, float)) or value != value or value < 0:
            raise ValidationError("must be a positive number or an ISO-8601 string")
        millis = value if value >= 1e11 else value * 1000
        if millis > 4102444800000:  # 2100-01-01
            raise ValidationError("is too far in the future")
        return int(millis)


def _text(limit, **kwargs):
    return fields.String(validate=validate.Length(max=limit), **kwargs)


def _web_url():
    """A page or referrer URL: http(s) (or an Android app referrer), or empty."""
    return fields.String(load_default="", validate=[
        validate.Length(max=2000),
        validate.Regexp(r"^((https?|android-app)://|$)", re.I, error="must be an http(s) URL")])


def _mapping():
    return fields.Dict(keys=fields.String(validate=validate.Length(min=1, max=MAX_KEY)),
                       values=Scalar(allow_none=True), validate=validate.Length(max=MAX_PROPS))


_ID = r"^[A-Za-z0-9._:@+\-]{1,128}$"


class EventSchema(Schema):
    """One touchpoint as the snippet, the pixel and the server API send it."""

    type = fields.String(load_default="pageview", validate=validate.Regexp(
        TYPE_PATTERN, error="lower-case letters, digits and _ (at most 32), starting with a letter"))
    name = _text(300, load_default="")
    url = _web_url()
    ref = _web_url()
    title = _text(300, load_default="")
    screen = fields.String(load_default="", validate=validate.Regexp(r"^(\d{1,5}x\d{1,5})?$",
                                                                     error="WIDTHxHEIGHT"))
    ts = Timestamp(load_default=None)
    eid = fields.String(load_default=None, validate=validate.Regexp(_ID, error="1-128 characters of A-Z a-z 0-9 . _ : @ + -"))
    sid = _text(64, load_default="")
    uid = _text(200, load_default="")
    vid = _text(128, load_default=None)
    props = _mapping()
    traits = _mapping()
    utm_source = _text(200, load_default="")
    utm_medium = _text(200, load_default="")
    utm_campaign = _text(200, load_default="")
    utm_term = _text(200, load_default="")
    utm_content = _text(200, load_default="")
    ua = _text(512, load_default="")
    # "" lets enrichment decide; a server may name one of enrichment's channels itself.
    channel = fields.String(load_default="", validate=validate.OneOf(("", *CHANNELS)))


class _Plain(NamedTuple):
    required: frozenset
    fields: dict  # name -> the field, bound to an instance of the schema
    defaults: dict


@lru_cache(maxsize=None)
def _plain(schema_class):
    """What ``load_fast`` needs of a flat schema whose load is only its fields' own work (no
    hooks or schema validators, no renamed or dump-only fields), else None."""
    schema = schema_class()
    if any(schema._hooks.values()) or any(f.data_key or f.attribute or f.dump_only for f in schema.fields.values()):
        return None
    defaults = {name: f.load_default for name, f in schema.fields.items()
                if not callable(f.load_default) and f.load_default is not missing}
    return _Plain(frozenset(n for n, f in schema.fields.items() if f.required), dict(schema.fields), defaults)


def load_fast(schema, data):
    """``schema.load(data)`` for a flat schema: each key deserialised and validated by its own
    marshmallow field, missing ones given their defaults.

    The schema's own machinery around the fields (hooks, error collection, unknown keys)
    costs as much again as the fields themselves on an event of a few keys, so it runs only
    when something is wrong (a missing or unknown key, a field refusing its value), and then
    the whole load is the schema's, to name every error as marshmallow words it."""
    if not isinstance(data, dict):
        raise ValidationError({"_schema": ["must be an object"]})
    plain = _plain(type(schema))
    keys = data.keys()
    if plain is None or not (keys >= plain.required and keys <= plain.fields.keys()):
        return schema.load(data)
    loaded = dict(plain.defaults)
    try:
        for name, value in data.items():
            loaded[name] = plain.fields[name].deserialize(value, name, data)
    except ValidationError:
        return schema.load(data)
    return loaded


def load_event(event):
    """Validate one event with ``EventSchema``; missing fields get their defaults."""
    return load_fast(EVENT, event)


class Events(fields.Field):
    """A non-empty list of events, each validated by ``load_event``."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, list):
            raise ValidationError("must be a list of events")
        if not value:
            raise ValidationError("must hold at least one event")
        loaded, errors = [], {}
        for index, event in enumerate(value):
            try:
                loaded.append(load_event(event))
            except ValidationError as exc:
                errors[index] = exc.messages
        if errors:
            raise ValidationError(errors)
        return loaded


class BatchSchema(Schema):
    """The body of POST /collect and /api/v1/touchpoints."""

    site = fields.String(required=True, validate=validate.Length(min=1, max=64))
    vid = _text(128, load_default="")
    v = _text(32, load_default="")
    events = Events(required=True)


class PixelSchema(EventSchema):
    """The query string of GET /p.gif: one event, flat, properties as ``p.KEY=VALUE``."""

    site = fields.String(required=True, validate=validate.Length(min=1, max=64))
    cb = fields.String(load_default="")  # cache-buster some mail clients need


EVENT = EventSchema()
BATCH = BatchSchema()
PIXEL = PixelSchema()


def pixel_params(args):
    """Fold a pixel's flat query arguments into the event shape (``p.KEY`` → props)."""
    data = {}
    props = {}
    for key, value in args.items(multi=False):
        if key.startswith("p."):
            props[key[2:]] = value
        elif key.startswith("t."):
            data.setdefault("traits", {})[key[2:]] = value
        else:
            data[key] = value
    if props:
        data["props"] = props
    return data
