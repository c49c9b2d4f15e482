-- Sites, API tokens: kept in ClickHouse so app nodes hold no state of their own.
-- Secrets and tokens are stored as SHA-256 hashes; the newest version of a row wins.
CREATE TABLE IF NOT EXISTS sites (
    site_key String,
    name String,
    domains Array(String),
    secret_hash String,
    created_at DateTime('UTC'),
    deleted UInt8,
    version UInt64
) ENGINE = ReplacingMergeTree(version)
ORDER BY site_key;

CREATE TABLE IF NOT EXISTS api_tokens (
    token_hash String,
    name String,
    sites Array(String),
    created_at DateTime('UTC'),
    revoked UInt8,
    version UInt64
) ENGINE = ReplacingMergeTree(version)
ORDER BY token_hash;

-- One random salt per UTC day for hashing visitors' IP addresses (cookieless visitor ids).
-- Old days are deleted, so yesterday's hashes cannot be linked to today's.
CREATE TABLE IF NOT EXISTS salts (
    day Date,
    salt String
) ENGINE = MergeTree()
ORDER BY day;
