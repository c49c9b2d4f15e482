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
   flags), ``B`` (breakdown value), and tables over the groups of touchpoints of one
   millisecond; duplicates of a retried event fold away.
3. ``attempts``: per entry time ``t0`` (a stage-1 touchpoint inside the date range), the
   time each stage was reached (0 = not reached), found group by group, each step filling
   as many stages as it can in the earliest group that can fill the next one (see the
   comment of part 3). An array per person, not a row: no subquery level of its own.
4. ``persons``: the furthest clean attempt of each person (latest entry among equals).
5. ``funnel`` / ``people``: the figures, or the page of people.
"""
from ..clock import DAY_MS
from ..store.backend import Members
from .definitions import window_ms
from .durations import LEVELS, bucket_sql
from .rules import BREAKDOWNS, ENTRY_BREAKDOWNS, PERSON_BREAKDOWNS, RULE_COLUMNS, Params, rule_sql

# On top of the store's limits (time, memory, spilling): the JIT compiles an expression after
# its third use, which costs hundreds of milliseconds for these lambda-heavy queries and saves
# nothing on our sizes.
QUERY_SETTINGS = {"compile_expressions": 0}


# Work per person is bounded, so one person with tens of thousands of touchpoints (a cookieless
# office behind one address) neither breaks nor slows a journey: their latest touchpoints and
# attempts count (the state says it was capped). The bound is on their product: ClickHouse
# copies what an attempt's lambda reads for each attempt, so memory grows with entries times
# touchpoints (50,000 of each asked for a terabyte).
TIMELINE_CAP = 2_000
ENTRY_CAP = 200
TOUCH_TIMES_CAP = 1_000


class Query:
    """The parameters of one run: journey, site, range (ms), as_of (ms), breakdown.

    ``values``: the entry breakdowns carried per attempt (default: the one asked for);
    ``state``: the run computes journey state (every clean attempt, every breakdown)."""

    def __init__(self, journey, site, start_ms, end_ms, as_of_ms, breakdown=None, visitors=None, person=None,
                 state=False, part=None):
        self.journey = journey
        self.part = part  # (i, n): only the people whose hash is i modulo n (a big rebuild, in parts)
        self.state = state
        if state:
            self.values = list(ENTRY_BREAKDOWNS)
        else:
            self.values = [breakdown] if breakdown and breakdown not in PERSON_BREAKDOWNS else []
        self.k = len(journey["stages"])
        self.window_ms = window_ms(journey)
        self.stall_ms = journey["stall_after_days"] * DAY_MS
        self.order = journey.get("order", "ordered")
        self.breakdown = breakdown
        self.visitors = visitors
        self.person = person
        self.params = Params({"site": site, "start": start_ms, "end": end_ms, "as_of": as_of_ms,
                              "window": self.window_ms})


# -- 1. source ---------------------------------------------------------------------------

def person_sql():
    """A touchpoint's person: its user id, else the user its visitor was last linked to,
    else the visitor id itself (anonymous people are their own person)."""
    return "if(user_id != '', user_id, if(linked_user != '', linked_user, visitor_id))"


# The visitors of a few people, or of twenty thousand (``Members``): a table beside the query
# (sent with it to a server, a temporary one on chDB), not a literal that ClickHouse handles
# again at every level of subquery. The set still narrows the primary key.
VISITOR_IN = "visitor_id IN %(visitors)s"


def links_sql(visitor_filter):
    """visitor id → the user id it was linked to last."""
    return f"""SELECT visitor_id, argMax(user_id, linked_at) AS linked_user
        FROM identities WHERE site = %(site)s{visitor_filter} GROUP BY visitor_id"""


def with_person(columns, source, visitor_filter):
    """``columns`` of the rows of ``source`` (a SELECT with visitor_id and user_id), each after
    its ``person``. The join's subqueries are aliased: chDB refuses them bare (18.16 does not)."""
    return f"""SELECT {person_sql()} AS person, {columns}
        FROM ({source}) AS e
        ANY LEFT JOIN ({links_sql(visitor_filter)}) AS l USING visitor_id"""


