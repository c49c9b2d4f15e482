"""The funnel and people query builders: SQL composed from small named pieces.

The whole computation runs in ClickHouse, on both 18.16 and chDB, with array functions
rather than raw ``windowFunnel``: chDB's ``windowFunnel`` lets one touchpoint fill repeated
stages, and 18.16's orders touchpoints of the same second by insertion (ClickHouse issue
12596), while the DESIGN's semantics need one touchpoint per stage and millisecond ties
that may fill consecutive stages in either order.

The pieces, innermost first:

1. ``source``: the site's touchpoints (bots out, up to ``as_of``), each with its person
   (person resolution, see ``person_sql``), time in ms ``ts``, a bit mask ``mask`` of the
   stages it matches and ``excl`` when it matches an exclusion rule.
2. ``timelines``: per person, arrays ``T`` (times, sorted), ``M`` (masks), ``X`` (exclusion
   flags), ``B`` (breakdown value), ``I`` (indexes); duplicates of a retried event fold away.
3. ``attempts``: one row per entry time ``t0`` (a stage-1 touchpoint inside the date range),
   and for each stage j the time ``g_j`` it was reached (0 = not reached). Touchpoints of one
   millisecond form a *group*; inside a group any order is possible, so each stage keeps the
   family ``f_j`` of sets (bit masks over the group) of touchpoints it may have used, and the
   next stage either takes an unused touchpoint of the same group or jumps to the earliest
   later group that matches (the earliest is always best, which keeps this exact).
4. ``persons``: the furthest clean attempt of each person (latest entry among equals).
5. ``funnel`` / ``people``: the figures, or the page of people.
"""
from .rules import BREAKDOWNS, PERSON_BREAKDOWNS, Params, rule_sql

DAY_MS = 86_400_000
QUERY_SETTINGS = {"max_execution_time": 30, "max_memory_usage": 4_000_000_000}
GROUP_BITS = 63  # touchpoints of one millisecond beyond this many cannot fill stages


class Query:
    """The parameters of one run: journey, site, range (ms), as_of (ms), breakdown."""

    def __init__(self, journey, site, start_ms, end_ms, as_of_ms, breakdown=None, visitors=None):
        self.journey = journey
        self.k = len(journey["stages"])
        self.window_ms = journey["window_days"] * DAY_MS
        self.stall_ms = journey["stall_after_days"] * DAY_MS
        self.order = journey.get("order", "ordered")
        self.breakdown = breakdown
        self.visitors = visitors
        self.params = Params({"site": site, "start": start_ms, "end": end_ms, "as_of": as_of_ms,
                              "window": self.window_ms})


# -- 1. source ---------------------------------------------------------------------------

def person_sql():
    """A touchpoint's person: its user id, else the user its visitor was last linked to,
    else the visitor id itself (anonymous people are their own person)."""
    return "if(user_id != '', user_id, if(linked_user != '', linked_user, visitor_id))"


def links_sql(visitor_filter):
    """visitor id → the user id it was linked to last."""
    return f"""SELECT visitor_id, argMax(user_id, linked_at) AS linked_user
        FROM identities WHERE site = %(site)s{visitor_filter} GROUP BY visitor_id"""


def mask_sql(q):
    """Bit j-1 set when the touchpoint matches stage j's rule."""
    terms = [f"if({rule_sql(stage['match'], q.params)}, {1 << j}, 0)" for j, stage in enumerate(q.journey["stages"])]
    return "toUInt32(" + " + ".join(terms) + ")"


def exclusion_sql(q):
    rules = [rule_sql(rule, q.params) for rule in q.journey.get("exclude") or []]
    return "toUInt8(" + (" OR ".join(rules) if rules else "0") + ")"


def breakdown_sql(q):
    if not q.breakdown:
        return "''"
    return BREAKDOWNS[q.breakdown]


def source_sql(q, lower_ms="%(start)s"):
    """Touchpoints of the site with person, ts, mask, excl and breakdown value."""
    visitor_filter = " AND visitor_id IN %(visitors)s" if q.visitors is not None else ""
    if q.visitors is not None:
        q.params.values["visitors"] = tuple(q.visitors) or ("",)  # a tuple: IN (…)
    return f"""SELECT {person_sql()} AS person, ts, event_id, mask, excl, bd, channel
    FROM (
        SELECT visitor_id, user_id, event_id, channel,
               toUInt64(event_time) * 1000 + event_ms AS ts,
               {mask_sql(q)} AS mask, {exclusion_sql(q)} AS excl, {breakdown_sql(q)} AS bd
        FROM events
        WHERE site = %(site)s AND is_bot = 0{visitor_filter}
          AND event_time >= toDateTime(intDiv({lower_ms}, 1000)) AND event_time <= toDateTime(intDiv(%(as_of)s, 1000))
    ) AS e
    ANY LEFT JOIN ({links_sql(visitor_filter)}) AS l USING visitor_id
    WHERE ts <= %(as_of)s"""


