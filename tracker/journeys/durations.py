"""Times between stages as the funnel reports them: in milliseconds rounded to two significant
figures (within 5 %), so that journey state can keep them as counts per rounded time, a
histogram whose size does not grow with the number of people; medians and p90s are those of
the rounded times, the same from the live engine and from state.

The rounding is written three times, and the tests hold them equal: here, in SQL for the live
engine (``bucket_sql``), and in the view that fills ``journey_tally`` (migrations/0050).
"""

# Funnel quantiles: the median and the 90th percentile.
LEVELS = (0.5, 0.9)


def bucket(ms):
    """``ms`` (a whole number >= 0) rounded to two significant figures, halves up."""
    if ms < 100:
        return ms
    unit = 10 ** (len(str(ms)) - 2)
    return (ms + unit // 2) // unit * unit


def bucket_sql(expr):
    """SQL of ``bucket`` for an expression >= 0 (repeated, not bound in a lambda: ClickHouse
    computes a repeated expression once, and 18.16 spends about a millisecond on each lambda)."""
    v = f"toUInt64({expr})"
    unit = f"toUInt64(exp10(greatest(toInt64(length(toString({v}))) - 2, 0)))"
    return f"if({v} < 100, {v}, intDiv({v} + intDiv({unit}, 2), {unit}) * {unit})"


def quantile(counts, level):
    """The ``level`` quantile of a histogram {value: how many}, as ClickHouse's quantileExact
    picks it from the values themselves: the element at index floor(level * n) in order."""
    total = sum(counts.values())
    wanted = min(int(level * total), total - 1)
    seen = 0
    for value in sorted(counts):
        seen += counts[value]
        if seen > wanted:
            return value
    raise ValueError("an empty histogram has no quantile")
