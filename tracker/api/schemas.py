"""The bodies the analytics API answers, as marshmallow schemas: the OpenAPI document is made
from them, and the API's tests validate real answers against them, so neither drifts."""
from marshmallow import Schema, fields

from ..journeys.definitions import JourneySchema, WindowSchema

Ms = fields.Integer  # a time in Unix milliseconds


def _ms(description="", **kwargs):
    return Ms(metadata={"description": description or "Unix milliseconds"}, **kwargs)


def _maybe(field_class, description="", **kwargs):
    """A field that is null when there is nothing to say (no stage yet, nobody to divide by)."""
    return field_class(allow_none=True, metadata={"description": description}, **kwargs)


def _traits():
    return fields.Dict(keys=fields.String(), values=fields.String(),
                       metadata={"description": "What identify said of the person: email, name, company…"})


class ErrorSchema(Schema):
    """Every failure: a sentence, and for bad input the fields at fault."""

    error = fields.String(required=True)
    fields_ = fields.Dict(data_key="fields", keys=fields.String(), values=fields.String(),
                          metadata={"description": "name (\"stages.2.match.path\") → what is wrong"})


class BuildSchema(Schema):
    """Journey state being built for a definition (until ready, reads use the live engine)."""

    status = fields.String(required=True, metadata={"description": "waiting, building, transitions (readable, "
                                                                   "history being derived), ready or failed"})
    persons = fields.Integer(required=True)
    transitions_done = fields.Integer(required=True, metadata={"description": "People whose history is derived"})
    started_at = fields.Integer()
    updated_at = fields.Integer()
    error = fields.String()


class StoredJourneySchema(JourneySchema):
    """A journey as stored: its definition and its id (and, when read one by one, its state)."""

    id = fields.String(required=True)
    state = fields.Nested(BuildSchema, metadata={"description": "The journey state of this definition"})


class SourceSchema(Schema):
    """Where figures come from: kept journey state (milliseconds), or the touchpoints themselves
    through the live engine (a past as_of, a journey whose state is being built)."""

    source = fields.String(required=True, metadata={"description": "state or live"})
    reason = fields.String(metadata={"description": "Why live"})
    rebuild = fields.Nested(BuildSchema, allow_none=True, metadata={"description": "The build under way"})
    state_lag_seconds = _maybe(fields.Integer, "How far the journey worker is behind arrivals")
    data_from = _maybe(fields.Integer, "Unix milliseconds from which the site keeps touchpoints (its "
                                       "retention): earlier entries are gone; absent when all are kept")


class JourneyListSchema(Schema):
    journeys = fields.List(fields.Nested(StoredJourneySchema), required=True)


class StageFiguresSchema(Schema):
    """One stage of a funnel; times are seconds, null where nobody reached the stage."""

    name = fields.String(required=True)
    reached = fields.Integer(required=True)
    in_progress = fields.Integer(required=True, metadata={"description": "At this stage, window still open"})
    dropped = fields.Integer(required=True, metadata={"description": "At this stage, window closed"})
    stalled = fields.Integer(required=True, metadata={"description": "At this stage, and no touchpoint for "
                                                                     "stall_after_days"})
    conversion_from_previous = _maybe(fields.Float)
    conversion_from_start = _maybe(fields.Float)
    median_seconds_from_previous = _maybe(fields.Float)
    p90_seconds_from_previous = _maybe(fields.Float)
    median_seconds_from_start = _maybe(fields.Float)
    p90_seconds_from_start = _maybe(fields.Float)


class BreakdownRowSchema(Schema):
    value = fields.String(required=True)
    people = fields.Integer(required=True)
    stages = fields.List(fields.Nested(StageFiguresSchema), required=True)


class FunnelSchema(SourceSchema):
    """A journey's funnel for the entries in [from, to], as of as_of."""

    journey = fields.String(required=True)
    order = fields.String(required=True)
    window = fields.Nested(WindowSchema, required=True)
    from_ = _ms("First entry time", data_key="from", required=True)
    to = _ms("Last entry time", required=True)
    as_of = _ms("The time the figures are as of", required=True)
    people = fields.Integer(required=True, metadata={"description": "People who entered"})
    stages = fields.List(fields.Nested(StageFiguresSchema), required=True)
    breakdown_by = fields.String(metadata={"description": "Only with ?breakdown="})
    breakdown = fields.List(fields.Nested(BreakdownRowSchema), metadata={"description": "Only with ?breakdown="})


class StageReachedSchema(Schema):
    name = fields.String(required=True)
    reached_ms = _maybe(Ms, "When the person reached it, null if not")


class PlaceSchema(Schema):
    """Where a person is in one journey."""

    stage = fields.Integer(required=True, metadata={"description": "Stages reached; 0 = not entered"})
    stage_name = _maybe(fields.String, required=True)
    stage_time_ms = _maybe(Ms, "When the current stage was reached")
    entered_ms = _maybe(Ms, "When the person entered (their stage-1 touchpoint)")
    status = fields.String(required=True, metadata={"description": "completed, in_progress, dropped or not_entered"})
    stalled = fields.Boolean(required=True)
    stages = fields.List(fields.Nested(StageReachedSchema), required=True)
    last_touch_ms = _maybe(Ms, "The person's last touchpoint")


class ListedPersonSchema(PlaceSchema):
    """A person in a journey's people list."""

    person = fields.String(required=True)
    traits = _traits()


class PeoplePageSchema(SourceSchema):
    """A page of a journey's people; pass next_cursor as ?cursor= for the next (null: the last page)."""

    people = fields.List(fields.Nested(ListedPersonSchema), required=True)
    next_cursor = _maybe(fields.String, required=True)
    as_of = _ms(required=True)
    status = fields.String(required=True)
    stage = _maybe(fields.Integer, required=True)


