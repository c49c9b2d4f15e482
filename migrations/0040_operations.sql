-- Operating it (issue 12): retention per site, privacy requests and their audit trail.

-- Months of touchpoints a site keeps (0: all). The journey worker drops older months.
ALTER TABLE sites ADD COLUMN retention_months UInt16 DEFAULT 0;

-- Visitor ids and user ids whose touchpoints a site refuses since their person was erased,
-- until a new consent (blocked = 0). ``kind``: 'visitor' or 'user'; ``person``: the erased
-- person. The newest version of a row wins.
CREATE TABLE IF NOT EXISTS privacy_blocks (
    site String,
    kind String,
    value String,
    person String,
    blocked UInt8,
    changed_at DateTime('UTC'),
    version UInt64
) ENGINE = ReplacingMergeTree(version)
ORDER BY (site, kind, value);

-- Every privacy request and retention drop: who asked, when, what was done. Never erased.
CREATE TABLE IF NOT EXISTS privacy_audit (
    at DateTime('UTC'),
    at_ns UInt64,
    site String,
    person String,
    action String,
    actor String,
    detail String
) ENGINE = MergeTree()
PARTITION BY toYYYYMM(at)
ORDER BY (site, at_ns);
