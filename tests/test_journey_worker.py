"""The journey worker: what it sees, what it writes, and what it survives."""
import json
import time

from click.testing import CliRunner

from helpers import send
from conftest import command_env
from tracker.cli import main as tracker
from tracker.ingest.touchpoints import EVENT_COLUMNS
from tracker.journeys import definitions, engine, reports, state, tally
from tracker.store import mutations
from tracker.worker import JourneyWorker, read_status
from tracker.worker.journey import rebuild_states

DAY = 86_400_000
NOW = int(time.time() * 1000)
BOOKING = {"name": "Booking", "window_days": 7, "stall_after_days": 3, "stages": [
    {"name": "discover", "match": {"type": "pageview"}},
    {"name": "compare", "match": {"name": "compare"}},
    {"name": "book", "match": {"type": "purchase"}}]}


def touchpoint(vid, ts, type_="pageview", name="", user="", event_id=None):
    values = dict.fromkeys(EVENT_COLUMNS, "")
    values.update(site="s1", event_id=event_id or f"{vid}-{ts}-{name}", event_time=ts // 1000, event_ms=ts % 1000,
                  received_at=ts // 1000, visitor_id=vid, user_id=user, type=type_, name=name, path="/p", is_bot=0,
                  prop_keys=[], prop_values=[])
    return tuple(values[c] for c in EVENT_COLUMNS)


def transitions_of(store, person):
    return [tuple(r) for r in store.query(
        "SELECT kind, from_stage, to_stage, at_ms FROM journey_transitions FINAL WHERE person = %(p)s "
        "ORDER BY at_ms, kind", {"p": person})]


def journey_state(store, person):
    rows = store.query("SELECT a_stage, capped FROM journey_state FINAL WHERE person = %(p)s", {"p": person})
    return rows[0] if rows else None


def test_touchpoints_inserted_by_plain_sql_and_old_imports_are_seen(store):
    definitions.save(store, "s1", "booking", definitions.validate_definition(BOOKING))
    worker = JourneyWorker(store)
    try:
        worker.run_once()
        year_ago = NOW - 365 * DAY  # an import of last year's touchpoints: old times, new inserts
        store.insert("events", EVENT_COLUMNS, [touchpoint("imp", year_ago), touchpoint("imp", year_ago + 1000, "event", "compare")])
        worker.run_once()
        assert journey_state(store, "imp")[0] == [2]
        kinds = [t[:3] for t in transitions_of(store, "imp")]
        assert ("entered", 0, 1) in kinds and ("entered", 1, 2) in kinds and ("dropped", 2, 2) in kinds
    finally:
        worker.stop()


def test_time_passing_alone_records_stalls_and_drops(store):
    definitions.save(store, "s1", "booking", definitions.validate_definition(BOOKING))
    start = NOW - 10 * DAY
    store.insert("events", EVENT_COLUMNS, [touchpoint("tim", start), touchpoint("tim", start + 1000, "event", "compare")])
    worker = JourneyWorker(store)
    try:
        worker.run_once(as_of=start + DAY)
        assert [t[0] for t in transitions_of(store, "tim")] == ["entered", "entered"]
        worker.run_once(as_of=start + 4 * DAY)  # three silent days: stalled, the window still open
        assert transitions_of(store, "tim")[-1] == ("stalled", 2, 2, start + 1000 + 3 * DAY)
        worker.run_once(as_of=start + 8 * DAY)  # the window closed
        assert transitions_of(store, "tim")[-1] == ("dropped", 2, 2, start + 7 * DAY)
        store.insert("events", EVENT_COLUMNS, [touchpoint("tim", start + 9 * DAY, "event", "newsletter")])
        worker.run_once(as_of=start + 9 * DAY + 1000)
        assert ("reactivated", 2, 2, start + 9 * DAY) in transitions_of(store, "tim")
    finally:
        worker.stop()


def test_two_workers_write_nothing_twice_and_one_takes_over(store):
    definitions.save(store, "s1", "booking", definitions.validate_definition(BOOKING))
    first, second = JourneyWorker(store), JourneyWorker(store)
    try:
        assert first.run_once() is not None and second.run_once() is None  # one leads
        store.insert("events", EVENT_COLUMNS, [touchpoint("two", NOW - DAY)])
        first.run_once(), second.run_once()
        first.stop()  # gives the lease back
        store.insert("events", EVENT_COLUMNS, [touchpoint("two", NOW - DAY + 1000, "event", "compare")])
        assert second.run_once() is not None  # takes over from the watermark the first left
        assert journey_state(store, "two")[0] == [2]
        repeated = store.query("SELECT id FROM journey_transitions GROUP BY id HAVING count() > 1")
        assert list(repeated) == []
    finally:
        second.stop()


