SELECT person, stage, entry, times, last_ts
    FROM (SELECT person, max(reach) AS stage, argMax(t0, (reach, t0)) AS entry,
        argMax(reach_times, (reach, t0)) AS times, any(last_ts) AS last_ts, argMax(entry_bd, (reach, t0)) AS bd
    FROM (SELECT person, last_ts, first_channel, t0,
        toUInt8((h1 > 0) + (h2 > 0) + (h3 > 0)) AS reach,
        [h1, h2, h3] AS reach_times,
        if(h3 > 0, h3, t0 + %(window)s) AS attempt_end,
        arrayExists((t, x) -> x != 0 AND t > t0 AND t < attempt_end, T, X) AS excluded,
        B[arrayFirstIndex((t, m) -> t = t0 AND bitTest(m, 0), T, M)] AS entry_bd
    FROM (SELECT person, t0, any(last_ts) AS last_ts, any(first_channel) AS first_channel,
        any(T) AS T, any(M) AS M, any(X) AS X, any(B) AS B, minIf(g1, g1 > 0) AS h1, minIf(g2, g2 > 0) AS h2, minIf(g3, g3 > 0) AS h3
    FROM (SELECT person, last_ts, first_channel, t0, T, M, X, B, I, E, g1, g2, s2, f2, arrayReduce('groupUniqArrayArray', arrayMap(U -> arrayMap(e -> bitOr(U, toUInt64(bitShiftLeft(toUInt64(1), least(greatest(toInt64(e) - toInt64(s2), 0), 63)))), arrayFilter(e -> T[e] = g2 AND bitTest(M[e], 2) AND e - s2 < 63 AND NOT bitTest(U, least(greatest(toInt64(e) - toInt64(s2), 0), 63)) AND NOT arrayExists(f -> f < e AND T[f] = g2 AND M[f] = M[e] AND NOT bitTest(U, least(greatest(toInt64(f) - toInt64(s2), 0), 63)), I), I)), f2)) AS in3, if(g2 = t0 OR has(f2, toUInt64(bitShiftLeft(toUInt64(1), least(arrayCount(t -> t = g2, T), 63)) - 1)), arrayFirstIndex(e -> T[e] = arrayFirst(t -> t > g2, T) AND T[e] <= t0 + %(window)s AND bitTest(M[e], 2), I), 0) AS j3, ((3 <= E OR 3 > E + 1) AND notEmpty(in3)) AS stay3, if(g2 = 0 OR s2 = 0 OR empty(M), toUInt64(0), if(stay3, g2, if(3 <= E, toUInt64(0), T[j3]))) AS g3, arrayFirstIndex(t -> t = g3, T) AS s3, if(g3 = 0, emptyArrayUInt64(), if(stay3, in3, arrayMap(e -> toUInt64(bitShiftLeft(toUInt64(1), least(greatest(toInt64(e) - toInt64(s3), 0), 63))), arrayFilter(e -> T[e] = g3 AND bitTest(M[e], 2) AND e - s3 < 63 AND NOT arrayExists(f -> f < e AND T[f] = g3 AND M[f] = M[e], I), I)))) AS f3
    FROM (SELECT person, last_ts, first_channel, t0, T, M, X, B, I, E, g1, s1, f1, arrayReduce('groupUniqArrayArray', arrayMap(U -> arrayMap(e -> bitOr(U, toUInt64(bitShiftLeft(toUInt64(1), least(greatest(toInt64(e) - toInt64(s1), 0), 63)))), arrayFilter(e -> T[e] = g1 AND bitTest(M[e], 1) AND e - s1 < 63 AND NOT bitTest(U, least(greatest(toInt64(e) - toInt64(s1), 0), 63)) AND NOT arrayExists(f -> f < e AND T[f] = g1 AND M[f] = M[e] AND NOT bitTest(U, least(greatest(toInt64(f) - toInt64(s1), 0), 63)), I), I)), f1)) AS in2, if(g1 = t0 OR has(f1, toUInt64(bitShiftLeft(toUInt64(1), least(arrayCount(t -> t = g1, T), 63)) - 1)), arrayFirstIndex(e -> T[e] = arrayFirst(t -> t > g1, T) AND T[e] <= t0 + %(window)s AND bitTest(M[e], 1), I), 0) AS j2, ((2 <= E OR 2 > E + 1) AND notEmpty(in2)) AS stay2, if(g1 = 0 OR s1 = 0 OR empty(M), toUInt64(0), if(stay2, g1, if(2 <= E, toUInt64(0), T[j2]))) AS g2, arrayFirstIndex(t -> t = g2, T) AS s2, if(g2 = 0, emptyArrayUInt64(), if(stay2, in2, arrayMap(e -> toUInt64(bitShiftLeft(toUInt64(1), least(greatest(toInt64(e) - toInt64(s2), 0), 63))), arrayFilter(e -> T[e] = g2 AND bitTest(M[e], 1) AND e - s2 < 63 AND NOT arrayExists(f -> f < e AND T[f] = g2 AND M[f] = M[e], I), I)))) AS f2
    FROM (SELECT person, last_ts, first_channel, t0, T, M, X, B, I, E, t0 AS g1, arrayFirstIndex(t -> t = g1, T) AS s1, arrayMap(e -> toUInt64(bitShiftLeft(toUInt64(1), least(greatest(toInt64(e) - toInt64(s1), 0), 63))), arrayFilter(e -> T[e] = g1 AND bitTest(M[e], 0) AND e - s1 < 63 AND NOT arrayExists(f -> f < e AND T[f] = g1 AND M[f] = M[e], I), I)) AS f1
    FROM (SELECT person, last_ts, first_channel, t0, T, M, X, B, I FROM (SELECT person,
        arraySort(groupUniqArrayIf((ts, event_id, mask, excl, bd), (1) AND ts <= %(end)s + %(window)s)) AS ev,
        arrayMap(x -> x.1, ev) AS T, arrayMap(x -> x.3, ev) AS M, arrayMap(x -> x.4, ev) AS X,
        arrayMap(x -> x.5, ev) AS B, arrayEnumerate(ev) AS I,
        max(ts) AS last_ts, '' AS first_channel
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
    ARRAY JOIN [1, 2, 3] AS E)))
    GROUP BY person, t0))
    WHERE excluded = 0
    GROUP BY person)
    WHERE stage >= %(stage)s AND stage < 3 AND last_ts < %(as_of)s - 604800000 AND (last_ts < %(c_ts)s OR (last_ts = %(c_ts)s AND person < %(c_person)s))
    ORDER BY last_ts DESC, person DESC
    LIMIT %(limit)s
-- params: [('as_of', 3000), ('c_person', 'p'), ('c_ts', 5), ('end', 2000), ('limit', 50), ('p0', '^/destinations/.*$'), ('p1', 'compare'), ('p2', 'spring'), ('p3', 'purchase'), ('p4', 'pro'), ('p5', 'plan'), ('p6', 'refund'), ('site', 'SITE'), ('stage', 2), ('start', 1000), ('window', 1209600000)]
