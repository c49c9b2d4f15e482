-- Dashboard accounts, login attempts and invitations: kept in ClickHouse so that any app
-- node can check a login and a lock-out holds across nodes. The newest version of a row wins.
CREATE TABLE IF NOT EXISTS dashboard_users (
    user_id String,
    email String,
    password_hash String,
    sites Array(String),
    invited_by String,
    created_at DateTime('UTC'),
    disabled UInt8,
    version UInt64
) ENGINE = ReplacingMergeTree(version)
ORDER BY email;

-- Every login attempt, good or bad: the lock-out counts the failures since the last success.
CREATE TABLE IF NOT EXISTS login_attempts (
    email String,
    attempted_at DateTime('UTC'),
    ok UInt8,
    ip_hash String
) ENGINE = MergeTree()
PARTITION BY toYYYYMM(attempted_at)
ORDER BY (email, attempted_at);

-- One-time invitation links (stored as SHA-256 hashes of the token in the link).
CREATE TABLE IF NOT EXISTS dashboard_invitations (
    token_hash String,
    email String,
    sites Array(String),
    invited_by String,
    created_at DateTime('UTC'),
    expires_at DateTime('UTC'),
    used UInt8,
    version UInt64
) ENGINE = ReplacingMergeTree(version)
ORDER BY token_hash;

-- The site overview's figures per day, channel, page and campaign, kept up to date by a
-- materialized view, so the overview reads thousands of rows rather than millions of
-- touchpoints. HyperLogLog states (uniqHLL12: 2.5 KB each, so merging them is cheap; plain
-- uniq states hold up to 65,536 hashes each and took seconds to merge at 10 million rows)
-- count a retried touchpoint once (same id, same hash); figures are exact for small counts
-- and an estimate within about 2 % for large ones. People here are visitor ids (browsers and
-- devices): a person who signs in on two devices counts twice, one who signs in partway
-- through counts once. Identity stitching is the journey engine's, at query time.
CREATE TABLE IF NOT EXISTS overview_daily (
    site String,
    day Date,
    channel String,
    page String,
    campaign String,
    touchpoints AggregateFunction(uniqHLL12, UInt64),
    people AggregateFunction(uniqHLL12, String)
) ENGINE = AggregatingMergeTree()
PARTITION BY toYYYYMM(day)
ORDER BY (site, day, channel, page, campaign);

CREATE MATERIALIZED VIEW IF NOT EXISTS overview_daily_mv TO overview_daily AS
SELECT site, toDate(event_time) AS day, if(channel = '', 'direct', channel) AS channel,
       if(type = 'pageview', path, '') AS page, utm_campaign AS campaign,
       uniqHLL12State(cityHash64(event_id)) AS touchpoints,
       uniqHLL12State(visitor_id) AS people
FROM events WHERE is_bot = 0
GROUP BY site, day, channel, page, campaign;

INSERT INTO overview_daily
SELECT site, toDate(event_time) AS day, if(channel = '', 'direct', channel) AS channel,
       if(type = 'pageview', path, '') AS page, utm_campaign AS campaign,
       uniqHLL12State(cityHash64(event_id)) AS touchpoints,
       uniqHLL12State(visitor_id) AS people
FROM events WHERE is_bot = 0
GROUP BY site, day, channel, page, campaign;