class FoundPersonSchema(Schema):
    person = fields.String(required=True)
    traits = _traits()


class SearchResultSchema(Schema):
    people = fields.List(fields.Nested(FoundPersonSchema), required=True)


class TouchpointSchema(Schema):
    """One touchpoint of a person's timeline."""

    time_ms = _ms(required=True)
    event_id = fields.String(required=True)
    visitor_id = fields.String(required=True)
    session_id = fields.String(required=True)
    type = fields.String(required=True)
    name = fields.String(required=True)
    url = fields.String(required=True)
    path = fields.String(required=True)
    title = fields.String(required=True)
    referrer_host = fields.String(required=True)
    channel = fields.String(required=True, metadata={"description": "Its own, or its visit's"})
    source = fields.String(required=True, metadata={"description": "The search engine, network, webmail or "
                                                                    "assistant it came from (its own, or its visit's)"})
    utm_source = fields.String(required=True)
    utm_medium = fields.String(required=True)
    utm_campaign = fields.String(required=True)
    browser = fields.String(required=True)
    device = fields.String(required=True)
    country = fields.String(required=True, metadata={"description": "ISO 3166 code, '' when unknown"})
    props = fields.Dict(keys=fields.String(), values=fields.String(), required=True)


class SessionSchema(Schema):
    """One visit: touchpoints of one visitor with no 30-minute gap (by event time), oldest first."""

    session_id = fields.String(required=True)
    visitor_id = fields.String(required=True)
    start_ms = _ms(required=True)
    end_ms = _ms(required=True)
    channel = fields.String(required=True)
    campaign = fields.String(required=True)
    source = fields.String(required=True, metadata={"description": "utm_source of the visit"})
    referrer_source = fields.String(required=True, metadata={"description": "Where the visit came from by name"})
    device = fields.String(required=True)
    country = fields.String(required=True)
    touchpoints = fields.List(fields.Nested(TouchpointSchema), required=True)


class HistorySchema(Schema):
    """A stage change of the person (see the transitions list)."""

    kind = fields.String(required=True)
    from_stage = fields.Integer(required=True)
    to_stage = fields.Integer(required=True)
    at = _ms(required=True)
    dwell_seconds = fields.Float(required=True, metadata={"description": "Time spent in the stage before"})
    run = _ms("The pass through the journey it belongs to (its entry)", required=True)


class JourneyPlaceSchema(PlaceSchema):
    id = fields.String(required=True)
    name = fields.String(required=True)
    source = fields.String(required=True, metadata={"description": "state or live"})
    capped = fields.Boolean(metadata={"description": "Only the person's latest touchpoints counted (very many)"})
    history = fields.List(fields.Nested(HistorySchema), required=True,
                          metadata={"description": "Stage changes, oldest first (kept journey state only)"})


class CauseSchema(Schema):
    """The touchpoint that caused a transition (none for time-driven kinds)."""

    event_id = fields.String(required=True)
    type = fields.String(required=True)
    name = fields.String(required=True)
    url = fields.String(required=True)
    channel = fields.String(required=True)
    campaign = fields.String(required=True)


class TransitionSchema(Schema):
    id = fields.String(required=True)
    person = fields.String(required=True)
    kind = fields.String(required=True, metadata={"description": "entered, completed, dropped, stalled, "
                                                                 "reactivated or left"})
    from_stage = fields.Integer(required=True)
    to_stage = fields.Integer(required=True)
    at = _ms("When it happened (the touchpoint's time, or the deadline)", required=True)
    detected_at = _ms("When the journey worker recorded it", required=True)
    dwell_seconds = fields.Float(required=True)
    run = _ms(required=True)
    cause = fields.Nested(CauseSchema, allow_none=True, required=True)


class TransitionPageSchema(Schema):
    """Who moved, newest first; pass next_cursor as ?cursor= for more (null: no more)."""

    transitions = fields.List(fields.Nested(TransitionSchema), required=True)
    next_cursor = _maybe(fields.String, required=True)


class PersonPageSchema(Schema):
    """Everything known of one person as of a time."""

    person = fields.String(required=True)
    traits = _traits()
    visitor_ids = fields.List(fields.String(), required=True)
    journeys = fields.List(fields.Nested(JourneyPlaceSchema), required=True)
    touchpoints = fields.Integer(required=True, metadata={"description": "How many (at most 5,000 are listed)"})
    truncated = fields.Boolean(required=True)
    sessions = fields.List(fields.Nested(SessionSchema), required=True)
    as_of = _ms(required=True)


class PersonExportSchema(Schema):
    """Everything stored of one person (rows as their tables hold them)."""

    site = fields.String(required=True)
    person = fields.String(required=True)
    exported_at = fields.Integer(required=True, metadata={"description": "Unix seconds"})
    visitor_ids = fields.List(fields.String(), required=True)
    traits = _traits()
    trait_history = fields.List(fields.Dict(), required=True)
    identities = fields.List(fields.Dict(), required=True)
    touchpoints = fields.List(fields.Dict(), required=True, metadata={"description": "Every one, oldest first"})
    journeys = fields.List(fields.Nested(JourneyPlaceSchema), required=True)
    journey_transitions = fields.List(fields.Dict(), required=True)
    webhook_deliveries = fields.List(fields.Dict(), required=True)


class ErasureSchema(Schema):
    """What an erasure deleted."""

    person = fields.String(required=True)
    rows = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True,
                       metadata={"description": "Rows deleted per table"})
    done = fields.Boolean(required=True, metadata={"description": "False while ClickHouse still deletes"})


class ConsentSchema(Schema):
    """A consent given again."""

    person = fields.String(required=True)
    visitor_ids = fields.List(fields.String(), required=True, metadata={"description": "Accepted again"})
