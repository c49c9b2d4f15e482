-- Where a touchpoint came from (issue 11): the named source (search engine, social network,
-- AI assistant, webmail provider or ad platform), the visitor's country and continent (from
-- the IP address at ingest; the address itself is never stored), and the user agent, so that
-- `tracker reclassify` can recompute the bot flag with newer patterns. Empty defaults: rows
-- and inserts from before keep working.
ALTER TABLE events
    ADD COLUMN source String,
    ADD COLUMN country String,
    ADD COLUMN continent String,
    ADD COLUMN user_agent String;

-- The overview's bots figure and its country and source tables, kept like overview_daily
-- (migration 0004) by a materialized view, bots included here and told apart by is_bot.
CREATE TABLE IF NOT EXISTS overview_origin_daily (
    site String,
    day Date,
    is_bot UInt8,
    country String,
    source String,
    touchpoints AggregateFunction(uniqHLL12, UInt64),
    people AggregateFunction(uniqHLL12, String)
) ENGINE = AggregatingMergeTree()
PARTITION BY toYYYYMM(day)
ORDER BY (site, day, is_bot, country, source);

CREATE MATERIALIZED VIEW IF NOT EXISTS overview_origin_daily_mv TO overview_origin_daily AS
SELECT site, toDate(event_time) AS day, is_bot, country, source,
       uniqHLL12State(cityHash64(event_id)) AS touchpoints,
       uniqHLL12State(visitor_id) AS people
FROM events
GROUP BY site, day, is_bot, country, source;

-- Touchpoints from before: no country or source yet, but their bot flag counts.
INSERT INTO overview_origin_daily
SELECT site, toDate(event_time) AS day, is_bot, country, source,
       uniqHLL12State(cityHash64(event_id)) AS touchpoints,
       uniqHLL12State(visitor_id) AS people
FROM events
GROUP BY site, day, is_bot, country, source;