def mask_sql(q):
    """Bit j-1 set when the touchpoint matches stage j's rule."""
    terms = [f"if({rule_sql(stage['match'], q.params)}, {1 << j}, 0)" for j, stage in enumerate(q.journey["stages"])]
    return "toUInt32(" + " + ".join(terms) + ")"


def exclusion_sql(q):
    rules = [rule_sql(rule, q.params) for rule in q.journey.get("exclude") or []]
    return "toUInt8(" + (" OR ".join(rules) if rules else "0") + ")"


def breakdown_sql(q):
    """The entry breakdown values a touchpoint carries, as an array (``q.values`` order)."""
    if not q.values:
        return "emptyArrayString()"
    # only an entry's are read: the others carry none through the timelines
    entry = "mask != 0" if q.order == "any" else "bitTest(mask, 0)"
    return f"if({entry}, [" + ", ".join(BREAKDOWNS[name] for name in q.values) + "], emptyArrayString())"


def person_level(q):
    """Whether the person-level breakdowns (first touch) are computed: over all their history."""
    return q.state or q.breakdown in PERSON_BREAKDOWNS


# The breakdowns that read a touchpoint's origin, which may be its visit's.
ORIGIN_BREAKDOWNS = ("channel", "source")


def uses_visits(q):
    """Whether a rule, an exclusion or a breakdown reads the channel or the source, which a
    touchpoint may take from its visit."""
    rules = [stage["match"] for stage in q.journey["stages"]] + list(q.journey.get("exclude") or [])
    return (any("channel" in rule for rule in rules) or any(name in q.values for name in ORIGIN_BREAKDOWNS)
            or person_level(q))


def source_sql(q, lower_ms="%(start)s"):
    """Touchpoints of the site with person, ts, mask, excl and breakdown value."""
    visitor_filter = f" AND {VISITOR_IN}" if q.visitors is not None else ""
    if q.visitors is not None:
        q.params.values["visitors"] = Members(sorted(q.visitors))
    person_filter = ""
    if q.person is not None:  # one person's page: their visitors may carry others' touchpoints
        q.params.values["person"] = q.person
        person_filter = " AND person = %(person)s"
    until = "event_time <= toDateTime(intDiv(%(as_of)s, 1000))"
    if q.part is not None:
        q.params.values.update(part=q.part[0], parts=q.part[1])
        person_filter += f" AND {PART}"
        # GLOBAL: on a cluster the part's visitors are found once, from every shard's touchpoints
        # and links, and sent to the shards (a subquery of the sharded table per shard is refused)
        visitor_filter += f" AND visitor_id GLOBAL IN ({part_visitors_sql(visitor_filter, until)})"
    where = f"site = %(site)s AND is_bot = 0{visitor_filter} AND event_time >= toDateTime(intDiv({lower_ms}, 1000)) AND {until}"
    # A visit that began up to a day before the range still gives its channel and source.
    visits = (f"site = %(site)s{visitor_filter} AND event_time >= toDateTime(intDiv(greatest({lower_ms}, {DAY_MS}) - {DAY_MS}, 1000)) "
              f"AND {until}")
    touchpoints = touchpoints_sql(["visitor_id", "user_id", "event_id", TS] + list(RULE_COLUMNS), where,
                                  visits if uses_visits(q) else None)
    matched = f"""SELECT visitor_id, user_id, event_id, channel, ts,
               {mask_sql(q)} AS mask, {exclusion_sql(q)} AS excl, {breakdown_sql(q)} AS value
        FROM ({touchpoints})"""
    return f"""{with_person("ts, event_id, mask, excl, value, channel", matched, visitor_filter)}
    WHERE ts <= %(as_of)s{person_filter}"""


# A part of the people (``Query.part``): their persons' hash modulo the number of parts.
PART = "modulo(cityHash64(person), %(parts)s) = %(part)s"


def part_visitors_sql(visitor_filter, until):
    """The visitors whose touchpoints belong to a person of the query's part: only theirs, and
    their visits, are read for it, so each part holds a part of the people and of the visits."""
    events = f"SELECT visitor_id, user_id FROM events WHERE site = %(site)s AND is_bot = 0{visitor_filter} AND {until}"
    return f"""SELECT DISTINCT visitor_id FROM ({with_person("visitor_id", events, visitor_filter)})
        WHERE {PART}"""