def test_a_failing_side_step_leaves_the_journey_work_of_the_round_standing(store):
    definitions.save(store, "s1", "booking", definitions.validate_definition(BOOKING))
    worker = JourneyWorker(store)
    worker.run_once()

    def broken(**kwargs):
        raise RuntimeError("the audit table is gone")

    worker.retention.maybe_run = worker.late_erasures.maybe_run = broken
    now = int(time.time() * 1000)
    store.insert("events", EVENT_COLUMNS, [touchpoint("ann", now - 1000)])
    done = worker.run_once()
    worker.stop()
    assert done["persons"] == 1 and worker.totals["errors"] == 2
    assert "late erasures: RuntimeError: the audit table is gone" == worker.last_error["error"]
    assert transitions_of(store, "ann")[0][0] == "entered"


def test_the_worker_survives_an_exception_and_reports_it(store, monkeypatch):
    from tracker.worker import loop

    definitions.save(store, "s1", "booking", definitions.validate_definition(BOOKING))
    calls = []

    def broken(*args, **kwargs):
        calls.append(1)
        raise RuntimeError("the disk is full")

    monkeypatch.setattr(loop, "sweep", broken)
    monkeypatch.setattr(loop, "SWEEP_SECONDS", 0)
    worker = JourneyWorker(store, interval=0.05).start()
    try:
        deadline = time.monotonic() + 10
        while len(calls) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        health = worker.health()
        assert len(calls) >= 2 and health["ok"] and health["running"]
        assert "the disk is full" in health["last_error"]["error"]
    finally:
        worker.stop()


def test_a_heavy_person_is_capped_not_a_burden(store):
    """A cookieless office behind one address: 50,000 touchpoints of one visitor. Their work
    is bounded (the latest touchpoints count, the state says it was capped), and every order
    mode's funnel answers, from state as from the touchpoints, with the others in it."""
    for order in ("ordered", "strict", "any"):
        definitions.save(store, "s1", order, definitions.validate_definition(dict(BOOKING, order=order)))
    start = NOW - 20 * DAY
    rows = [touchpoint("office", start + i * 30_000, *(("event", "compare") if i % 3 else ("pageview", "")))
            for i in range(50_000)]
    rows += [touchpoint(f"p{i}", start + i * 1000) for i in range(20)]
    store.insert("events", EVENT_COLUMNS, rows)
    worker = JourneyWorker(store)
    try:
        began = time.monotonic()
        worker.run_once()
        assert time.monotonic() - began < 120
        stages, capped = journey_state(store, "office")
        assert capped == 1 and max(stages) == 2
        assert journey_state(store, "p3") == ([1], 0)
        for order in ("ordered", "strict", "any"):
            journey = definitions.get(store, "s1", order)
            assert state.build_status(store, "s1", journey)["status"] == "ready"
            days = (start - start % DAY, NOW)
            live = reports.funnel(store, journey, "s1", *days, NOW)
            assert live == reports.funnel(store, journey, "s1", *days, NOW, build=state.build_of(journey))
            assert live["people"] == 21, order
    finally:
        worker.stop()


def test_worker_status_from_the_command_line(app, store, test_config):
    definitions.save(store, "s1", "booking", definitions.validate_definition(BOOKING))
    worker = JourneyWorker(store)
    worker.run_once()
    worker.stop()
    env = command_env(test_config)
    result = CliRunner().invoke(tracker, ["worker", "--status"], env=env)
    assert result.exit_code == 0, result.output
    status = json.loads(result.output)
    assert status["stale"] is False and status["lag_seconds"] == 0 and status["totals"]["rounds"] == 1
    assert read_status(store)["builds"] == []


