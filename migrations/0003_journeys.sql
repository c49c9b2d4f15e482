-- Journey definitions (JSON validated by tracker/journeys/definitions.py); newest version wins,
-- a deletion is a row with deleted = 1.
CREATE TABLE IF NOT EXISTS journeys (
    site String,
    journey_id String,
    definition String,
    deleted UInt8,
    version UInt64
) ENGINE = ReplacingMergeTree(version)
ORDER BY (site, journey_id);

-- identities keyed by user: a person's page finds all their visitor ids with a range scan
-- (identities itself is ordered by visitor). Filled by the view from now on, and once here.
CREATE TABLE IF NOT EXISTS identities_by_user (
    site String,
    user_id String,
    visitor_id String,
    linked_at DateTime('UTC')
) ENGINE = ReplacingMergeTree(linked_at)
ORDER BY (site, user_id, visitor_id);

CREATE MATERIALIZED VIEW IF NOT EXISTS identities_by_user_mv TO identities_by_user
AS SELECT site, user_id, visitor_id, linked_at FROM identities;

INSERT INTO identities_by_user SELECT site, user_id, visitor_id, linked_at FROM identities;
