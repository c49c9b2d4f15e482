-- The site overview's figures per day, channel, page and campaign, kept up to date by a
-- materialized view, so the overview reads thousands of rows rather than millions of
-- touchpoints. (This table was once added to 0004 after 0004 had shipped, so databases that
-- applied the first 0004 never got it; it lives here now, and a database that has the old
-- version gets it rebuilt.) HyperLogLog states (uniqHLL12: 2.5 KB each, so merging them is
-- cheap) count a retried touchpoint once (same id, same hash), and merging a state twice
-- changes nothing, so the backfill may overlap the view. Figures are exact for small counts
-- and within about 2 % for large ones. People here are visitor ids (browsers and devices).
-- ``channel`` is the touchpoint's own channel: '' for a touchpoint with no source of its
-- own (a page view inside a visit, an in-page event), so by channel the overview counts
-- arrivals: visits and standalone touchpoints such as an email open.
DROP TABLE IF EXISTS overview_daily_mv;

DROP TABLE IF EXISTS overview_daily;

CREATE TABLE overview_daily (
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

CREATE MATERIALIZED VIEW overview_daily_mv TO overview_daily AS
SELECT site, toDate(event_time) AS day, channel,
       if(type = 'pageview', path, '') AS page, utm_campaign AS campaign,
       uniqHLL12State(cityHash64(event_id)) AS touchpoints,
       uniqHLL12State(visitor_id) AS people
FROM events WHERE is_bot = 0
GROUP BY site, day, channel, page, campaign;

INSERT INTO overview_daily
SELECT site, toDate(event_time) AS day, channel,
       if(type = 'pageview', path, '') AS page, utm_campaign AS campaign,
       uniqHLL12State(cityHash64(event_id)) AS touchpoints,
       uniqHLL12State(visitor_id) AS people
FROM events WHERE is_bot = 0
GROUP BY site, day, channel, page, campaign;