def test_the_app_runs_a_worker_that_keeps_state_fresh(test_config, tmp_path):
    from tracker import close_app, create_app
    from tracker.store.sites import create_site

    app = create_app(dict(test_config, flush_seconds=0.2))  # journey_worker on, as `tracker serve` runs it
    try:
        store = app.extensions["store"]
        site = create_site(store, "Fresh", [])
        app.extensions["tracker"].sites.refresh()
        definitions.save(store, site["site"], "booking", definitions.validate_definition(BOOKING))
        client = app.test_client()
        send(client, site, [{"type": "pageview", "vid": "fresh", "ts": NOW - 1000, "url": "https://x.example/"}])
        deadline = time.monotonic() + 20
        while journey_state(store, "fresh") is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert journey_state(store, "fresh") == ([1], 0)
        assert client.get("/healthz").get_json()["journey_worker"]["leading"] is True
    finally:
        close_app(app)


def test_a_rebuild_in_parts_of_the_people_gives_every_state_a_rebuild_in_one_gives(store, monkeypatch):
    # the links move a visitor's touchpoints to a user: a part must take them with that user
    journey = dict(definitions.validate_definition(BOOKING), id="booking")
    start = NOW - 2 * DAY
    rows = []
    for i in range(12):
        rows += [touchpoint(f"v{i}", start + i * 1000), touchpoint(f"v{i}", start + i * 1000 + 500, "event", "compare")]
    rows += [touchpoint("v0", start + 60_000, "purchase", user="alice"), touchpoint("v5", start + 70_000, "purchase")]
    store.insert("events", EVENT_COLUMNS, rows)
    store.insert("identities", ["site", "visitor_id", "user_id", "linked_at"],
                 [("s1", "v3", "alice", start // 1000), ("s1", "v7", "bob", start // 1000)])

    inserts, execute = [], store.execute

    def counted(sql, *args, **kwargs):  # how many parts the state was written in
        inserts.append(sql.split(None, 3)[:3] == ["INSERT", "INTO", "journey_state"])
        return execute(sql, *args, **kwargs)

    monkeypatch.setattr(store, "execute", counted)

    def rebuilt(build, part_touchpoints):
        monkeypatch.setattr(state, "REBUILD_PART_TOUCHPOINTS", part_touchpoints)
        inserts.clear()
        rebuild_states(store, "s1", journey, build, NOW)
        assert sum(inserts) == -(-26 // part_touchpoints)
        return sorted(tuple(tuple(v) if isinstance(v, list) else v for v in row) for row in store.query(
            "SELECT person, a_entry, a_stage, a_times, last_ts, touch_times FROM journey_state "
            "WHERE build = %(b)s", {"b": build}))

    whole = rebuilt("whole", state.REBUILD_PART_TOUCHPOINTS)
    # alice: v3's discover and compare (linked), v0's purchase (as her); v0's other touchpoints stay v0's
    assert len(whole) == 12 and (whole[0][0], whole[0][2]) == ("alice", (3,))
    assert rebuilt("parted", 5) == whole  # 26 touchpoints: six parts


def test_a_rebuild_over_sums_left_without_their_states_counts_each_person_once(store):
    journey = dict(definitions.validate_definition(BOOKING), id="booking")
    store.insert("events", EVENT_COLUMNS, [touchpoint(f"v{i}", NOW - DAY + i * 1000) for i in range(3)])

    def people_summed():
        return [store.query(f"SELECT sum(n) FROM {table} WHERE build = 'b'{also}").scalar()
                for table, also in (("journey_people", ""), ("journey_tally", " AND dim = '' AND metric = 0"))]

    rebuild_states(store, "s1", journey, "b", NOW)
    assert people_summed() == [3, 3]
    store.delete_where("journey_state", "build = 'b'")  # the states alone are gone (say, emptied by hand)
    mutations.wait(store, ["journey_state"], timeout=30)
    rebuild_states(store, "s1", journey, "b", NOW)
    assert people_summed() == [3, 3]


def test_two_first_touchpoints_of_one_millisecond_give_one_first_channel_whatever_came_first(store):
    # ties go to the id with the smaller hash: here the greater id, not the one a merged part reads first
    hashes = dict(store.query(f"SELECT event_id, {engine.first_key('0')} FROM "
                              "(SELECT arrayJoin(['e-1', 'e-2', 'e-3']) AS event_id)"))
    first, other = next((a, b) for a in hashes for b in hashes if a > b and hashes[a] < hashes[b])
    low, high = "email", "paid"
    ids = {low: first, high: other}
    journey = dict(definitions.validate_definition(BOOKING), id="booking")
    ts = NOW - DAY
    for site, order in (("s1", (low, high)), ("s2", (high, low))):
        for channel in order:  # one insert each: the one that arrived first may be read first
            row = dict(zip(EVENT_COLUMNS, touchpoint("v1", ts, event_id=ids[channel])), site=site, channel=channel)
            store.insert("events", EVENT_COLUMNS, [tuple(row[c] for c in EVENT_COLUMNS)])
        found = reports.funnel(store, journey, site, ts - DAY, ts + DAY, NOW, breakdown="first_touch_channel")
        assert [row["value"] for row in found["breakdown"]] == [low], (site, found["breakdown"])


def test_a_long_stalled_list_pages_newest_first_from_state_as_the_live_engine_gives_it(store):
    # silent since minutes to months before the stall began (two in the same millisecond, across
    # a page's end): page by page through the cursor, from the sums as from the live engine, each
    # person once, in order
    journey = dict(definitions.validate_definition(BOOKING), id="booking")
    stall_from = NOW - 3 * DAY
    minutes = [1, 7, 30, 30, 90, 300, 600, 900, 1500, 3000, 6000, 12000, 20000, 60000, 150000, 400000]
    store.insert("events", EVENT_COLUMNS, [touchpoint(f"p{i}", stall_from - m * 60_000) for i, m in enumerate(minutes)])
    rebuild_states(store, "s1", journey, "b", NOW)

    def pages(**build):
        found, cursor = [], None
        while True:
            page, cursor = reports.people(store, journey, "s1", "stalled", 1, NOW, limit=3, cursor=cursor, **build)
            found.append([p["person"] for p in page])
            if cursor is None:
                return found
            cursor = reports.decode_cursor(cursor)

    stored = pages(build="b")
    assert stored == pages()
    assert [p for page in stored for p in page] == [f"p{i}" for i in (0, 1, 3, 2, *range(4, len(minutes)))]


def test_a_people_page_reads_from_its_hour_on_and_is_right_when_the_hours_are_miscounted(store, monkeypatch):
    # one stalled person an hour: the first page of 3 (4 asked for) reads from the hour of the
    # 4th newest on; with the hours' counts gone, or too high at the top, the pages stay right
    journey = dict(definitions.validate_definition(BOOKING), id="booking")
    stall_from = NOW - 3 * DAY
    last = [stall_from - (i + 1) * 3_600_000 - 1 for i in range(12)]
    store.insert("events", EVENT_COLUMNS, [touchpoint(f"p{i}", ts) for i, ts in enumerate(last)])
    rebuild_states(store, "s1", journey, "b", NOW)
    bounds, query = [], store.query

    def recorded(sql, params=None, *args, **kwargs):
        if "FROM journey_people WHERE" in sql:
            bounds.append(params["bound"])
        return query(sql, params, *args, **kwargs)

    def pages():
        found, cursor = [], None
        while True:
            page, cursor = reports.people(store, journey, "s1", "stalled", 1, NOW, limit=3, cursor=cursor, build="b")
            found.append([p["person"] for p in page])
            if cursor is None:
                return found
            cursor = reports.decode_cursor(cursor)

    live = [[f"p{i}" for i in range(j, min(j + 3, 12))] for j in range(0, 12, 3)]
    monkeypatch.setattr(store, "query", recorded)
    assert pages() == live
    assert bounds[0] == last[3] // 3_600_000 * 3_600_000
    columns = tally.COLUMNS["journey_people_hours"]
    counted = store.query(f"SELECT {', '.join(columns)} FROM journey_people_hours WHERE build = 'b'")
    store.insert("journey_people_hours", columns, [(*row[:-1], -row[-1]) for row in counted])
    bounds.clear()
    assert pages() == live
    assert bounds[0] is None  # nothing counted: read from the start
    top = max(counted, key=lambda row: row[columns.index("hour")])
    store.insert("journey_people_hours", columns, [(*top[:-1], 100)])
    bounds.clear()
    assert pages() == live
    assert bounds[:2] == [top[columns.index("hour")] * 3_600_000, None]  # too few there: from the start


def test_every_list_paged_both_ways_from_state_is_the_live_engines(store):
    # people in progress, dropped (some of them touched again lately, which the hours cannot
    # tell from in progress), stalled and at stage 2, an hour or more apart: each status's
    # pages of two from state, newest and oldest first, make the live engine's list
    journey = dict(definitions.validate_definition(BOOKING), id="booking")
    hour = 3_600_000
    rows = []
    for i in range(4):
        rows += [touchpoint(f"new{i}", NOW - (i + 2) * hour),  # in progress at 1
                 touchpoint(f"old{i}", NOW - 20 * DAY - i * hour),  # dropped at 1
                 touchpoint(f"back{i}", NOW - 10 * DAY - i * hour),  # dropped at 1, then seen lately
                 touchpoint(f"back{i}", NOW - (i + 3) * hour, "event", "newsletter"),
                 touchpoint(f"quiet{i}", NOW - 5 * DAY - i * hour),  # stalled at 1, window open
                 touchpoint(f"two{i}", NOW - 2 * DAY - i * hour),  # in progress at 2
                 touchpoint(f"two{i}", NOW - 2 * DAY - i * hour + 60_000, "event", "compare")]
    store.insert("events", EVENT_COLUMNS, rows)
    rebuild_states(store, "s1", journey, "b", NOW)

    def paged(status, stage, descending):
        found, cursor = [], None
        while True:
            page, cursor = reports.people(store, journey, "s1", status, stage, NOW, limit=2, cursor=cursor,
                                          descending=descending, build="b")
            found += [p["person"] for p in page]
            if cursor is None:
                return found
            cursor = reports.decode_cursor(cursor)

    sizes = {}
    for status in engine.STATUSES:
        for stage in (1, 2):
            for descending in (True, False):
                live, _ = reports.people(store, journey, "s1", status, stage, NOW, limit=500, descending=descending)
                assert paged(status, stage, descending) == [p["person"] for p in live], (status, stage, descending)
                sizes[status, stage] = len(live)
    assert sizes["in_progress", 1] == 4 + 4 and sizes["dropped", 1] == 8 and sizes["stalled", 1] == 4 + 4
    assert sizes["at", 2] == sizes["reached", 2] == 4 and sizes["reached", 1] == 20


def stop_merges(store, table):
    """Keep ``table``'s parts apart (on every host of a cluster), as a big part long unmerged keeps them."""
    if store.kind == "cluster":
        for host in store.hosts:
            store.host(host).execute(f"SYSTEM STOP MERGES {table}_local")
    else:
        store.execute(f"SYSTEM STOP MERGES {table}")


def test_a_stalled_list_whose_newest_came_back_sums_away_the_rows_they_left_and_reads_once(store, monkeypatch):
    # the newest 16 of 32 stalled people come back: their stalled rows and the copies that took
    # them back stay (merges stopped) at the top of the list, where the page's bound is sought
    definitions.save(store, "s1", "booking", definitions.validate_definition(BOOKING))
    journey = definitions.get(store, "s1", "booking")
    stall_from = NOW - 3 * DAY
    store.insert("events", EVENT_COLUMNS, [touchpoint(f"p{i}", stall_from - (i + 1) * 3_600_000) for i in range(32)])
    worker = JourneyWorker(store)
    try:
        worker.run_once(as_of=NOW)
        stop_merges(store, "journey_people")
        store.insert("events", EVENT_COLUMNS, [touchpoint(f"p{i}", NOW - 60_000, "event", "newsletter")
                                               for i in range(16)])
        worker.run_once(as_of=NOW)
    finally:
        worker.stop()
    assert store.query("SELECT count() FROM journey_people WHERE n < 0").scalar() == 16
    build = state.build_of(journey)
    reads, query = [], store.query

    def counted(sql, *args, **kwargs):
        reads.extend(["page"] if "FROM journey_people WHERE" in sql else [])
        return query(sql, *args, **kwargs)

    def pages(**options):
        found, cursor = [], None
        while True:
            page, cursor = reports.people(store, journey, "s1", "stalled", 1, NOW, limit=4, cursor=cursor, **options)
            found.append([p["person"] for p in page])
            if cursor is None:
                return found
            cursor = reports.decode_cursor(cursor)

    live = pages()
    assert [p for page in live for p in page] == [f"p{i}" for i in range(16, 32)]
    assert pages(build=build, descending=False) == pages(descending=False)  # the pairs on the last page
    monkeypatch.setattr(store, "query", counted)
    assert pages(build=build) == live
    assert len(reads) == len(live)  # the rows of each page read once, past the pairs
