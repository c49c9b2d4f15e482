SELECT person, stage, entry, times, last_ts
    FROM (SELECT person, max(reach) AS stage, argMax(t0, (reach, t0)) AS entry,
        argMax(reach_times, (reach, t0)) AS times, any(last_ts) AS last_ts, argMax(entry_bd, (reach, t0)) AS bd
    FROM (SELECT person, last_ts, first_channel, t0, T, M, X, B, [0,1,1,2,1,2,2,3] AS POP, arraySort(arrayDistinct(arrayFilter((t, m) -> m != 0 AND t >= t0 AND t <= t0 + %(window)s, T, M))) AS GT, arrayMap(tend -> 3 - arrayReduce('max', arrayMap(S -> toInt64(POP[S + 1]) - arrayCount((t, m) -> t >= t0 AND t <= tend AND bitAnd(m, S) != 0, T, M), range(8))), GT) AS C, arrayFirst((t, c) -> c >= 1, GT, C) AS g1, arrayFirst((t, c) -> c >= 2, GT, C) AS g2, arrayFirst((t, c) -> c >= 3, GT, C) AS g3, [g1, g2, g3] AS RT,
        toUInt8(arrayCount(t -> t > 0, RT)) AS reach, RT AS reach_times, if(RT[3] > 0, RT[3], t0 + %(window)s) AS attempt_end, arrayExists((t, x) -> x != 0 AND t > t0 AND t < attempt_end, T, X) AS excluded, B[arrayFirstIndex((t, m) -> t = t0 AND m != 0, T, M)] AS entry_bd
    FROM (SELECT person,
        arraySort(groupUniqArrayIf((ts, event_id, mask, excl, bd), (mask != 0 OR excl != 0) AND ts <= %(end)s + %(window)s)) AS ev,
        arrayMap(x -> x.1, ev) AS T, arrayMap(x -> x.3, ev) AS M, arrayMap(x -> x.4, ev) AS X,
        arrayMap(x -> x.5, ev) AS B,
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
    ARRAY JOIN arrayDistinct(arrayFilter((t, m) -> m != 0 AND t >= %(start)s AND t <= %(end)s, T, M)) AS t0)
    WHERE excluded = 0
    GROUP BY person)
    WHERE stage >= %(stage)s AND stage < 3 AND last_ts < %(as_of)s - 604800000 AND (last_ts < %(c_ts)s OR (last_ts = %(c_ts)s AND person < %(c_person)s))
    ORDER BY last_ts DESC, person DESC
    LIMIT %(limit)s
-- params: [('as_of', 3000), ('c_person', 'p'), ('c_ts', 5), ('end', 2000), ('limit', 50), ('p0', '^/destinations/.*$'), ('p1', 'compare'), ('p2', 'spring'), ('p3', 'purchase'), ('p4', 'pro'), ('p5', 'plan'), ('p6', 'refund'), ('site', 'SITE'), ('stage', 2), ('start', 1000), ('window', 1209600000)]