# A touchpoint's time in milliseconds.
TS = "toUInt64(event_time) * 1000 + event_ms AS ts"
# Whether a touchpoint counts under its own origin: when it has a channel of its own other
# than "direct", or no visit to take one from. Otherwise (a page view inside a visit, an
# in-page event, a reload) it counts under its visit's: the channel and source of the first
# touchpoint of the visit (the sender's session id) that had a channel.
OWN_ORIGIN = "own_channel NOT IN ('', 'direct') OR visit_channel = ''"
# The channel a touchpoint counts under (direct when it has none at all), and its source.
EFFECTIVE_CHANNEL = "if(own_origin, if(own_channel = '', 'direct', own_channel), visit_channel)"
EFFECTIVE_SOURCE = "if(own_origin, own_source, visit_source)"


def first_key(ms):
    """What "first" orders touchpoints by: their time in ms (``ms``, below 2^42: until 2109), and
    between touchpoints of one millisecond a hash of their id, so that every query (live, state,
    in any order of parts and threads) picks the same one. A number: a tuple costs argMin half
    as much time again."""
    return f"({ms}) * 4194304 + modulo(cityHash64(event_id), 4194304)"


# A visit's origin: its first touchpoint with a channel gives both, as one pair (two argMin
# could each pick another of two touchpoints of the same millisecond).
VISIT_ORIGIN = f"argMin((channel, source), {first_key('toUInt64(event_time) * 1000 + event_ms')})"
VISIT_KEY = "cityHash64(visitor_id, session_id) AS visit_key"


def touchpoints_sql(columns, where, visits_where=None):
    """``columns`` of the touchpoints matching ``where``, with ``channel`` and ``source``, the
    origin each counts under; their visits are read from the touchpoints matching
    ``visits_where`` (None: each touchpoint's own origin, its channel direct when it has none).

    Visits are a read-time matter, so no worker's memory decides them: the same touchpoints
    give the same channels and sources in whatever order, batch or process they arrived."""
    inner = (f"SELECT {', '.join(columns)}, session_id, channel AS own_channel, source AS own_source "
             f"FROM events WHERE {where}")
    if visits_where is None:
        return (f"SELECT *, if(own_channel = '', 'direct', own_channel) AS channel, own_source AS source "
                f"FROM ({inner}) AS t")
    # A visit is joined on a hash of (visitor, session id): one number, where two strings made
    # the join most of a journey state rebuild.
    visits = f"""SELECT {VISIT_KEY}, tupleElement({VISIT_ORIGIN}, 1) AS visit_channel,
                   tupleElement({VISIT_ORIGIN}, 2) AS visit_source
            FROM events WHERE {visits_where} AND session_id != '' AND channel != ''
            GROUP BY visit_key"""
    return f"""SELECT *, ({OWN_ORIGIN}) AS own_origin, {EFFECTIVE_CHANNEL} AS channel, {EFFECTIVE_SOURCE} AS source
        FROM (SELECT *, {VISIT_KEY} FROM ({inner})) AS t
        ANY LEFT JOIN ({visits}) AS v USING visit_key"""


# -- 2. timelines ------------------------------------------------------------------------

def timeline_columns(q):
    """Per person: sorted arrays of their relevant touchpoints (a GROUP BY person), the latest
    ``TIMELINE_CAP`` of them."""
    # strict mode needs every touchpoint: any other one between two stages ends an attempt.
    keep = "1" if q.order == "strict" else "mask != 0 OR excl != 0"
    first_touch = f"argMin(channel, {first_key('ts')})" if person_level(q) else "''"
    columns = [
        f"arraySort(groupUniqArrayIf((ts, event_id, mask, excl, value), ({keep}) AND ts <= %(end)s + %(window)s)) AS ev_all",
        f"arraySlice(ev_all, -{TIMELINE_CAP}) AS ev", f"toUInt8(length(ev_all) > {TIMELINE_CAP}) AS capped",
        "arrayMap(x -> x.1, ev) AS T", "arrayMap(x -> x.3, ev) AS M", "arrayMap(x -> x.4, ev) AS X",
        "arrayMap(x -> x.5, ev) AS B", "max(ts) AS last_ts", f"{first_touch} AS first_channel",
    ]
    if q.state:  # every touchpoint's time, for the silences between them (stalled, reactivated)
        # (groupArray then distinct: a set per person costs more than sorting their times)
        columns.append(f"arraySlice(arrayDistinct(arraySort(groupArray(ts))), -{TOUCH_TIMES_CAP}) AS touch_times")
    return columns


