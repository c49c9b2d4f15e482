-- Journey state: what the journey engine knows of each person in each journey, kept current
-- by the journey worker (tracker/worker/), so reads take milliseconds and every stage change
-- is on record. See tracker/journeys/state.py.

-- What arrived, and when ClickHouse took it in: a row per visitor (and user id) per insert,
-- written at insert time by the views below. The worker finds new touchpoints and identity
-- links here by when they were inserted, never by the touchpoint's own time: a spool replayed
-- after an outage, an import of last year, a plain SQL insert on any node are all seen.
CREATE TABLE IF NOT EXISTS journey_changes (
    site String,
    visitor_id String,
    user_id String,
    inserted_at DateTime('UTC')
) ENGINE = MergeTree()
PARTITION BY toYYYYMMDD(inserted_at)
ORDER BY (inserted_at, site, visitor_id);

CREATE MATERIALIZED VIEW IF NOT EXISTS journey_changes_events_mv TO journey_changes AS
SELECT site, visitor_id, user_id, now() AS inserted_at FROM events GROUP BY site, visitor_id, user_id;

CREATE MATERIALIZED VIEW IF NOT EXISTS journey_changes_identities_mv TO journey_changes AS
SELECT site, visitor_id, user_id, now() AS inserted_at FROM identities GROUP BY site, visitor_id, user_id;

-- A person's visitor ids include those whose touchpoints carry the person's user id without an
-- identify having linked them (an import, a server-side event): identities_by_user learns them
-- from the touchpoints too, so a person's page and the worker find all of their touchpoints.
CREATE MATERIALIZED VIEW IF NOT EXISTS identities_by_user_events_mv TO identities_by_user AS
SELECT site, user_id, visitor_id, max(event_time) AS linked_at FROM events
WHERE user_id != '' AND NOT startsWith(visitor_id, 'u:')
GROUP BY site, user_id, visitor_id;

INSERT INTO identities_by_user
SELECT site, user_id, visitor_id, max(event_time) AS linked_at FROM events
WHERE user_id != '' AND NOT startsWith(visitor_id, 'u:')
GROUP BY site, user_id, visitor_id;

-- One row per (site, journey, person) with an attempt, the newest version wins. ``build``
-- names the definition and engine it was computed with; rows of another build are not read.
-- Attempts are parallel arrays, oldest entry first: entry time, stages reached, the time each
-- stage was reached, the entry touchpoint's breakdown values (tracker/journeys/rules.py
-- ENTRY_BREAKDOWNS order). Times are Unix milliseconds. The furthest attempt of all (the person's
-- stage) is also kept flat (stage, entry, times, vals), with the first and last entry: a funnel
-- whose range holds all of a person's entries reads these, not the arrays. ``touch_times``: the times of the
-- person's latest touchpoints (the silences between them are stalls). ``computed_at``: the
-- time the person's transitions were last derived for (0: not yet); ``next_deadline``: the
-- next time-driven change (a window closing, a silence growing long), 0 when none.
CREATE TABLE IF NOT EXISTS journey_state (
    site String,
    journey_id String,
    person String,
    build String,
    a_entry Array(UInt64),
    a_stage Array(UInt8),
    a_times Array(Array(UInt64)),
    a_values Array(Array(String)),
    stage UInt8,
    entry UInt64,
    times Array(UInt64),
    vals Array(String),
    entry_min UInt64,
    entry_max UInt64,
    first_channel String,
    last_ts UInt64,
    touch_times Array(UInt64),
    capped UInt8,
    computed_at UInt64,
    next_deadline UInt64,
    version UInt64
) ENGINE = ReplacingMergeTree(version)
ORDER BY (site, journey_id, person);

-- Every stage change, append-only; a transition's id is derived from what it says, so
-- deriving it twice writes nothing new (and duplicates fold away on merge).
CREATE TABLE IF NOT EXISTS journey_transitions (
    id String,
    site String,
    journey_id String,
    person String,
    kind String,
    run_ms UInt64,
    from_stage UInt8,
    to_stage UInt8,
    at_ms UInt64,
    detected_ms UInt64,
    dwell_ms UInt64,
    cause_event_id String,
    cause_type String,
    cause_name String,
    cause_url String,
    cause_channel String,
    cause_campaign String,
    build String
) ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(toDateTime(intDiv(at_ms, 1000)))
ORDER BY (site, journey_id, person, at_ms, id);

-- Builds of journey state: one per definition (and engine) version; 'ready' once its state is
-- complete (reads use it from then on), with the progress of the transitions derived after.
CREATE TABLE IF NOT EXISTS journey_builds (
    site String,
    journey_id String,
    build String,
    status String,
    persons UInt64,
    transitions_done UInt64,
    started_at DateTime('UTC'),
    updated_at DateTime('UTC'),
    error String,
    version UInt64
) ENGINE = ReplacingMergeTree(version)
ORDER BY (site, journey_id, build);

-- The journey worker's watermark and health, so every node and `tracker worker --status`
-- see the same.
CREATE TABLE IF NOT EXISTS worker_status (
    name String,
    value String,
    version UInt64
) ENGINE = ReplacingMergeTree(version)
ORDER BY name;
