-- One row per touchpoint. A retried event (same event_id) has the same sort key, so
-- ReplacingMergeTree folds it away on merge; reports also count uniqExact(event_id).
-- Ordered by site and visitor: one visitor's touchpoints are one range scan.
CREATE TABLE IF NOT EXISTS events (
    site String,
    event_id String,
    event_time DateTime('UTC'),
    event_ms UInt16,
    received_at DateTime('UTC'),
    visitor_id String,
    session_id String,
    user_id String,
    type String,
    name String,
    url String,
    host String,
    path String,
    title String,
    referrer String,
    referrer_host String,
    channel String,
    utm_source String,
    utm_medium String,
    utm_campaign String,
    utm_term String,
    utm_content String,
    browser String,
    os String,
    device String,
    is_bot UInt8,
    screen String,
    ip_hash String,
    prop_keys Array(String),
    prop_values Array(String)
) ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(event_time)
ORDER BY (site, visitor_id, event_time, event_ms, event_id);

-- visitor id -> user id, written by every identify (and by server-side events with both).
CREATE TABLE IF NOT EXISTS identities (
    site String,
    visitor_id String,
    user_id String,
    linked_at DateTime('UTC')
) ENGINE = ReplacingMergeTree(linked_at)
ORDER BY (site, visitor_id, user_id);

-- Traits of a known person; the newest version of each trait wins.
CREATE TABLE IF NOT EXISTS persons (
    site String,
    user_id String,
    trait_keys Array(String),
    trait_values Array(String),
    updated_at DateTime('UTC'),
    updated_ms UInt16
) ENGINE = ReplacingMergeTree()
ORDER BY (site, user_id, updated_at, updated_ms);