# -- 3. attempts -------------------------------------------------------------------------
#
# Touchpoints of one millisecond form a *group*, in which any order is possible. Walking
# an attempt group by group, the state is the list ``R`` of the times of the stages reached
# so far; a step takes the earliest group that can fill the next stage and fills as many
# consecutive stages there as distinct touchpoints of the group allow. Earliest group and
# most stages are always best (whatever a later sequence does, its tail is open to the
# greedy one), so this is exact, and each stage gets its earliest time.
#
# What a step needs is computed once per person, in ``timelines`` (``group_columns``):
# ``GF[g][a]``, the stages group g fills from stage a on, and ``PS``/``CS``, the next group
# with a touchpoint for stage a. A step is then one lambda of plain lookups: the
# ClickHouse analyser spends about a millisecond per lambda in the query text, which is
# what made the first version slow before it read a row. Each step binds the previous state
# to the lambda parameter (``arrayMap(R -> …, [prev])[1]``) so the query grows linearly with
# the stages: ClickHouse inlines aliases, and naming the previous state twice would double
# the query at every stage.

def _popcount(x):
    """Set bits of ``x`` (< 2^32) by SWAR arithmetic: 18.16 has no bitCount."""
    x1 = f"({x} - bitAnd(bitShiftRight({x}, 1), 1431655765))"
    x2 = f"(bitAnd({x1}, 858993459) + bitAnd(bitShiftRight({x1}, 2), 858993459))"
    x3 = f"bitAnd({x2} + bitShiftRight({x2}, 4), 252645135)"
    return f"bitAnd(bitShiftRight({x3} * 16843009, 24), 255)"


def fill_sql():
    """Stages a+1.. (a counts from 0) that the group (its masks gm, size c, union of masks
    u, all masks equal: same) fills with one touchpoint each.

    A group whose touchpoints all have the same mask fills the run of its stages from a, up
    to its size. Otherwise n stages from there fit when every subset S of them matches at least
    |S| touchpoints of the group (Hall's theorem), tried for n = 1, 2, … up to that bound
    (a group of mixed masks is rare, and small)."""
    y = "bitShiftRight(u, a)"
    bound = f"least(c, toUInt64(log2(bitAnd(bitNot({y}), {y} + 1))))"
    hall = (f"arrayAll(S -> {_popcount('S')} <= arrayCount(m -> bitAnd(m, bitShiftLeft(S, a)) != 0, "
            "gm), range(toUInt64(bitShiftLeft(toUInt64(2), n))))")
    # 18.16's range() takes one argument: n + 1 runs over 1..bound (and S = 0 is harmless).
    return f"if(same, {bound}, arrayCount(n -> {hall}, range(toUInt64(if(same, 0, {bound})))))"


