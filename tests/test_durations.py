"""Times between stages rounded to two significant figures: the Python rounding, the live
engine's SQL and the view that keeps journey state's sums (migration 0050) agree, and the
quantile of a histogram is the one ClickHouse's quantileExact picks."""
import random

from hypothesis import given, strategies as st

from tracker.journeys.durations import bucket, bucket_sql, quantile
from tracker.journeys.state import PersonState, STATE_COLUMNS

EDGES = [0, 1, 99, 100, 101, 149, 150, 994, 995, 999, 1000, 1049, 1050, 9949, 9950, 99_499, 99_500,
         86_400_000, 1_209_600_000, 31 * 86_400_000, 10 ** 13 + 7]
VALUES = EDGES + random.Random(9).sample(range(10 ** 12), 200)


def test_the_rounding_is_two_significant_figures_halves_up():
    assert [bucket(v) for v in (0, 99, 100, 149, 150, 994, 995, 1049, 1050, 123_456)] == \
        [0, 99, 100, 150, 150, 990, 1000, 1000, 1100, 120_000]
    assert all(abs(bucket(v) - v) <= 0.05 * v for v in VALUES)


def test_sql_rounds_as_python(store):
    got = store.query(f"SELECT arrayMap(x -> {bucket_sql('x')}, %(values)s)", {"values": VALUES}).scalar()
    assert list(got) == [bucket(v) for v in VALUES]


def test_the_view_of_the_sums_rounds_as_python(store):
    """One person per time: the tally's histogram of stage 1 → 2 holds each rounded time once."""
    base = 1_700_000_000_000
    rows = []
    for i, value in enumerate(EDGES[:-1]):
        times = [base, base + value]
        person = PersonState(f"p{i}", a_entry=[base], a_stage=[2], a_times=[times], a_values=[[""] * 7], stage=2,
                             entry=base, times=times, vals=[""] * 7, entry_min=base, entry_max=base, last_ts=times[1])
        rows.append(person.row("s", "j", "b", i + 1))
    store.insert("journey_state", STATE_COLUMNS, rows)
    got = store.query("SELECT bucket, sum(n) FROM journey_tally WHERE dim = '' AND metric = 4 GROUP BY bucket")
    want = {}
    for value in EDGES[:-1]:
        want[bucket(value)] = want.get(bucket(value), 0) + 1
    assert dict(got) == want


@given(st.dictionaries(st.integers(0, 50), st.integers(1, 5), min_size=1), st.sampled_from([0.5, 0.9]))
def test_a_histograms_quantile_is_quantile_exact_of_its_values(counts, level):
    values = sorted(v for v, n in counts.items() for _ in range(n))
    assert quantile(counts, level) == values[min(int(level * len(values)), len(values) - 1)]
