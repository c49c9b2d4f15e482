-- Secrets every worker and app node shares: the key that signs dashboard sessions, the
-- daily salts of IP hashes ('ip_salt:YYYY-MM-DD', old days deleted). Made once under a lock
-- (tracker/store/shared_secrets.py); the first value made wins.
CREATE TABLE IF NOT EXISTS app_secrets (
    name String,
    value String,
    created_at DateTime('UTC')
) ENGINE = MergeTree()
ORDER BY name;

-- The salts live in app_secrets now (one mechanism for every shared secret).
DROP TABLE IF EXISTS salts;

-- An API token's sites: ['*'] is every site, [] none (as for dashboard users). Tokens made
-- when [] meant every site keep their access.
INSERT INTO api_tokens
SELECT token_hash, argMax(name, version), ['*'], argMax(created_at, version), 0, max(version) + 1
FROM api_tokens GROUP BY token_hash
HAVING empty(argMax(sites, version)) AND argMax(revoked, version) = 0;