def group_columns(q):
    """Per person, the groups of the touchpoints that may fill stages (all of them in strict
    mode: ``GTS``, ``GMS``): first index ``GS``, time ``GT``, size ``GC``, union of masks
    ``GU``; the fill table ``GF``; and for each stage a the groups matching it, ``PS[a]``, and
    how many of those are at or before each group, ``CS[a]``: the next group after g for
    stage a is ``PS[a][CS[a][g] + 1]``."""
    if q.order == "strict":
        touchpoints = ["T AS GTS", "M AS GMS"]
    else:
        touchpoints = ["arrayFilter((t, m) -> m != 0, T, M) AS GTS", "arrayFilter(m -> m != 0, M) AS GMS"]
    slice_ = "arraySlice(GMS, s, c)"
    return touchpoints + [
        "arrayFilter(i -> i = 1 OR GTS[i] != GTS[i - 1], arrayEnumerate(GTS)) AS GS",
        "arrayMap(s -> GTS[s], GS) AS GT",
        "arrayMap(c -> toUInt64(c), arrayPopFront(arrayDifference(arrayPushBack(GS, length(GTS) + 1)))) AS GC",
        f"arrayMap((s, c) -> toUInt64(arrayReduce('groupBitOr', {slice_})), GS, GC) AS GU",
        # the group's masks enter as ``gm`` (empty when all equal): a lambda copies what it
        # captures for every element, and the whole timeline per group and stage is costly.
        f"arrayMap((gm, c, u, same) -> arrayMap(a -> {fill_sql()}, range({q.k})), "
        f"arrayMap((s, c) -> if(arrayReduce('min', {slice_}) = arrayReduce('max', {slice_}), emptyArrayUInt32(), "
        f"{slice_}), GS, GC), GC, GU, arrayMap((s, c) -> arrayReduce('min', {slice_}) = arrayReduce('max', {slice_}), "
        f"GS, GC)) AS GF",
        f"arrayMap(a -> arrayFilter((g, u) -> bitTest(u, a), arrayEnumerate(GU), GU), range({q.k})) AS PS",
        f"arrayMap(a -> arrayCumSum(arrayMap(u -> bitTest(u, a), GU)), range({q.k})) AS CS",
    ]


def _repeat(value, count):
    return f"arrayResize(emptyArrayUInt64(), {count}, {value})"


# The tables and t0 enter each step as lambda arguments: ClickHouse 18.16 does not see a
# subquery column that only a nested lambda uses.
TABLES = "GT, GC, GF, PS, CS"
STEP_ARGS = ", ".join(f"[{name}]" for name in TABLES.split(", ") + ["t0"])


def _step(state, body, prev):
    return f"arrayMap(({state}, {TABLES}, t0) -> {body}, [{prev}], {STEP_ARGS})[1]"


def ordered_step_sql(prev):
    """One step of an ordered attempt from ``prev``: the earliest later group in the window
    with a touchpoint for the next stage fills what it can."""
    a = "(length(R) + 1)"
    g = f"PS[{a}][CS[{a}][indexOf(GT, R[-1])] + 1]"
    fill = f"if({g} > 0 AND GT[{g}] <= t0 + %(window)s, GF[{g}][{a}], 0)"
    return _step("R", f"arrayConcat(R, {_repeat(f'GT[{g}]', fill)})", prev)


def strict_step_sql(prev):
    """One step of a strict attempt from ``prev`` = (R, stopped): the very next group must
    be used whole to go on; used in part, it is the last one."""
    a = "(length(x.1) + 1)"
    g = "(indexOf(GT, (x.1)[-1]) + 1)"
    go = f"(NOT x.2 AND {g} <= length(GT) AND GT[{g}] <= t0 + %(window)s)"
    fill = f"if({go}, GF[{g}][{a}], 0)"
    return _step("x", f"(arrayConcat(x.1, {_repeat(f'GT[{g}]', fill)}), x.2 OR NOT {go} OR {fill} < GC[{g}])", prev)


def ordered_times_sql(q):
    """Ordered mode: stage times of the attempt entering at t0, from its entry group on."""
    state = _repeat("t0", "GF[indexOf(GT, t0)][1]")
    for _ in range(q.k - 1):
        state = ordered_step_sql(state)
    return f"arrayResize({state}, {q.k})"


def strict_times_sql(q):
    """Strict mode: every exit ``E`` from the entry group is tried (the first E stages there,
    its spare touchpoints placed before the entry), and each stage keeps its earliest time."""
    fits = "E <= GF[indexOf(GT, t0)][1]"
    state = f"(if({fits}, {_repeat('t0', 'E')}, emptyArrayUInt64()), NOT ({fits}))"
    for _ in range(q.k - 1):
        state = strict_step_sql(state)
    exits = f"arrayMap(e -> e + 1, range(toUInt64(least(GC[indexOf(GT, t0)], {q.k}))))"
    stages = list(range(1, q.k + 1))
    return (f"arrayMap(RS -> arrayMap(j -> arrayReduce('min', arrayFilter(r -> r > 0, arrayMap(R -> R[j], RS))), "
            f"{stages}), [arrayMap(E -> ({state}).1, {exits})])[1]")


