"""`tracker reclassify` on both backends: stored touchpoints get the current channel, source and
bot flag of their own, their visits' origins follow at read time, the server API's channels
stay, the overview and journey state follow."""
import calendar
from datetime import date

from helpers import CHROME, rows
from tracker.ingest.reclassify import reclassify
from tracker.ingest.touchpoints import EVENT_COLUMNS
from tracker.journeys import definitions, engine, state
from tracker.worker import JourneyWorker

HEADLESS = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/126.0 Safari/537.36"
JANUARY = calendar.timegm((2025, 1, 15, 10, 0, 0))
MARCH = calendar.timegm((2025, 3, 10, 10, 0, 0))


def stored(eid, when, session, channel, ref="", ua=CHROME, is_bot=0, device="desktop", **extra):
    """A row as an older version of ingest stored it."""
    values = dict.fromkeys(EVENT_COLUMNS, "")
    values.update(site="s_re", event_id=eid, event_time=when, event_ms=0, received_at=when, visitor_id="v-" + session,
                  session_id=session, type="pageview", url="https://example.com/", host="example.com", path="/",
                  referrer=ref, referrer_host=ref.split("/")[2] if ref else "", channel=channel, user_agent=ua,
                  is_bot=is_bot, device=device, prop_keys=[], prop_values=[], **extra)
    return tuple(values[c] for c in EVENT_COLUMNS)


def test_reclassify_recomputes_in_place(store):
    store.insert("events", EVENT_COLUMNS, [
        stored("ecosia", MARCH, "a", "referral", "https://www.ecosia.org/search?q=alps"),
        stored("inside", MARCH + 60, "a", "referral", "https://example.com/"),  # an older ingest gave it the session's
        stored("gmail", MARCH, "b", "referral", "https://mail.google.com/mail/u/0/"),
        stored("headless", MARCH, "c", "direct", ua=HEADLESS),
        stored("person", MARCH, "d", "direct", is_bot=1, device="bot"),
        stored("server", MARCH, "e", "paid", ua="", device="server"),
        stored("old", JANUARY, "f", "referral", "https://chatgpt.com/"),
    ])
    messages = []
    assert reclassify(store, "s_re", date(2025, 3, 1), progress=messages.append) == [202503]
    assert any("202503: done" in m for m in messages)
    got = {r["event_id"]: (r["channel"], r["source"], r["is_bot"], r["device"]) for r in rows(store, "s_re")}
    assert got == {
        "ecosia": ("organic_search", "Ecosia", 0, "desktop"), "inside": ("", "", 0, "desktop"),
        "gmail": ("email", "Gmail", 0, "desktop"), "headless": ("direct", "", 1, "bot"),
        "person": ("direct", "", 0, "desktop"), "server": ("paid", "", 0, "server"),
        "old": ("referral", "", 0, "desktop"),  # before --from
    }
    # The internal navigation has no origin of its own: it counts under its visit's.
    effective = store.query(f"""SELECT channel, source FROM ({engine.touchpoints_sql(
        ["visitor_id", "event_id"], "site = 's_re' AND event_id = 'inside'", "site = 's_re'")})""")
    assert list(effective) == [("organic_search", "Ecosia")]
    overview = store.query("""SELECT channel, uniqHLL12Merge(touchpoints) FROM overview_daily
        WHERE site = 's_re' AND day = '2025-03-10' GROUP BY channel ORDER BY channel""")
    assert list(overview) == [("", 1), ("direct", 1), ("email", 1), ("organic_search", 1), ("paid", 1)]
    bots = store.query("""SELECT uniqHLL12Merge(touchpoints) FROM overview_origin_daily
        WHERE site = 's_re' AND is_bot = 1""").scalar()
    assert bots == 1
    assert reclassify(store, "s_re", progress=messages.append) == [202501, 202503]
    assert rows(store, "s_re", "event_id = 'old'")[0]["channel"] == "ai_assistant"


def test_journey_state_follows_a_reclassification(store):
    """A visit from ChatGPT that an older ingest called a referral: once reclassified, the
    journey worker moves the person into a journey of AI-assistant visits, the page inside the
    visit filling the second stage under the visit's channel."""
    store.insert("events", EVENT_COLUMNS, [
        stored("chat", MARCH, "g", "referral", "https://chatgpt.com/", user_id="gina"),
        stored("next", MARCH + 60, "g", "referral", "https://example.com/", user_id="gina"),
        stored("other", MARCH, "h", "direct", user_id="hugo"),
    ])
    ai = {"channel": "ai_assistant"}
    journey = definitions.validate_definition(
        {"name": "From AI", "window_days": 1, "stages": [{"name": "arrived", "match": ai},
                                                          {"name": "went on", "match": ai}]})
    definitions.save(store, "s_re", "ai", journey)
    build = state.build_of(definitions.get(store, "s_re", "ai"))

    def stages():
        return dict(store.query("""SELECT person, arrayReduce('max', a_stage) FROM journey_state FINAL
            WHERE site = 's_re' AND journey_id = 'ai' AND build = %(build)s""", {"build": build}))

    worker = JourneyWorker(store)
    try:
        assert worker.run_once() is not None
        assert stages().get("gina", 0) == 0
        reclassify(store, "s_re", progress=lambda message: None)
        # The insert noted both visitors; the reclassification only the one whose touchpoints changed.
        assert dict(store.query("SELECT visitor_id, count() FROM journey_changes WHERE site = 's_re' "
                                "GROUP BY visitor_id")) == {"v-g": 2, "v-h": 1}
        worker.run_once()
        assert stages() == {"gina": 2}
    finally:
        worker.stop()
