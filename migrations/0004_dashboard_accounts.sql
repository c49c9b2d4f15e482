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
