"""What every storage backend shares: parameters, and values tested for membership."""
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tracker.store.backend import Members, StoreError


@pytest.mark.cluster  # a sharded table: the values must reach every shard
def test_members_give_what_the_same_values_written_into_the_query_give(store):
    store.insert("identities", ["site", "visitor_id", "user_id", "linked_at"],
                 [("s1", f"v{i}", f"u{i % 3}", 1_700_000_000 + i) for i in range(10)])
    many = [f"v{i}" for i in range(5, 5000)] + ["it's", "v3"]  # a quote, and more than a literal likes
    found = store.query("SELECT visitor_id FROM identities WHERE site = %(site)s AND visitor_id IN %(v)s "
                        "AND toUInt64(linked_at) IN %(at)s ORDER BY visitor_id",
                        {"site": "s1", "v": Members(many), "at": Members([1_700_000_003, 1_700_000_007], "UInt64")})
    assert [row[0] for row in found] == ["v3", "v7"]
    # the same name twice, inside a subquery, and none at all
    inner = store.query("SELECT count() FROM (SELECT visitor_id FROM identities WHERE visitor_id IN %(v)s) "
                        "WHERE visitor_id IN %(v)s", {"v": Members(["v1", "v2"])}).scalar()
    assert inner == 2
    assert store.query("SELECT count() FROM identities WHERE visitor_id IN %(v)s", {"v": Members([])}).scalar() == 0


@pytest.mark.parametrize("count", [3, 5000])  # below and above what the embedded store puts in a table
def test_members_of_any_text_and_any_number_are_found_as_they_are(store, count):
    odd = ["it's", "new\nline", "back\\slash", 'quo"te', "tab\tx", "ünï €", "[1, 2]", "%(v)s"]
    store.insert("identities", ["site", "visitor_id", "user_id", "linked_at"],
                 [("s1", v, "u", 1_700_000_000 + i) for i, v in enumerate(odd + ["plain"])])
    for wanted in (odd[:2], odd[2:]):  # one after another under the same name: each finds its own
        values = wanted + [f"none{i}" for i in range(count)]
        found = store.query("SELECT visitor_id FROM identities WHERE visitor_id IN %(v)s ORDER BY visitor_id",
                            {"v": Members(values)})
        assert [row[0] for row in found] == sorted(wanted)
    times = Members([1_700_000_001, 1_700_000_005] + [i for i in range(count)], "UInt64")
    assert store.query("SELECT count() FROM identities WHERE toUInt64(linked_at) IN %(t)s", {"t": times}).scalar() == 2


def test_a_query_over_its_memory_leaves_nothing_for_the_next(store):
    """A query stopped by its memory limit is an error, and the next query answers as if it had
    not run (chDB kept the stopped query's begun output and put it before the next one's, so a
    funnel over its limit broke the next request)."""
    with pytest.raises(StoreError, match="(?i)memory"):
        store.query("SELECT number, count() FROM numbers(1000000) GROUP BY number", settings={"max_memory_usage": 1000})
    assert store.query("SELECT 1 AS x, 'y' AS y") == [(1, "y")]


def test_threads_queries_run_at_once_and_each_takes_a_long_query(store):
    """A person page's reads run together, as do requests beside the journey worker: a store
    that ran its threads' queries one after another (one chDB session did) would make them
    wait. Every thread's query may be long (the worker names thousands of visitor ids)."""
    long_text = "x" * 300_000  # past ClickHouse's own 256 KiB for a query
    sql = f"SELECT sleep(0.5), length('{long_text}') + %(i)s"
    with ThreadPoolExecutor(max_workers=4) as pool:
        started = time.monotonic()
        answers = list(pool.map(lambda i: store.query(sql, {"i": i})[0][1], range(4)))
        took = time.monotonic() - started
    assert answers == [300_000 + i for i in range(4)]
    assert took < 1.5, f"4 queries of 0.5 s took {took:.2f} s: one after another"


def test_threads_querying_at_once_under_one_members_name_each_find_their_own(store):
    """The embedded store puts many members in a temporary table named after the parameter: the
    journey worker's two batches name their visitors at once, each in a session of its own."""
    store.insert("identities", ["site", "visitor_id", "user_id", "linked_at"],
                 [("s1", f"v{i}", "u", 1_700_000_000) for i in range(12_000)])

    def count(i):
        wanted = Members([f"v{j}" for j in range(i * 1000, i * 1000 + 600 + i)])
        return store.query("SELECT count() FROM identities WHERE visitor_id IN %(v)s", {"v": wanted}).scalar()

    with ThreadPoolExecutor(max_workers=4) as pool:
        found = list(pool.map(count, [i % 12 for i in range(48)]))
    assert found == [600 + i % 12 for i in range(48)]


def test_rows_inserted_come_back_as_they_are(store):
    """Texts that look like the rows' own separators, in arrays too, and numbers past 2**53."""
    odd = ["], [", "],[", '"],\n["', "it's", "back\\slash", "ünï €", "", "[1, 2]", "%(v)s", "\x00"]
    rows = [("s1", f"v{i}", value, 2 ** 64 - 1 - i, [[value, "x"], []]) for i, value in enumerate(odd)]
    store.insert("journey_state", ["site", "journey_id", "person", "version", "a_values"], rows)
    found = store.query("SELECT site, journey_id, person, version, a_values FROM journey_state "
                        "WHERE site = 's1' ORDER BY journey_id")
    assert [tuple(row) for row in found] == sorted(rows, key=lambda row: row[1])
    assert all(type(row[3]) is int for row in found)