# -- 2. timelines ------------------------------------------------------------------------

def timelines_sql(q):
    """One row per person: sorted arrays of their relevant touchpoints."""
    # strict mode needs every touchpoint: any other one between two stages ends an attempt.
    keep = "1" if q.order == "strict" else "mask != 0 OR excl != 0"
    first_touch = "argMin(channel, ts)" if q.breakdown in PERSON_BREAKDOWNS else "''"
    lower = "0" if q.breakdown in PERSON_BREAKDOWNS else "%(start)s"
    return f"""SELECT person,
        arraySort(groupUniqArrayIf((ts, event_id, mask, excl, bd), ({keep}) AND ts <= %(end)s + %(window)s)) AS ev,
        arrayMap(x -> x.1, ev) AS T, arrayMap(x -> x.3, ev) AS M, arrayMap(x -> x.4, ev) AS X,
        arrayMap(x -> x.5, ev) AS B, arrayEnumerate(ev) AS I,
        max(ts) AS last_ts, {first_touch} AS first_channel
    FROM ({source_sql(q, lower)})
    GROUP BY person
    HAVING arrayExists((t, m) -> m != 0 AND t >= %(start)s AND t <= %(end)s, T, M)"""


# -- 3. attempts -------------------------------------------------------------------------

def _pos(e, start):
    """Bit position of touchpoint ``e`` in the group starting at index ``start``, clamped:
    ClickHouse evaluates every branch of AND/if, also for touchpoints outside the group."""
    return f"least(greatest(toInt64({e}) - toInt64({start}), 0), {GROUP_BITS})"


def _unit(e, start):
    return f"toUInt64(bitShiftLeft(toUInt64(1), {_pos(e, start)}))"


def _group_members(g, s, bit, used=None):
    """Indexes of the touchpoints of group ``g`` (first index ``s``) that match stage ``bit``
    and are not in ``used``. Touchpoints of a group with the same mask are interchangeable,
    so only the first unused one of each mask is tried: that keeps the families small."""
    free = (lambda x: f" AND NOT bitTest({used}, {_pos(x, s)})") if used else (lambda x: "")
    first_of_kind = f"NOT arrayExists(f -> f < e AND T[f] = {g} AND M[f] = M[e]{free('f')}, I)"
    return (f"arrayFilter(e -> T[e] = {g} AND bitTest(M[e], {bit}) AND e - {s} < {GROUP_BITS}"
            f"{free('e')} AND {first_of_kind}, I)")


def first_stage_sql():
    """Stage 1 of an attempt: its entry group and the touchpoints that may have filled it."""
    return [
        "t0 AS g1",
        "arrayFirstIndex(t -> t = g1, T) AS s1",
        f"arrayMap(e -> {_unit('e', 's1')}, {_group_members('g1', 's1', 0)}) AS f1",
    ]


def jump_sql(q, j):
    """Index of the touchpoint stage j+1 jumps to when the group of stage j has no more."""
    g, f, s = f"g{j}", f"f{j}", f"s{j}"
    if q.order == "strict":
        # Only the very next group, and only once every touchpoint of this group was used
        # (the entry group's spare touchpoints can be placed before the entry).
        full = f"toUInt64(bitShiftLeft(toUInt64(1), least(arrayCount(t -> t = {g}, T), {GROUP_BITS})) - 1)"
        return (f"if({g} = t0 OR has({f}, {full}), arrayFirstIndex(e -> T[e] = arrayFirst(t -> t > {g}, T)"
                f" AND T[e] <= t0 + %(window)s AND bitTest(M[e], {j}), I), 0)")
    return f"arrayFirstIndex(e -> T[e] > {g} AND T[e] <= t0 + %(window)s AND bitTest(M[e], {j}), I)"


