-- The prospect search's index: every word of a person's email, name and company, each whole
-- value (an email typed from its start), and their user id, lower-cased; a search is a few
-- range reads of the primary key, not a scan of the site's people. Old values stay indexed
-- after a trait changes: the search checks the candidates' current traits. (One SELECT level
-- in each view: 18.16 cannot push inserts through a view with a subquery.)
CREATE TABLE IF NOT EXISTS person_search (
    site String,
    token String,
    user_id String
) ENGINE = ReplacingMergeTree()
ORDER BY (site, token, user_id);

CREATE MATERIALIZED VIEW IF NOT EXISTS person_search_traits_mv TO person_search AS
SELECT site, token, user_id FROM persons
ARRAY JOIN arrayDistinct(arrayConcat(arrayMap(v -> lowerUTF8(v), arrayFilter((v, k) -> has(['email', 'name', 'first_name', 'last_name', 'company'], k), trait_values, trait_keys)),
    extractAll(lowerUTF8(arrayStringConcat(arrayFilter((v, k) -> has(['email', 'name', 'first_name', 'last_name', 'company'], k), trait_values, trait_keys), ' ')), '[\\p{L}\\p{N}]+'),
    [lowerUTF8(user_id)], extractAll(lowerUTF8(user_id), '[\\p{L}\\p{N}]+'))) AS token
WHERE token != '';

CREATE MATERIALIZED VIEW IF NOT EXISTS person_search_users_mv TO person_search AS
SELECT site, token, user_id FROM events
ARRAY JOIN arrayDistinct(arrayConcat([lowerUTF8(user_id)], extractAll(lowerUTF8(user_id), '[\\p{L}\\p{N}]+'))) AS token
WHERE user_id != '' AND token != ''
GROUP BY site, token, user_id;

INSERT INTO person_search
SELECT site, token, user_id FROM persons
ARRAY JOIN arrayDistinct(arrayConcat(arrayMap(v -> lowerUTF8(v), arrayFilter((v, k) -> has(['email', 'name', 'first_name', 'last_name', 'company'], k), trait_values, trait_keys)),
    extractAll(lowerUTF8(arrayStringConcat(arrayFilter((v, k) -> has(['email', 'name', 'first_name', 'last_name', 'company'], k), trait_values, trait_keys), ' ')), '[\\p{L}\\p{N}]+'),
    [lowerUTF8(user_id)], extractAll(lowerUTF8(user_id), '[\\p{L}\\p{N}]+'))) AS token
WHERE token != '';

INSERT INTO person_search
SELECT site, token, user_id FROM events
ARRAY JOIN arrayDistinct(arrayConcat([lowerUTF8(user_id)], extractAll(lowerUTF8(user_id), '[\\p{L}\\p{N}]+'))) AS token
WHERE user_id != '' AND token != ''
GROUP BY site, token, user_id;
