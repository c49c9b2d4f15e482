-- Journey state summed for reading (issue 9): a funnel is a sum over a few thousand rows of
-- ``journey_tally`` and a people list a short read of ``journey_people``, however many people a
-- journey has. Both are kept by views over ``journey_state``, so they change exactly when it
-- does. See tracker/journeys/tally.py for the reads.
--
-- Every write of a person's state is a pair: a copy of their previous row with ``sign`` -1 and
-- the new row with ``sign`` 1 (journey_state itself is read with FINAL and keeps the newest).
-- The views turn both into rows with ``n`` = sign, so the sums lose the old state and gain the
-- new one, in the same insert (where the two give the same rows, they cancel there). ``settled``: nothing about the person changes with time any more
-- (every window closed, silent past the stall time, as of when it was computed; the journey
-- worker's sweep writes them again when that happens). A rebuild writes its rows with ``sign``
-- 2: the views pass them over, and the rebuild sums them itself with the views' own SELECTs,
-- on every core (a view runs in the inserting thread alone; see tracker/journeys/tally.py).
ALTER TABLE journey_state ADD COLUMN settled UInt8 DEFAULT 0;

ALTER TABLE journey_state ADD COLUMN sign Int8 DEFAULT 1;

-- Which range of days each attempt answers for. A person's stage in a funnel over the days
-- A..B is that of their furthest attempt entered in those days; the best attempt of each day
-- they entered is the one for every range with A after the last day holding a better attempt
-- before it (lo_a..hi_a) and B before the first such day after it (lo_b..hi_b): a rectangle of
-- (A, B), 65535 standing for "no end". Days are UTC days since 1970.
--
-- ``journey_tally``: per rectangle, breakdown (``dim`` '' for all, else the breakdown's name, and
-- its ``value``) and stage reached, sums of
--   metric 0: people;
--   metric 1: people whose window or silence is still open (not settled), each with the entry
--             (``bucket``) and last touchpoint (``touch_ms``) the reader tests against as_of;
--   metric 2j: people per time from stage j-1 to stage j, in ``bucket`` (ms, two significant
--             figures); metric 2j+1: the same from stage 1 (j >= 3; at stage 2 both are one).
CREATE TABLE IF NOT EXISTS journey_tally (
    site String,
    journey_id String,
    build String,
    dim String,
    value String,
    lo_a UInt16,
    hi_a UInt16,
    lo_b UInt16,
    hi_b UInt16,
    at_stage UInt8,
    metric UInt8,
    bucket UInt64,
    touch_ms UInt64,
    n Int64
) ENGINE = SummingMergeTree(n)
ORDER BY (site, journey_id, build, dim, hi_a, lo_a, hi_b, lo_b, value, at_stage, metric, bucket, touch_ms);

-- (One SELECT level: 18.16 cannot push inserts through a view with a subquery; the arrays go
-- into lambdas as arguments, which 18.16 sees where it would not see a captured column.)
CREATE MATERIALIZED VIEW IF NOT EXISTS journey_tally_mv TO journey_tally AS
SELECT site, journey_id, build,
    toUInt16((arrayJoin(arrayMap((AE, AS_, AT, S, LT) -> arrayReduce('groupArrayArray', arrayMap(x -> arrayMap(m -> (x.2, x.3, x.4, x.5, x.1, m.1, m.2, m.3),
            arrayConcat([(toUInt8(0), toUInt64(0), toUInt64(0))],
                arrayFilter(m -> S = 0, [(toUInt8(1), AE[x.1], LT)]),
                arrayMap(j -> (toUInt8(2 * j), arrayMap(v -> if(v < 100, v, intDiv(v + intDiv(toUInt64(exp10(greatest(toInt64(length(toString(v))) - 2, 0))), 2), toUInt64(exp10(greatest(toInt64(length(toString(v))) - 2, 0)))) * toUInt64(exp10(greatest(toInt64(length(toString(v))) - 2, 0)))), [toUInt64(AT[x.1][j] - AT[x.1][j - 1])])[1], toUInt64(0)),
                    arrayFilter(j -> j >= 2 AND j <= AS_[x.1], arrayEnumerate(AT[x.1]))),
                arrayMap(j -> (toUInt8(2 * j + 1), arrayMap(v -> if(v < 100, v, intDiv(v + intDiv(toUInt64(exp10(greatest(toInt64(length(toString(v))) - 2, 0))), 2), toUInt64(exp10(greatest(toInt64(length(toString(v))) - 2, 0)))) * toUInt64(exp10(greatest(toInt64(length(toString(v))) - 2, 0)))), [toUInt64(AT[x.1][j] - AT[x.1][1])])[1], toUInt64(0)),
                    arrayFilter(j -> j >= 3 AND j <= AS_[x.1], arrayEnumerate(AT[x.1]))))),
        arrayMap((AD, AR) -> arrayFilter(x -> x.1 > 0, arrayMap((i, d, r) -> (
                toUInt32(if(r = arrayReduce('max', arrayFilter((r2, d2) -> d2 = d, AR, AD)), i, 0)),
                toUInt32(arrayReduce('max', arrayMap(d2 -> d2 + 1, arrayFilter((d2, r2) -> d2 < d AND r2 > r, AD, AR)))),
                d, d,
                toUInt32(65535 - arrayReduce('max', arrayMap(d2 -> 65536 - d2, arrayFilter((d2, r2) -> d2 > d AND r2 > r, AD, AR))))),
            arrayEnumerate(AD), AD, AR)),
            [arrayMap(e -> toUInt32(intDiv(e, 86400000)), AE)], [arrayMap((e, s) -> toUInt64(s) * 4398046511104 + e, AE, AS_)])[1])),
        [a_entry], [a_stage], [a_times], [settled], [last_ts])[1]) AS tr).1) AS lo_a,
    toUInt16(tr.2) AS hi_a, toUInt16(tr.3) AS lo_b, toUInt16(tr.4) AS hi_b,
    (arrayJoin([('', ''), ('channel', a_values[tr.5][1]), ('utm_source', a_values[tr.5][2]),
                ('utm_campaign', a_values[tr.5][3]), ('browser', a_values[tr.5][4]), ('device', a_values[tr.5][5]),
                ('source', a_values[tr.5][6]), ('country', a_values[tr.5][7]),
                ('first_touch_channel', first_channel)]) AS td).1 AS dim,
    td.2 AS value, a_stage[tr.5] AS at_stage, tr.6 AS metric, tr.7 AS bucket, tr.8 AS touch_ms,
    sum(toInt64(sign)) AS n
FROM journey_state
WHERE notEmpty(a_entry) AND sign != 2
GROUP BY site, journey_id, build, dim, value, lo_a, hi_a, lo_b, hi_b, at_stage, metric, bucket, touch_ms
HAVING n != 0;

-- ``journey_people``: a row per person and rectangle with the stage, entry and stage times of
-- that rectangle's attempt and the person's last touchpoint, ordered for a people list (a stage,
-- newest last touchpoint first). A person is in exactly one row of any range (or none).
-- ``times_hash`` keeps two versions with other stage times apart when ClickHouse sums rows.
CREATE TABLE IF NOT EXISTS journey_people (
    site String,
    journey_id String,
    build String,
    person String,
    lo_a UInt16,
    hi_a UInt16,
    lo_b UInt16,
    hi_b UInt16,
    at_stage UInt8,
    at_entry UInt64,
    at_times Array(UInt64),
    times_hash UInt64,
    last_ts UInt64,
    n Int64
) ENGINE = SummingMergeTree(n)
ORDER BY (site, journey_id, build, at_stage, last_ts, person, lo_a, hi_a, lo_b, hi_b, at_entry, times_hash);

CREATE MATERIALIZED VIEW IF NOT EXISTS journey_people_mv TO journey_people AS
SELECT site, journey_id, build, person,
    toUInt16((arrayJoin(arrayMap((AD, AR) -> arrayFilter(x -> x.1 > 0, arrayMap((i, d, r) -> (
                toUInt32(if(r = arrayReduce('max', arrayFilter((r2, d2) -> d2 = d, AR, AD)), i, 0)),
                toUInt32(arrayReduce('max', arrayMap(d2 -> d2 + 1, arrayFilter((d2, r2) -> d2 < d AND r2 > r, AD, AR)))),
                d, d,
                toUInt32(65535 - arrayReduce('max', arrayMap(d2 -> 65536 - d2, arrayFilter((d2, r2) -> d2 > d AND r2 > r, AD, AR))))),
            arrayEnumerate(AD), AD, AR)),
        [arrayMap(e -> toUInt32(intDiv(e, 86400000)), a_entry)], [arrayMap((e, s) -> toUInt64(s) * 4398046511104 + e, a_entry, a_stage)])[1]) AS pr).2) AS lo_a,
    toUInt16(pr.3) AS hi_a, toUInt16(pr.4) AS lo_b, toUInt16(pr.5) AS hi_b,
    a_stage[pr.1] AS at_stage, a_entry[pr.1] AS at_entry, a_times[pr.1] AS at_times,
    cityHash64(at_times) AS times_hash, last_ts, sum(toInt64(sign)) AS n
FROM journey_state
WHERE notEmpty(a_entry) AND sign != 2
GROUP BY site, journey_id, build, person, lo_a, hi_a, lo_b, hi_b, at_stage, at_entry, at_times, times_hash, last_ts
HAVING n != 0;
