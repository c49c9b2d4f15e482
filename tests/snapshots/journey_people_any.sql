SELECT person, stage, entry, times, last_ts
    FROM (SELECT person, best.1 AS stage, best.2 AS entry, best.3 AS times, last_ts, (best.5)[1] AS bd
    FROM (SELECT person,
        arraySort(groupUniqArrayIf((ts, event_id, mask, excl, value), (mask != 0 OR excl != 0) AND ts <= %(end)s + %(window)s)) AS ev_all, arraySlice(ev_all, -2000) AS ev, toUInt8(length(ev_all) > 2000) AS capped, arrayMap(x -> x.1, ev) AS T, arrayMap(x -> x.3, ev) AS M, arrayMap(x -> x.4, ev) AS X, arrayMap(x -> x.5, ev) AS B, max(ts) AS last_ts, '' AS first_channel
    FROM (SELECT if(user_id != '', user_id, if(linked_user != '', linked_user, visitor_id)) AS person, ts, event_id, mask, excl, value, channel
    FROM (
        SELECT visitor_id, user_id, event_id, channel, ts,
               toUInt32(if((match(path, %(p0)s)), 1, 0) + if((name = %(p1)s AND utm_campaign = %(p2)s), 2, 0) + if((type = %(p3)s AND (has(prop_keys, %(p5)s) AND prop_values[indexOf(prop_keys, %(p5)s)] = %(p4)s)), 4, 0)) AS mask, toUInt8((name = %(p6)s)) AS excl, if(mask != 0, [channel], emptyArrayString()) AS value
        FROM (SELECT *, (own_channel NOT IN ('', 'direct') OR visit_channel = '') AS own_origin, if(own_origin, if(own_channel = '', 'direct', own_channel), visit_channel) AS channel, if(own_origin, own_source, visit_source) AS source
        FROM (SELECT *, cityHash64(visitor_id, session_id) AS visit_key FROM (SELECT visitor_id, user_id, event_id, toUInt64(event_time) * 1000 + event_ms AS ts, type, name, path, utm_source, utm_medium, utm_campaign, prop_keys, prop_values, browser, device, country, session_id, channel AS own_channel, source AS own_source FROM events WHERE site = %(site)s AND is_bot = 0 AND event_time >= toDateTime(intDiv(%(start)s, 1000)) AND event_time <= toDateTime(intDiv(%(as_of)s, 1000)))) AS t
        ANY LEFT JOIN (SELECT cityHash64(visitor_id, session_id) AS visit_key, tupleElement(argMin((channel, source), toUInt64(event_time) * 1000 + event_ms), 1) AS visit_channel,
                   tupleElement(argMin((channel, source), toUInt64(event_time) * 1000 + event_ms), 2) AS visit_source
            FROM events WHERE site = %(site)s AND event_time >= toDateTime(intDiv(greatest(%(start)s, 86400000) - 86400000, 1000)) AND event_time <= toDateTime(intDiv(%(as_of)s, 1000)) AND session_id != '' AND channel != ''
            GROUP BY visit_key) AS v USING visit_key)
    ) AS e
    ANY LEFT JOIN (SELECT visitor_id, argMax(user_id, linked_at) AS linked_user
        FROM identities WHERE site = %(site)s GROUP BY visitor_id) AS l USING visitor_id
    WHERE ts <= %(as_of)s)
    GROUP BY person
    HAVING arrayExists((t, m) -> m != 0 AND t >= %(start)s AND t <= %(end)s, T, M))
    ARRAY JOIN arrayMap((T, M, X, B) -> arrayMap(A -> A[indexOf(arrayMap(a -> a.1 * 4398046511104 + a.2, A), arrayReduce('max', arrayMap(a -> a.1 * 4398046511104 + a.2, A)))], arrayFilter(A -> notEmpty(A), [arrayFilter(a -> a.4 = 0, arrayMap((a, v) -> (a.1, a.2, a.3, a.4, v), arrayMap(t0 -> arrayMap(RT -> (toUInt8(arrayCount(t -> t > 0, RT)), t0, RT, arrayExists((t, x) -> x != 0 AND t > t0 AND t < if(RT[3] > 0, RT[3], t0 + %(window)s), T, X)), [arrayMap(I -> arrayMap((TC, MC, GA, POP) -> arrayMap(C -> [arrayFirst((t, c) -> c >= 1, GA, C), arrayFirst((t, c) -> c >= 2, GA, C), arrayFirst((t, c) -> c >= 3, GA, C)], [arrayMap(tend -> 3 - arrayReduce('max', arrayMap(S -> toInt64(POP[S + 1]) - arrayCount((t, m) -> t <= tend AND bitAnd(m, S) != 0, TC, MC), range(8))), GA)])[1], [arrayMap(i -> T[i], I)], [arrayMap(i -> M[i], I)], [arrayDistinct(arrayMap(i -> T[i], I))], [[0,1,1,2,1,2,2,3]])[1], [arraySort(arrayDistinct(arrayConcat(arraySlice(arrayFilter((i, t, m) -> bitTest(m, 0) AND t >= t0 AND t <= t0 + %(window)s, arrayEnumerate(T), T, M), 1, 3), arraySlice(arrayFilter((i, t, m) -> bitTest(m, 1) AND t >= t0 AND t <= t0 + %(window)s, arrayEnumerate(T), T, M), 1, 3), arraySlice(arrayFilter((i, t, m) -> bitTest(m, 2) AND t >= t0 AND t <= t0 + %(window)s, arrayEnumerate(T), T, M), 1, 3))))])[1]])[1], arraySlice(arrayDistinct(arrayFilter((t, m) -> m != 0 AND t >= %(start)s AND t <= %(end)s, T, M)), -200)), arrayMap(ET -> arraySlice(arrayFilter((b, f) -> f, arrayFilter((b, t, m) -> m != 0 AND t >= %(start)s AND t <= %(end)s, B, T, M), arrayMap((d, i) -> i = 1 OR d != 0, arrayDifference(ET), arrayEnumerate(ET))), -200), [arrayFilter((t, m) -> m != 0 AND t >= %(start)s AND t <= %(end)s, T, M)])[1]))])), [T], [M], [X], [B])[1] AS best)
    WHERE stage >= %(stage)s AND stage < 3 AND last_ts < %(as_of)s - 604800000 AND (last_ts < %(c_ts)s OR (last_ts = %(c_ts)s AND person < %(c_person)s))
    ORDER BY last_ts DESC, person DESC
    LIMIT %(limit)s
-- params: [('as_of', 3000), ('c_person', 'p'), ('c_ts', 5), ('end', 2000), ('limit', 50), ('p0', '^/destinations/.*$'), ('p1', 'compare'), ('p2', 'spring'), ('p3', 'purchase'), ('p4', 'pro'), ('p5', 'plan'), ('p6', 'refund'), ('site', 'SITE'), ('stage', 2), ('start', 1000), ('window', 1209600000)]
