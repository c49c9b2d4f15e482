SELECT grp.1 AS total, grp.2 AS value,
        count() AS people,
        [countIf(stage >= 1), countIf(stage >= 2), countIf(stage >= 3)] AS reached,
        [countIf(stage = 1 AND %(as_of)s <= entry + %(window)s), countIf(stage = 2 AND %(as_of)s <= entry + %(window)s), toUInt64(0)] AS in_progress,
        [countIf(stage = 1 AND NOT (%(as_of)s <= entry + %(window)s)), countIf(stage = 2 AND NOT (%(as_of)s <= entry + %(window)s)), toUInt64(0)] AS dropped,
        [quantilesExactIf(0.5, 0.9)((times[1] - times[1]) / 1000, stage >= 1), quantilesExactIf(0.5, 0.9)((times[2] - times[1]) / 1000, stage >= 2), quantilesExactIf(0.5, 0.9)((times[3] - times[2]) / 1000, stage >= 3)] AS from_previous,
        [quantilesExactIf(0.5, 0.9)((times[1] - times[1]) / 1000, stage >= 1), quantilesExactIf(0.5, 0.9)((times[2] - times[1]) / 1000, stage >= 2), quantilesExactIf(0.5, 0.9)((times[3] - times[1]) / 1000, stage >= 3)] AS from_start
    FROM (SELECT person, max(reach) AS stage, argMax(t0, (reach, t0)) AS entry,
        argMax(reach_times, (reach, t0)) AS times, any(last_ts) AS last_ts, argMax(entry_bd, (reach, t0)) AS bd
    FROM (SELECT person, t0, any(last_ts) AS last_ts, any(first_channel) AS first_channel,
        any(T) AS T, any(M) AS M, any(X) AS X, any(B) AS B, [minIf(R[1], R[1] > 0), minIf(R[2], R[2] > 0), minIf(R[3], R[3] > 0)] AS RT,
        toUInt8(arrayCount(t -> t > 0, RT)) AS reach, RT AS reach_times, if(RT[3] > 0, RT[3], t0 + %(window)s) AS attempt_end, arrayExists((t, x) -> x != 0 AND t > t0 AND t < attempt_end, T, X) AS excluded, B[arrayFirstIndex((t, m) -> t = t0 AND bitTest(m, 0), T, M)] AS entry_bd
    FROM (SELECT person, last_ts, first_channel, t0, T, M, X, B, GT, GC, GF, PS, CS, E, (arrayMap((x, GT, GC, GF, PS, CS, t0) -> (arrayConcat(x.1, arrayResize(emptyArrayUInt64(), if((NOT x.2 AND (indexOf(GT, (x.1)[-1]) + 1) <= length(GT) AND GT[(indexOf(GT, (x.1)[-1]) + 1)] <= t0 + %(window)s), GF[(indexOf(GT, (x.1)[-1]) + 1)][(length(x.1) + 1)], 0), GT[(indexOf(GT, (x.1)[-1]) + 1)])), x.2 OR NOT (NOT x.2 AND (indexOf(GT, (x.1)[-1]) + 1) <= length(GT) AND GT[(indexOf(GT, (x.1)[-1]) + 1)] <= t0 + %(window)s) OR if((NOT x.2 AND (indexOf(GT, (x.1)[-1]) + 1) <= length(GT) AND GT[(indexOf(GT, (x.1)[-1]) + 1)] <= t0 + %(window)s), GF[(indexOf(GT, (x.1)[-1]) + 1)][(length(x.1) + 1)], 0) < GC[(indexOf(GT, (x.1)[-1]) + 1)]), [arrayMap((x, GT, GC, GF, PS, CS, t0) -> (arrayConcat(x.1, arrayResize(emptyArrayUInt64(), if((NOT x.2 AND (indexOf(GT, (x.1)[-1]) + 1) <= length(GT) AND GT[(indexOf(GT, (x.1)[-1]) + 1)] <= t0 + %(window)s), GF[(indexOf(GT, (x.1)[-1]) + 1)][(length(x.1) + 1)], 0), GT[(indexOf(GT, (x.1)[-1]) + 1)])), x.2 OR NOT (NOT x.2 AND (indexOf(GT, (x.1)[-1]) + 1) <= length(GT) AND GT[(indexOf(GT, (x.1)[-1]) + 1)] <= t0 + %(window)s) OR if((NOT x.2 AND (indexOf(GT, (x.1)[-1]) + 1) <= length(GT) AND GT[(indexOf(GT, (x.1)[-1]) + 1)] <= t0 + %(window)s), GF[(indexOf(GT, (x.1)[-1]) + 1)][(length(x.1) + 1)], 0) < GC[(indexOf(GT, (x.1)[-1]) + 1)]), [(if(E <= GF[indexOf(GT, t0)][1], arrayResize(emptyArrayUInt64(), E, t0), emptyArrayUInt64()), NOT (E <= GF[indexOf(GT, t0)][1]))], [GT], [GC], [GF], [PS], [CS], [t0])[1]], [GT], [GC], [GF], [PS], [CS], [t0])[1]).1 AS R
        FROM (SELECT person, last_ts, first_channel, t0, T, M, X, B, GT, GC, GF, PS, CS FROM (SELECT person,
        arraySort(groupUniqArrayIf((ts, event_id, mask, excl, bd), (1) AND ts <= %(end)s + %(window)s)) AS ev,
        arrayMap(x -> x.1, ev) AS T, arrayMap(x -> x.3, ev) AS M, arrayMap(x -> x.4, ev) AS X,
        arrayMap(x -> x.5, ev) AS B,
        max(ts) AS last_ts, '' AS first_channel,
        T AS GTS, M AS GMS, arrayFilter(i -> i = 1 OR GTS[i] != GTS[i - 1], arrayEnumerate(GTS)) AS GS, arrayMap(s -> GTS[s], GS) AS GT, arrayMap(c -> toUInt64(c), arrayPopFront(arrayDifference(arrayPushBack(GS, length(GTS) + 1)))) AS GC, arrayMap((s, c) -> toUInt64(arrayReduce('groupBitOr', arraySlice(GMS, s, c))), GS, GC) AS GU, arrayMap((s, c, u) -> arrayMap((a, same) -> if(same, least(c, toUInt64(log2(bitAnd(bitNot(bitShiftRight(u, a)), bitShiftRight(u, a) + 1)))), arrayCount(n -> arrayAll(S -> bitAnd(bitShiftRight(bitAnd((bitAnd((S - bitAnd(bitShiftRight(S, 1), 1431655765)), 858993459) + bitAnd(bitShiftRight((S - bitAnd(bitShiftRight(S, 1), 1431655765)), 2), 858993459)) + bitShiftRight((bitAnd((S - bitAnd(bitShiftRight(S, 1), 1431655765)), 858993459) + bitAnd(bitShiftRight((S - bitAnd(bitShiftRight(S, 1), 1431655765)), 2), 858993459)), 4), 252645135) * 16843009, 24), 255) <= arrayCount(m -> bitAnd(m, bitShiftLeft(S, a)) != 0, arraySlice(GMS, s, c)), range(toUInt64(bitShiftLeft(toUInt64(2), n)))), range(toUInt64(if(same, 0, least(c, toUInt64(log2(bitAnd(bitNot(bitShiftRight(u, a)), bitShiftRight(u, a) + 1))))))))), range(3), arrayResize([arrayReduce('min', arraySlice(GMS, s, c)) = arrayReduce('max', arraySlice(GMS, s, c))], 3)), GS, GC, GU) AS GF, arrayMap(a -> arrayFilter((g, u) -> bitTest(u, a), arrayEnumerate(GU), GU), range(3)) AS PS, arrayMap(a -> arrayCumSum(arrayMap(u -> bitTest(u, a), GU)), range(3)) AS CS
    FROM (SELECT if(user_id != '', user_id, if(linked_user != '', linked_user, visitor_id)) AS person, ts, event_id, mask, excl, bd, channel
    FROM (
        SELECT visitor_id, user_id, event_id, channel,
               toUInt64(event_time) * 1000 + event_ms AS ts,
               toUInt32(if((match(path, %(p0)s)), 1, 0) + if((name = %(p1)s AND utm_campaign = %(p2)s), 2, 0) + if((type = %(p3)s AND (has(prop_keys, %(p5)s) AND prop_values[indexOf(prop_keys, %(p5)s)] = %(p4)s)), 4, 0)) AS mask, toUInt8((name = %(p6)s)) AS excl, channel AS bd
        FROM events
        WHERE site = %(site)s AND is_bot = 0
          AND event_time >= toDateTime(intDiv(%(start)s, 1000)) AND event_time <= toDateTime(intDiv(%(as_of)s, 1000))
    ) AS e
    ANY LEFT JOIN (SELECT visitor_id, argMax(user_id, linked_at) AS linked_user
        FROM identities WHERE site = %(site)s GROUP BY visitor_id) AS l USING visitor_id
    WHERE ts <= %(as_of)s)
    GROUP BY person
    HAVING arrayExists((t, m) -> m != 0 AND t >= %(start)s AND t <= %(end)s, T, M))
    ARRAY JOIN arrayDistinct(arrayFilter((t, m) -> bitTest(m, 0) AND t >= %(start)s AND t <= %(end)s, T, M)) AS t0)
        ARRAY JOIN arrayMap(e -> e + 1, range(toUInt64(least(GC[indexOf(GT, t0)], 3)))) AS E)
    GROUP BY person, t0)
    WHERE excluded = 0
    GROUP BY person)
    ARRAY JOIN [(toUInt8(0), bd), (toUInt8(1), '')] AS grp
    GROUP BY total, value
    ORDER BY total DESC, people DESC, value
-- params: [('as_of', 3000), ('end', 2000), ('p0', '^/destinations/.*$'), ('p1', 'compare'), ('p2', 'spring'), ('p3', 'purchase'), ('p4', 'pro'), ('p5', 'plan'), ('p6', 'refund'), ('site', 'SITE'), ('start', 1000), ('window', 1209600000)]