def _popcounts(k):
    return "[" + ",".join(str(bin(s).count("1")) for s in range(1 << k)) + "]"


def any_candidates_sql(q):
    """Indexes (in time order) of the touchpoints an 'any' attempt at t0 may use: for each
    stage, the first k that match it within the window. No more are needed: a matching that
    used a later one for stage j could swap it for one of those k that no other stage took,
    and be done no later. This bounds the work per attempt by k² touchpoints, however many
    the person has."""
    # Element-wise lambdas only: a lambda that indexes a captured array gets a copy of it per
    # element, quadratic in the timeline.
    per_stage = [f"arraySlice(arrayFilter((i, t, m) -> bitTest(m, {j}) AND t >= t0 AND t <= t0 + %(window)s, "
                 f"arrayEnumerate(T), T, M), 1, {q.k})" for j in range(q.k)]
    return f"arraySort(arrayDistinct(arrayConcat({', '.join(per_stage)})))"


def any_times_sql(q):
    """'any' order: stages done = the largest matching of stages to distinct touchpoints
    in [t0, t], computed with Hall's theorem over every subset S of stages:
    k - max(|S| - #touchpoints matching a stage of S), at each time ``tend`` of ``GA``,
    over the candidate touchpoints ``TC``/``MC`` only."""
    k = q.k
    count = (f"{k} - arrayReduce('max', arrayMap(S -> toInt64(POP[S + 1]) - arrayCount((t, m) -> "
             f"t <= tend AND bitAnd(m, S) != 0, TC, MC), range({1 << k})))")
    times = ", ".join(f"arrayFirst((t, c) -> c >= {j}, GA, C)" for j in range(1, k + 1))
    return (f"arrayMap(I -> arrayMap((TC, MC, GA, POP) -> arrayMap(C -> [{times}], [arrayMap(tend -> {count}, GA)])[1], "
            f"[arrayMap(i -> T[i], I)], [arrayMap(i -> M[i], I)], [arrayDistinct(arrayMap(i -> T[i], I))], "
            f"[{_popcounts(k)}])[1], [{any_candidates_sql(q)}])[1]")


def _is_entry(q):
    """Whether a touchpoint (t, m) may start an attempt: stage 1 (any stage, for 'any'), in the range."""
    test = "m != 0" if q.order == "any" else "bitTest(m, 0)"
    return f"{test} AND t >= %(start)s AND t <= %(end)s"


def entries_sql(q):
    """Entry times of attempts: stage-1 touchpoints (any stage's, for 'any') in the range, the
    latest ``ENTRY_CAP`` of them."""
    return f"arraySlice(arrayDistinct(arrayFilter((t, m) -> {_is_entry(q)}, T, M)), -{ENTRY_CAP})"


def entry_values_sql(q):
    """The breakdown values of each entry of ``entries_sql`` (its first touchpoint's), in the
    same order. The values go into lambdas as arguments, never captured: a lambda copies what
    it captures for every element, and a timeline's strings for each attempt were most of a
    rebuild's work."""
    times = f"arrayFilter((t, m) -> {_is_entry(q)}, T, M)"
    first = "arrayMap((d, i) -> i = 1 OR d != 0, arrayDifference(ET), arrayEnumerate(ET))"
    values = f"arrayFilter((b, t, m) -> {_is_entry(q)}, B, T, M)"
    return f"arrayMap(ET -> arraySlice(arrayFilter((b, f) -> f, {values}, {first}), -{ENTRY_CAP}), [{times}])[1]"


def attempt_sql(q):
    """The attempt entering at ``t0`` as (stages reached, t0, stage times, excluded); the stage
    times are bound once, as the lambda's ``RT``."""
    builders = {"any": any_times_sql, "strict": strict_times_sql, "ordered": ordered_times_sql}
    end = f"if(RT[{q.k}] > 0, RT[{q.k}], t0 + %(window)s)"
    return (f"arrayMap(RT -> (toUInt8(arrayCount(t -> t > 0, RT)), t0, RT, "
            f"arrayExists((t, x) -> x != 0 AND t > t0 AND t < {end}, T, X)), [{builders[q.order](q)}])[1]")


