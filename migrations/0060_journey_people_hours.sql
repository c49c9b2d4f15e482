-- How far back a people list's page reaches (issue 9). ClickHouse 18.16 reads the whole key
-- range of a LIMIT: the newest 50 of a stage's million rows in ``journey_people`` cost a read
-- of all million. ``journey_people_hours`` counts the same rows by the hour of their last
-- touchpoint (a few thousand rows a journey), so a list first finds the hour its page starts
-- in and then reads ``journey_people`` from there on only (tracker/journeys/tally.py).
--
-- The counts only steer the read: the page itself is always read from ``journey_people``, so
-- a count that is off (the rows before the view existed are copied in below, and a write in
-- between is counted twice) costs a longer read, never a wrong page. (An erasure takes its
-- person's state back through the views first, as every change: the counts lose them too.) The rectangle of days is computed as ``journey_people_mv`` computes it (one SELECT
-- level: 18.16 pushes no insert through a view with a subquery).
CREATE TABLE IF NOT EXISTS journey_people_hours (
    site String,
    journey_id String,
    build String,
    lo_a UInt16,
    hi_a UInt16,
    lo_b UInt16,
    hi_b UInt16,
    at_stage UInt8,
    hour UInt32,
    n Int64
) ENGINE = SummingMergeTree(n)
ORDER BY (site, journey_id, build, at_stage, hour, lo_a, hi_a, lo_b, hi_b);

CREATE MATERIALIZED VIEW IF NOT EXISTS journey_people_hours_mv TO journey_people_hours AS
SELECT site, journey_id, build,
    toUInt16((arrayJoin(arrayMap((AD, AR) -> arrayFilter(x -> x.1 > 0, arrayMap((i, d, r) -> (
                toUInt32(if(r = arrayReduce('max', arrayFilter((r2, d2) -> d2 = d, AR, AD)), i, 0)),
                toUInt32(arrayReduce('max', arrayMap(d2 -> d2 + 1, arrayFilter((d2, r2) -> d2 < d AND r2 > r, AD, AR)))),
                d, d,
                toUInt32(65535 - arrayReduce('max', arrayMap(d2 -> 65536 - d2, arrayFilter((d2, r2) -> d2 > d AND r2 > r, AD, AR))))),
            arrayEnumerate(AD), AD, AR)),
        [arrayMap(e -> toUInt32(intDiv(e, 86400000)), a_entry)], [arrayMap((e, s) -> toUInt64(s) * 4398046511104 + e, a_entry, a_stage)])[1]) AS pr).2) AS lo_a,
    toUInt16(pr.3) AS hi_a, toUInt16(pr.4) AS lo_b, toUInt16(pr.5) AS hi_b,
    a_stage[pr.1] AS at_stage, toUInt32(intDiv(last_ts, 3600000)) AS hour, sum(toInt64(sign)) AS n
FROM journey_state
WHERE notEmpty(a_entry) AND sign != 2
GROUP BY site, journey_id, build, lo_a, hi_a, lo_b, hi_b, at_stage, hour
HAVING n != 0;

INSERT INTO journey_people_hours
SELECT site, journey_id, build, lo_a, hi_a, lo_b, hi_b, at_stage, toUInt32(intDiv(last_ts, 3600000)) AS hour, sum(n) AS n
FROM journey_people
GROUP BY site, journey_id, build, lo_a, hi_a, lo_b, hi_b, at_stage, hour
HAVING n != 0;