def next_stage_sql(q, j):
    """Stage j+1 from stage j: fill it in the same group if a touchpoint is left, else jump.

    In strict mode each attempt row also carries ``E``, the number of stages its entry
    group fills: jumping out of the entry group early can be the only way on (the spare
    touchpoints of that group are placed before the entry), so every exit point is tried
    and ``strict_attempts_sql`` keeps the earliest time of each stage over them."""
    g, f, s, n = f"g{j}", f"f{j}", f"s{j}", j + 1
    same = (f"arrayReduce('groupUniqArrayArray', arrayMap(U -> arrayMap(e -> bitOr(U, {_unit('e', s)}), "
            f"{_group_members(g, s, j, used='U')}), {f}))")
    if q.order == "strict":
        stay = f"(({n} <= E OR {n} > E + 1) AND notEmpty(in{n}))"
        move = f"if({n} <= E, toUInt64(0), T[j{n}])"
    else:
        stay, move = f"notEmpty(in{n})", f"T[j{n}]"
    return [
        f"{same} AS in{n}",
        f"{jump_sql(q, j)} AS j{n}",
        f"{stay} AS stay{n}",
        # s_j and M appear outside the lambdas too: ClickHouse 18.16 does not see a column
        # that only a nested lambda uses, and would prune it from the subquery below.
        f"if({g} = 0 OR {s} = 0 OR empty(M), toUInt64(0), if(stay{n}, {g}, {move})) AS g{n}",
        f"arrayFirstIndex(t -> t = g{n}, T) AS s{n}",
        f"if(g{n} = 0, emptyArrayUInt64(), if(stay{n}, in{n}, "
        f"arrayMap(e -> {_unit('e', f's{n}')}, {_group_members(f'g{n}', f's{n}', j)}))) AS f{n}",
    ]


CARRY = "person, last_ts, first_channel, t0, T, M, X, B, I"


def ordered_stages_sql(q):
    """Stage after stage, one subquery each: ClickHouse inlines aliases, so chaining twenty
    stages in one SELECT would grow the expression exponentially."""
    carry = CARRY + (", E" if q.order == "strict" else "")
    entries = f"({timelines_sql(q)})\n    ARRAY JOIN {entries_sql(q)} AS t0"
    if q.order == "strict":  # 18.16 takes one ARRAY JOIN per SELECT
        entries = f"(SELECT {CARRY} FROM {entries})\n    ARRAY JOIN {list(range(1, q.k + 1))} AS E"
    sql = f"SELECT {carry}, {', '.join(first_stage_sql())}\n    FROM {entries}"
    for j in range(1, q.k):
        done = ", ".join([f"g{i}" for i in range(1, j + 1)] + [f"s{j}", f"f{j}"])
        sql = f"SELECT {carry}, {done}, {', '.join(next_stage_sql(q, j))}\n    FROM ({sql})"
    return sql


def strict_attempts_sql(q):
    """Strict mode: one row per attempt again, each stage at its earliest over the exit points."""
    times = ", ".join(f"minIf(g{j}, g{j} > 0) AS h{j}" for j in range(1, q.k + 1))
    return f"""SELECT person, t0, any(last_ts) AS last_ts, any(first_channel) AS first_channel,
        any(T) AS T, any(M) AS M, any(X) AS X, any(B) AS B, {times}
    FROM ({ordered_stages_sql(q)})
    GROUP BY person, t0"""


def _popcounts(k):
    return "[" + ",".join(str(bin(s).count("1")) for s in range(1 << k)) + "]"


def any_attempt_columns(q):
    """'any' order: stages done = the largest matching of stages to distinct touchpoints
    in [t0, t], computed with Hall's theorem over every subset S of stages:
    k - max(|S| - #touchpoints matching a stage of S)."""
    k = q.k
    count = (f"{k} - arrayReduce('max', arrayMap(S -> toInt64(POP[S + 1]) - arrayCount((t, m) -> t >= t0 "
             f"AND t <= tend AND bitAnd(m, S) != 0, T, M), range({1 << k})))")
    columns = [
        f"{_popcounts(k)} AS POP",
        "arraySort(arrayDistinct(arrayFilter((t, m) -> m != 0 AND t >= t0 AND t <= t0 + %(window)s, T, M))) AS GT",
        f"arrayMap(tend -> {count}, GT) AS C",
    ]
    columns += [f"arrayFirst((t, c) -> c >= {j}, GT, C) AS g{j}" for j in range(1, k + 1)]
    return columns


def entries_sql(q):
    """Entry times of attempts: stage-1 touchpoints (any stage's, for 'any') in the range."""
    test = "m != 0" if q.order == "any" else "bitTest(m, 0)"
    return f"arrayDistinct(arrayFilter((t, m) -> {test} AND t >= %(start)s AND t <= %(end)s, T, M))"


def any_stages_sql(q):
    return (f"SELECT {CARRY}, {', '.join(any_attempt_columns(q))}\n    FROM ({timelines_sql(q)})\n"
            f"    ARRAY JOIN {entries_sql(q)} AS t0")