def timeline_args(q):
    """The timeline columns an attempt reads, passed as arguments of an outer lambda:
    18.16 does not see a subquery column that only nested lambdas use."""
    return "T, M, X, B" + ("" if q.order == "any" else f", {TABLES}")


def _bound(q, body):
    args = timeline_args(q)
    return f"arrayMap(({args}) -> {body}, {', '.join(f'[{a}]' for a in args.split(', '))})[1]"


def clean_attempts_sql(q, bound=True):
    """Every clean attempt of the person (no exclusion inside it), oldest entry first, as
    (stages reached, entry, stage times, 0, the entry's breakdown values)."""
    attempts = f"arrayMap(t0 -> {attempt_sql(q)}, {entries_sql(q)})"
    clean = (f"arrayFilter(a -> a.4 = 0, arrayMap((a, v) -> (a.1, a.2, a.3, a.4, v), {attempts}, "
             f"{entry_values_sql(q)}))")
    return _bound(q, clean) if bound else clean


# -- 4. persons --------------------------------------------------------------------------

def timelines_sql(q):
    """One row per person with an entry in the range: timeline arrays and group tables."""
    lower = "0" if person_level(q) else "%(start)s"
    groups = [] if q.order == "any" else group_columns(q)
    return f"""SELECT person,
        {", ".join(timeline_columns(q) + groups)}
    FROM ({source_sql(q, lower)})
    GROUP BY person
    HAVING arrayExists((t, m) -> m != 0 AND t >= %(start)s AND t <= %(end)s, T, M)"""


# An attempt's rank: (stages, entry) as one number (t0 < 2^42 ms, the year 2109): the furthest
# wins, the latest entry among equally far ones.
ENTRY_SCALE = 4398046511104
ATTEMPT_KEY = f"a.1 * {ENTRY_SCALE} + a.2"


def pick_best_sql(attempts):
    """[the furthest of ``attempts`` (the latest entry among equally far ones)], or []."""
    key = f"arrayMap(a -> {ATTEMPT_KEY}, A)"
    return f"arrayMap(A -> A[indexOf({key}, arrayReduce('max', {key}))], arrayFilter(A -> notEmpty(A), [{attempts}]))"


def best_attempt_sql(q):
    """[the furthest clean attempt (the latest entry among equally far ones)], or [] when
    no attempt is clean."""
    return _bound(q, pick_best_sql(clean_attempts_sql(q, bound=False)))


def bd_sql(q, attempt):
    """The breakdown value of a person's chosen attempt (or of the person, for first touch)."""
    if q.breakdown in PERSON_BREAKDOWNS:
        return "first_channel"
    if not q.breakdown:
        return "''"
    return f"({attempt})[{q.values.index(q.breakdown) + 1}]"


def persons_sql(q):
    """Each person's furthest clean attempt: stage, entry, stage times, last touchpoint.

    The attempts are an array per person, chosen from in the same SELECT (an ARRAY JOIN of
    one element binds the choice): on 18.16 every level of subquery is analysed again by
    each level above it, so levels cost."""
    return f"""SELECT person, best.1 AS stage, best.2 AS entry, best.3 AS times, last_ts, {bd_sql(q, "best.5")} AS bd
    FROM ({timelines_sql(q)})
    ARRAY JOIN {best_attempt_sql(q)} AS best"""


def state_sql(q):
    """What journey state keeps of each person with an attempt (see ``journeys/state.py``):
    every clean attempt (entry, stages, stage times, every entry breakdown), the furthest of
    them flat, the first touch's channel, the last touchpoint, the times of their touchpoints,
    capped or not."""
    best = pick_best_sql("A")
    return f"""SELECT person, arrayMap(a -> a.2, A) AS a_entry, arrayMap(a -> a.1, A) AS a_stage,
        arrayMap(a -> a.3, A) AS a_times, arrayMap(a -> a.5, A) AS a_values,
        arrayMap(b -> b.1, B)[1] AS stage, arrayMap(b -> b.2, B)[1] AS entry, arrayMap(b -> b.3, B)[1] AS times,
        arrayMap(b -> b.5, B)[1] AS vals,
        arrayReduce('min', a_entry) AS entry_min, arrayReduce('max', a_entry) AS entry_max,
        first_channel, last_ts, touch_times, capped
    FROM (SELECT person, A, {best} AS B, first_channel, last_ts, touch_times, capped
          FROM (SELECT person, {clean_attempts_sql(q)} AS A, first_channel, last_ts, touch_times, capped
                FROM ({timelines_sql(q)})))"""


