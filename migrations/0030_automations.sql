-- Automations: definitions, the feed of recorded transitions they act on, the outbox of
-- webhook deliveries and the log of each attempt. See tracker/automations/.

-- One row per (site, automation) and version, the newest wins. ``definition`` is the JSON the
-- API takes; ``secret`` signs its webhooks (whsec_…, shown once); ``since_ms``: transitions
-- at or after it fire (when it was enabled, or its backfill_from); ``disabled_reason``: why the
-- service disabled it (the receiver answered 410 Gone).
CREATE TABLE IF NOT EXISTS automations (
    site String,
    automation_id String,
    definition String,
    secret String,
    enabled UInt8,
    since_ms UInt64,
    disabled_reason String,
    deleted UInt8,
    version UInt64
) ENGINE = ReplacingMergeTree(version)
ORDER BY (site, automation_id);

-- Every recorded transition again, stamped by ClickHouse when it was inserted: automations
-- read what is new by that time (as the journey worker reads journey_changes), never by the
-- transition's own times, which a rebuild or an import sets in the past.
CREATE TABLE IF NOT EXISTS automation_feed (
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
    build String,
    inserted_at DateTime('UTC')
) ENGINE = MergeTree()
PARTITION BY toYYYYMMDD(inserted_at)
ORDER BY (inserted_at, site, journey_id, person);

CREATE MATERIALIZED VIEW IF NOT EXISTS automation_feed_mv TO automation_feed AS
SELECT id, site, journey_id, person, kind, run_ms, from_stage, to_stage, at_ms, detected_ms, dwell_ms,
       cause_event_id, cause_type, cause_name, cause_url, cause_channel, cause_campaign, build,
       now() AS inserted_at
FROM journey_transitions;

-- One row per delivery and version, the newest wins. ``delivery_id`` is the webhook-id: a hash
-- of (automation, person, trigger, stage, at_ms), so a transition derived again (a rebuild, a
-- second worker) is the same delivery. ``due_ms``: when it may first be sent (day 0 + N for the
-- scheduled triggers); ``next_ms``: its next try. ``status``: pending, delivered, failed (gave
-- up or the receiver said 410), skipped (a no_touchpoint that saw a touchpoint, or a filter
-- that no longer holds), cancelled (the automation was disabled). ``payload``: the body sent.
CREATE TABLE IF NOT EXISTS automation_outbox (
    site String,
    automation_id String,
    delivery_id String,
    person String,
    trigger String,
    stage UInt8,
    at_ms UInt64,
    run_ms UInt64,
    due_ms UInt64,
    next_ms UInt64,
    status String,
    attempts UInt16,
    last_code UInt16,
    last_error String,
    created_ms UInt64,
    delivered_ms UInt64,
    payload String,
    version UInt64
) ENGINE = ReplacingMergeTree(version)
ORDER BY (site, automation_id, delivery_id);

-- Each try of each delivery, append-only (the delivery log shows them).
CREATE TABLE IF NOT EXISTS automation_attempts (
    site String,
    automation_id String,
    delivery_id String,
    attempt UInt16,
    at_ms UInt64,
    code UInt16,
    error String,
    duration_ms UInt32
) ENGINE = MergeTree()
PARTITION BY toYYYYMM(toDateTime(intDiv(at_ms, 1000)))
ORDER BY (site, automation_id, delivery_id, at_ms);