def attempts_sql(q):
    """One row per attempt: stage times g1..gk, how far it got, and whether it is clean."""
    builders = {"any": any_stages_sql, "strict": strict_attempts_sql, "ordered": ordered_stages_sql}
    stages = builders[q.order](q)
    g = "h" if q.order == "strict" else "g"
    reach = " + ".join(f"({g}{j} > 0)" for j in range(1, q.k + 1))
    entry_bit = "m != 0" if q.order == "any" else "bitTest(m, 0)"
    return f"""SELECT person, last_ts, first_channel, t0,
        toUInt8({reach}) AS reach,
        [{', '.join(f'{g}{j}' for j in range(1, q.k + 1))}] AS reach_times,
        if({g}{q.k} > 0, {g}{q.k}, t0 + %(window)s) AS attempt_end,
        arrayExists((t, x) -> x != 0 AND t > t0 AND t < attempt_end, T, X) AS excluded,
        B[arrayFirstIndex((t, m) -> t = t0 AND {entry_bit}, T, M)] AS entry_bd
    FROM ({stages})"""


# -- 4. persons --------------------------------------------------------------------------

def persons_sql(q):
    """Each person's furthest clean attempt (the latest entry among equally far ones)."""
    bd = "any(first_channel)" if q.breakdown in PERSON_BREAKDOWNS else "argMax(entry_bd, (reach, t0))"
    return f"""SELECT person, max(reach) AS stage, argMax(t0, (reach, t0)) AS entry,
        argMax(reach_times, (reach, t0)) AS times, any(last_ts) AS last_ts, {bd} AS bd
    FROM ({attempts_sql(q)})
    WHERE excluded = 0
    GROUP BY person"""


def status_sql(q, stage=None):
    """Conditions on a row of ``persons`` for each people-list status (any stage if None)."""
    if stage is not None:
        q.params.values["stage"] = stage
    at = "stage = %(stage)s" if stage is not None else "stage >= 1"
    reached = "stage >= %(stage)s" if stage is not None else "stage >= 1"
    open_ = "%(as_of)s <= entry + %(window)s"
    return {
        "reached": reached,
        "at": at,
        "in_progress": f"{at} AND stage < {q.k} AND {open_}",
        "dropped": f"{at} AND stage < {q.k} AND NOT ({open_})",
        "stalled": f"{reached} AND stage < {q.k} AND last_ts < %(as_of)s - {q.stall_ms}",
    }


# -- 5. funnel and people ----------------------------------------------------------------

def _quantiles(expr, cond):
    return f"quantilesExactIf(0.5, 0.9)(({expr}) / 1000, {cond})"


def funnel_figures(q):
    """The SELECT list of the funnel: arrays with one entry per stage (stage 1's times are 0)."""
    k = q.k
    open_ = "%(as_of)s <= entry + %(window)s"
    stages = range(1, k + 1)
    reached = [f"countIf(stage >= {j})" for j in stages]
    in_progress = [f"countIf(stage = {j} AND {open_})" if j < k else "toUInt64(0)" for j in stages]
    dropped = [f"countIf(stage = {j} AND NOT ({open_}))" if j < k else "toUInt64(0)" for j in stages]
    from_prev = [_quantiles(f"times[{j}] - times[{max(j - 1, 1)}]", f"stage >= {j}") for j in stages]
    from_start = [_quantiles(f"times[{j}] - times[1]", f"stage >= {j}") for j in stages]
    return [
        "count() AS people",
        f"[{', '.join(reached)}] AS reached",
        f"[{', '.join(in_progress)}] AS in_progress",
        f"[{', '.join(dropped)}] AS dropped",
        f"[{', '.join(from_prev)}] AS from_previous",
        f"[{', '.join(from_start)}] AS from_start",
    ]


def funnel_sql(q):
    """The funnel: one row of figures, plus one per breakdown value when asked."""
    figures = ",\n        ".join(funnel_figures(q))
    if not q.breakdown:
        return f"SELECT 1 AS total, '' AS value,\n        {figures}\n    FROM ({persons_sql(q)})"
    return f"""SELECT grp.1 AS total, grp.2 AS value,
        {figures}
    FROM ({persons_sql(q)})
    ARRAY JOIN [(toUInt8(0), bd), (toUInt8(1), '')] AS grp
    GROUP BY total, value
    ORDER BY total DESC, people DESC, value"""


def people_sql(q, status, stage=None, descending=True, cursor=None, limit=50):
    """One page of people with the status, newest (or oldest) last touchpoint first."""
    where = status_sql(q, stage)[status]
    if cursor is not None:
        q.params.values.update(c_ts=cursor[0], c_person=cursor[1])
        op = "<" if descending else ">"
        where += f" AND (last_ts {op} %(c_ts)s OR (last_ts = %(c_ts)s AND person {op} %(c_person)s))"
    direction = "DESC" if descending else "ASC"
    q.params.values["limit"] = limit
    return f"""SELECT person, stage, entry, times, last_ts
    FROM ({persons_sql(q)})
    WHERE {where}
    ORDER BY last_ts {direction}, person {direction}
    LIMIT %(limit)s"""