# The people-list statuses, with how a list of them is headed ("people who … stage J");
# ``status_sql`` has a condition for each.
STATUSES = {
    "reached": "reached",
    "at": "are at",
    "in_progress": "are in progress after",
    "dropped": "dropped after",
    "stalled": "stalled at or after",
}


def status_sql(q, stage=None):
    """Conditions on a row of ``persons`` for each of STATUSES (any stage if None)."""
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
    """The median and p90 in seconds of a time in ms, rounded as journey state keeps it."""
    return f"quantilesExactIf({', '.join(map(str, LEVELS))})({bucket_sql(expr)} / 1000, {cond})"


def funnel_figures(q):
    """The SELECT list of the funnel: arrays with one entry per stage (stage 1's times are 0)."""
    k = q.k
    open_ = "%(as_of)s <= entry + %(window)s"
    stages = range(1, k + 1)
    reached = [f"countIf(stage >= {j})" for j in stages]
    in_progress = [f"countIf(stage = {j} AND {open_})" if j < k else "toUInt64(0)" for j in stages]
    dropped = [f"countIf(stage = {j} AND NOT ({open_}))" if j < k else "toUInt64(0)" for j in stages]
    # Stalled at j: no touchpoint for stall_after_days (the drop-off to act on while the window is open).
    stalled = [f"countIf(stage = {j} AND last_ts < %(as_of)s - {q.stall_ms})" if j < k else "toUInt64(0)"
               for j in stages]
    from_prev = [_quantiles(f"times[{j}] - times[{max(j - 1, 1)}]", f"stage >= {j}") for j in stages]
    from_start = [_quantiles(f"times[{j}] - times[1]", f"stage >= {j}") for j in stages]
    return [
        "count() AS people",
        f"[{', '.join(reached)}] AS reached",
        f"[{', '.join(in_progress)}] AS in_progress",
        f"[{', '.join(dropped)}] AS dropped",
        f"[{', '.join(stalled)}] AS stalled",
        f"[{', '.join(from_prev)}] AS from_previous",
        f"[{', '.join(from_start)}] AS from_start",
    ]


def funnel_sql(q, persons=None):
    """The funnel: one row of figures, plus one per breakdown value when asked. ``persons``: the
    SQL of each person's chosen attempt (default: the live engine's; journey state has its own)."""
    figures = ",\n        ".join(funnel_figures(q))
    persons = persons or persons_sql(q)
    if not q.breakdown:
        return f"SELECT 1 AS total, '' AS value,\n        {figures}\n    FROM ({persons})"
    return f"""SELECT grp.1 AS total, grp.2 AS value,
        {figures}
    FROM ({persons})
    ARRAY JOIN [(toUInt8(0), bd), (toUInt8(1), '')] AS grp
    GROUP BY total, value
    ORDER BY total DESC, people DESC, value"""


def people_sql(q, status, stage=None, descending=True, cursor=None, limit=50, persons=None):
    """One page of people with the status, newest (or oldest) last touchpoint first."""
    where = status_sql(q, stage)[status]
    if cursor is not None:
        q.params.values.update(c_ts=cursor[0], c_person=cursor[1])
        op = "<" if descending else ">"
        where += f" AND (last_ts {op} %(c_ts)s OR (last_ts = %(c_ts)s AND person {op} %(c_person)s))"
    direction = "DESC" if descending else "ASC"
    q.params.values["limit"] = limit
    return f"""SELECT person, stage, entry, times, last_ts
    FROM ({persons or persons_sql(q)})
    WHERE {where}
    ORDER BY last_ts {direction}, person {direction}
    LIMIT %(limit)s"""
