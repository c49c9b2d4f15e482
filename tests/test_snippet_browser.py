"""The tracking snippet in a real browser (Debian's chromium, driven by Playwright).

Test pages come from a second origin (``localhost:PORT``, the app is on ``127.0.0.1``), so the
snippet's requests are real cross-origin requests. Each test asserts on the requests the page
sent to ``/collect`` (expected and refuted, by partial payload, the way Plausible's tracker
tests do) and, for the visitor's walk, on the rows that reach ClickHouse.
"""
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from helpers import CHROME, rows
from tracker.ingest.snippet import pixel_url
from tracker.journeys import persons

playwright_api = pytest.importorskip("playwright.sync_api")

CHROMIUM = "/usr/bin/chromium"
VERSION = json.loads((Path(__file__).resolve().parents[1] / "js" / "package.json").read_text())["version"]
STUB = "<script>window.tp=window.tp||function(){(tp.q=tp.q||[]).push(arguments)}</script>"
ABSENT = object()  # in an expected payload: this key must not be there

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium")]


# --- the page server: the website that embeds the snippet ---------------------------------

class PageServer:
    """A threaded HTTP server on localhost answering with the pages a test adds."""

    def __init__(self):
        pages = self.pages = {}

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                body = pages.get(self.path.split("?")[0].split("#")[0], "<title>elsewhere</title>")
                data = body.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://localhost:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def add(self, path, html):
        """Serve ``html`` at ``path``; returns the page's URL."""
        self.pages[path] = html
        return self.origin + path

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def page_server():
    """The second origin: a website on http://localhost:PORT."""
    server = PageServer()
    yield server
    server.close()


@pytest.fixture(scope="module")
def chromium():
    """One headless chromium for the module."""
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM,
                                    args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        yield browser
        browser.close()


def snippet_page(title, tracker, site_key, body="", attrs="", twice=False, calls=""):
    """A page that embeds the snippet the way the README tells website owners to.

    ``calls``: script run right after the stub, before the snippet has loaded.
    """
    site_attr = "" if site_key is None else f'data-site="{site_key}"'
    tag = f'<script async src="{tracker}/t.js" {site_attr} {attrs}></script>'
    return (f"<!doctype html><html><head><title>{title}</title>{tag}{STUB}<script>{calls}</script>"
            f"{tag if twice else ''}</head><body>{body}</body></html>")


# --- a visit: one browser context, with what its page sent and printed ------------------------

class Visit:
    """A page in a fresh browser context, recording /collect bodies, warnings and page errors."""

    def __init__(self, browser, init_script=None):
        self.context = browser.new_context(user_agent=CHROME, viewport={"width": 1280, "height": 720})
        if init_script:
            self.context.add_init_script(init_script)
        self.page = self.context.new_page()
        self.batches, self.warnings, self.errors = [], [], []
        self.page.on("request", self._request)
        self.page.on("console", lambda m: "[tp]" in m.text and self.warnings.append(m.text))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        # The "outbound" site: answered here, nothing leaves the machine.
        self.page.route("https://partner.example.org/**", lambda route: route.fulfill(
            status=200, content_type="text/html", body="<title>partner</title>"))

    def _request(self, request):
        if request.url.endswith("/collect") and request.method == "POST":
            self.batches.append({"content_type": request.headers.get("content-type", ""),
                                 "body": json.loads(request.post_data)})

    @property
    def events(self):
        return [event for batch in self.batches for event in batch["body"]["events"]]

    def goto(self, url, **kwargs):
        self.page.goto(url, **kwargs)
        return self

    def run(self, script):
        return self.page.evaluate(script)

    def wait(self, condition, timeout=5.0, message="condition"):
        """Let the page run until ``condition()`` holds (Playwright delivers events meanwhile)."""
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {message}; sent: {self.events}")
            self.page.wait_for_timeout(50)

    def settle(self, ms=600):
        """Give the page time to send anything it would send (for refuting)."""
        self.page.wait_for_timeout(ms)

    def close(self):
        self.context.close()


@pytest.fixture
def visit(chromium):
    """Open visits; each is closed after the test."""
    opened = []

    def open_visit(init_script=None):
        opened.append(Visit(chromium, init_script))
        return opened[-1]

    yield open_visit
    for v in opened:
        v.close()


def matches(actual, expected):
    """Partial match: every key of ``expected`` is in ``actual`` with a matching value."""
    if expected is ABSENT:
        return False
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(
            (key not in actual) if value is ABSENT else (key in actual and matches(actual[key], value))
            for key, value in expected.items())
    if callable(expected):
        return expected(actual)
    return actual == expected


def expect_sent(v, expected=(), refuted=(), timeout=5.0):
    """Wait until each expected partial event was sent; fail if a refuted one was."""
    for pattern in expected:
        v.wait(lambda: any(matches(e, pattern) for e in v.events), timeout, f"an event like {pattern}")
    for pattern in refuted:
        sent = [e for e in v.events if matches(e, pattern)]
        assert not sent, f"sent what should not be: {sent}"


def stored(store, flush, site_key, count, timeout=10.0):
    """The site's rows once ``count`` of them reached ClickHouse (flushing the writer)."""
    deadline = time.monotonic() + timeout
    while True:
        flush()
        found = rows(store, site_key)
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


# --- the visitor's walk ----------------------------------------------------------------------

def test_a_visitor_walk_is_sent_and_stored(live_server, site, store, flush, page_server, visit):
    key = site["site"]
    landing = page_server.add("/landing", snippet_page(
        "Spring offers", live_server, key,
        body='<a id="out" href="https://partner.example.org/deal?x=1">partner</a>'
             '<a id="pdf" href="/files/brochure.pdf">brochure</a>',
        # A call made before the snippet loaded: queued by the stub, replayed by the snippet.
        calls="tp('event', 'early', {step: 1})"))
    url = landing + "?utm_source=google&utm_medium=cpc&utm_campaign=spring"
    v = visit().goto(url, referer="https://www.google.com/")  # what Google sends

    expect_sent(v, [{"type": "pageview", "url": url, "ref": "https://www.google.com/",
                     "title": "Spring offers", "screen": "1280x720", "uid": ABSENT},
                    {"type": "event", "name": "early", "props": {"step": 1}}])
    first = v.batches[0]
    assert first["content_type"].startswith("text/plain")
    assert matches(first["body"], {"site": key, "v": VERSION, "vid": lambda x: isinstance(x, str) and x})

    # A single-page-app navigation; replaceState to the same URL is not a second page view.
    v.run("document.title = 'Pricing'; history.pushState({}, '', '/pricing')")
    expect_sent(v, [{"type": "pageview", "url": page_server.origin + "/pricing", "ref": url}])
    v.run("history.replaceState({}, '', '/pricing')")
    v.run("location.hash = 'faq'")
    expect_sent(v, [{"type": "pageview", "url": page_server.origin + "/pricing#faq",
                     "ref": page_server.origin + "/pricing"}])

    v.run("tp('event', 'brochure_form', {plan: 'family', nights: 7, newsletter: true})")
    v.run("tp('identify', 'user-42', {email: 'ann@example.com', name: 'Ann'})")
    v.run("tp('event', 'quote_requested', {})")
    expect_sent(v, [
        {"type": "event", "name": "brochure_form", "uid": ABSENT,
         "props": {"plan": "family", "nights": 7, "newsletter": True}},
        {"type": "identify", "name": "", "uid": "user-42",
         "traits": {"email": "ann@example.com", "name": "Ann"}},
        {"type": "event", "name": "quote_requested", "uid": "user-42"},
    ])

    # A download (kept on the page) and an outbound click (which leaves it).
    v.run("document.addEventListener('click', e => e.target.id == 'pdf' && e.preventDefault())")
    v.page.click("#pdf")
    brochure = page_server.origin + "/files/brochure.pdf"
    expect_sent(v, [{"type": "download", "name": brochure, "props": {"url": brochure}, "uid": "user-42"}])
    v.page.click("#out")
    v.page.wait_for_url("https://partner.example.org/**")
    partner = "https://partner.example.org/deal?x=1"
    expect_sent(v, [{"type": "outbound", "name": partner, "props": {"url": partner}}])

    events = v.events
    pageviews = [e for e in events if e["type"] == "pageview"]
    assert len(pageviews) == 3, pageviews  # landing, /pricing, #faq: no repeat for replaceState
    assert len({e["eid"] for e in events}) == len(events)
    assert len({e["sid"] for e in events}) == 1
    assert len({b["body"]["vid"] for b in v.batches}) == 1
    assert v.errors == []

    # What reached ClickHouse.
    found = stored(store, flush, key, len(events))
    assert len(found) == len(events)
    by_id = {row["event_id"]: row for row in found}
    assert set(by_id) == {e["eid"] for e in events}
    vid, sid = v.batches[0]["body"]["vid"], events[0]["sid"]
    for row in found:
        assert matches(row, {"visitor_id": vid, "session_id": sid, "browser": "Chrome", "os": "Linux",
                             "device": "desktop", "is_bot": 0, "screen": "1280x720"}), row
    landing_row = by_id[pageviews[0]["eid"]]
    assert matches(landing_row, {
        "type": "pageview", "url": url, "host": "localhost", "path": "/landing", "title": "Spring offers",
        "referrer": "https://www.google.com/", "referrer_host": "www.google.com", "channel": "paid",
        "utm_source": "google", "utm_medium": "cpc", "utm_campaign": "spring", "user_id": ""}), landing_row
    pricing_row = by_id[pageviews[1]["eid"]]
    # Stored with no channel of its own: it counts under its visit's (paid) when read.
    assert matches(pricing_row, {"path": "/pricing", "referrer": url, "title": "Pricing", "channel": "",
                                 "user_id": ""}), pricing_row
    form = next(r for r in found if r["name"] == "brochure_form")
    assert dict(zip(form["prop_keys"], form["prop_values"])) == {
        "plan": "family", "nights": "7", "newsletter": "true"}
    assert form["user_id"] == ""
    after = [r for r in found if r["type"] in ("identify", "download", "outbound") or r["name"] == "quote_requested"]
    assert len(after) == 4 and all(r["user_id"] == "user-42" for r in after), after
    outbound = next(r for r in found if r["type"] == "outbound")
    assert matches(outbound, {"name": partner, "prop_keys": ["url"], "prop_values": [partner]}), outbound
    links = store.query("SELECT visitor_id, user_id FROM identities WHERE site = %(site)s",
                        {"site": key}).dicts()
    assert {"visitor_id": vid, "user_id": "user-42"} in links
    timeline = persons.touchpoints(store, key, "user-42", [vid], int(time.time() * 1000) + 60_000)
    assert {t["channel"] for t in timeline} == {"paid"}


def test_visitor_and_session_outlive_the_page(live_server, site, page_server, visit):
    key = site["site"]
    first = page_server.add("/one", snippet_page("One", live_server, key, body='<a id="next" href="/two">next</a>'))
    second = page_server.add("/two", snippet_page("Two", live_server, key))
    v = visit().goto(first)
    expect_sent(v, [{"type": "pageview", "url": first}])
    v.run("tp('identify', 'u-7', {})")
    expect_sent(v, [{"type": "identify", "uid": "u-7"}])
    v.page.click("#next")
    expect_sent(v, [{"type": "pageview", "url": second, "uid": "u-7", "ref": first}])
    assert len({b["body"]["vid"] for b in v.batches}) == 1
    assert len({e["sid"] for e in v.events}) == 1
    # Thirty idle minutes later (the stored last activity moved back): a new session.
    v.run("var s = JSON.parse(localStorage._tp); s.t -= 31 * 60 * 1000; localStorage._tp = JSON.stringify(s)")
    v.run("tp('event', 'back', {})")
    expect_sent(v, [{"type": "event", "name": "back", "uid": "u-7"}])
    back = next(e for e in v.events if e["name"] == "back")
    assert back["sid"] != v.events[0]["sid"]


def test_cookieless_mode_stores_nothing_and_sends_no_visitor_id(live_server, site, store, flush,
                                                                page_server, visit):
    key = site["site"]
    url = page_server.add("/cookieless", snippet_page("Cookieless", live_server, key, attrs='data-cookieless="true"'))
    v = visit().goto(url)
    expect_sent(v, [{"type": "pageview", "url": url}])
    assert "vid" not in v.batches[0]["body"]
    assert v.run("localStorage.length") == 0 and v.run("document.cookie") == ""
    (row,) = stored(store, flush, key, 1)
    assert row["visitor_id"].startswith("h:")  # the server's daily hash


def test_options_turn_spa_and_outbound_tracking_off(live_server, site, page_server, visit):
    url = page_server.add("/quiet", snippet_page(
        "Quiet", live_server, site["site"], attrs='data-spa="false" data-outbound="false"',
        body='<a id="out" href="https://partner.example.org/">partner</a>'))
    v = visit().goto(url)
    expect_sent(v, [{"type": "pageview", "url": url}])
    v.run("history.pushState({}, '', '/quiet/next'); location.hash = 'x'")
    v.run("tp('pageview')")  # the manual page view such sites use
    expect_sent(v, [{"type": "pageview", "url": page_server.origin + "/quiet/next#x"}])
    v.page.click("#out")
    v.page.wait_for_url("https://partner.example.org/**")
    v.settle()
    assert [e["type"] for e in v.events] == ["pageview", "pageview"]


# --- privacy: Do Not Track, Global Privacy Control, consent ----------------------------------

@pytest.mark.parametrize("signal", ["Navigator.prototype, 'doNotTrack', {get: () => '1'}",
                                    "Navigator.prototype, 'globalPrivacyControl', {get: () => true}"],
                         ids=["dnt", "gpc"])
def test_do_not_track_sends_nothing(live_server, site, page_server, visit, signal):
    url = page_server.add("/dnt", snippet_page("DNT", live_server, site["site"]))
    v = visit(f"Object.defineProperty({signal})").goto(url)
    v.run("tp('event', 'signup', {}); tp('identify', 'u1', {})")
    v.settle()
    assert v.batches == []
    assert any("Do Not Track" in w for w in v.warnings), v.warnings
    assert v.errors == []


def test_a_site_may_opt_out_of_honouring_do_not_track(live_server, site, page_server, visit):
    url = page_server.add("/dnt-off", snippet_page("DNT", live_server, site["site"], attrs='data-respect-dnt="false"'))
    v = visit("Object.defineProperty(Navigator.prototype, 'doNotTrack', {get: () => '1'})").goto(url)
    expect_sent(v, [{"type": "pageview", "url": url}])


def test_consent_required_refused_then_given(live_server, site, store, flush, page_server, visit):
    key = site["site"]
    url = page_server.add("/consent", snippet_page("Consent", live_server, key, attrs='data-consent="required"'))
    v = visit().goto(url)
    v.run("tp('event', 'before_banner', {})")
    v.settle()
    assert v.batches == []  # nothing before consent, not even the page view
    assert v.run("localStorage.length") == 0  # nor anything stored
    v.run("tp('consent', false); tp('event', 'while_refused', {})")
    v.settle()
    assert v.batches == []
    assert any("consent refused" in w for w in v.warnings), v.warnings
    v.run("tp('consent', true); tp('event', 'after_consent', {})")
    expect_sent(v, [{"type": "pageview", "url": url}, {"type": "event", "name": "after_consent"}],
                refuted=[{"name": "before_banner"}, {"name": "while_refused"}])
    assert len(stored(store, flush, key, 2)) == 2


def test_consent_given_sends_what_waited(live_server, site, page_server, visit):
    url = page_server.add("/consent-wait", snippet_page("Consent", live_server, site["site"],
                                                        attrs='data-consent="required"'))
    v = visit().goto(url)
    v.run("tp('event', 'before_banner', {})")
    v.settle()
    assert v.batches == []
    v.run("tp('consent', true)")
    expect_sent(v, [{"type": "pageview", "url": url}, {"type": "event", "name": "before_banner"}])
    assert len([e for e in v.events if e["type"] == "pageview"]) == 1


# --- the host page never suffers -------------------------------------------------------------

def test_tracker_down_leaves_the_page_working(live_server, site, page_server, visit):
    dead = "http://127.0.0.1:9"  # the discard port: nothing listens
    # The collector is down (the script loads), then the whole tracker host is down.
    collector_down = page_server.add("/down-api", snippet_page(
        "Down", live_server, site["site"], attrs=f'data-api="{dead}"',
        body="<script>window.pageWorks = 1</script>"))
    host_down = page_server.add("/down-host", snippet_page(
        "Down", dead, site["site"], body="<script>window.pageWorks = 1</script>"))
    for url in (collector_down, host_down):
        v = visit().goto(url)
        v.run("tp('event', 'x', {a: 1}); history.pushState({}, '', '/moved'); tp('identify', 'u', {})")
        v.settle()
        assert v.run("window.pageWorks") == 1
        assert v.run("location.pathname") == "/moved"
        assert v.errors == []


def test_script_included_twice_counts_once(live_server, site, store, flush, page_server, visit):
    key = site["site"]
    url = page_server.add("/twice", snippet_page("Twice", live_server, key, twice=True))
    v = visit().goto(url)
    expect_sent(v, [{"type": "pageview", "url": url}])
    v.run("tp('event', 'once', {}); history.pushState({}, '', '/twice/next')")
    expect_sent(v, [{"type": "event", "name": "once"}, {"type": "pageview", "url": page_server.origin + "/twice/next"}])
    v.settle()
    assert [e["type"] for e in v.events] == ["pageview", "event", "pageview"]
    assert any("loaded twice" in w for w in v.warnings)
    assert len(stored(store, flush, key, 3)) == 3


def test_missing_data_site_warns_and_does_not_throw(live_server, page_server, visit):
    url = page_server.add("/nosite", snippet_page("No site", live_server, None))
    v = visit().goto(url)
    v.wait(lambda: any("missing data-site" in w for w in v.warnings), message="a warning")
    v.run("tp('event', 'x', {}); tp('nonsense')")
    v.settle()
    assert v.batches == [] and v.errors == []


def test_bad_calls_are_ignored_with_a_reason(live_server, site, page_server, visit):
    url = page_server.add("/bad", snippet_page("Bad", live_server, site["site"]))
    v = visit().goto(url)
    expect_sent(v, [{"type": "pageview"}])
    v.run("""tp('launch'); tp('event'); tp('event', {}); tp('identify', {}); tp('consent', 'yes');
             tp(Symbol('x')); tp('event', 'ok')""")
    expect_sent(v, [{"type": "event", "name": "ok"}])
    assert v.errors == []
    ignored = [w for w in v.warnings if "ignored" in w]
    assert len(ignored) == 6, v.warnings
    assert any("launch" in w for w in ignored)


def test_hostile_props_are_cleaned_and_stored(live_server, site, store, flush, page_server, visit):
    key = site["site"]
    url = page_server.add("/hostile", snippet_page("Hostile", live_server, key))
    v = visit().goto(url)
    v.run("""() => {
        const props = {plan: 'pro', big: 'x'.repeat(100000), nan: NaN, fn() {}, nested: {a: 1}};
        props.self = props;
        Object.defineProperty(props, 'trap', {enumerable: true, get() { throw new Error('boom') }});
        for (let i = 0; i < 80; i++) props['k' + i] = i;
        tp('event', 'hostile', props);
        tp('event', 'n'.repeat(5000), new Proxy({}, {ownKeys() { throw new Error('trap') }}));
        tp('identify', 'u'.repeat(5000), {['t'.repeat(100)]: 'v'.repeat(5000)});
    }""")
    expect_sent(v, [{"name": "hostile"}, {"type": "identify"}])
    hostile = next(e for e in v.events if e["name"] == "hostile")
    assert len(hostile["props"]) == 50 and hostile["props"]["plan"] == "pro"
    assert len(hostile["props"]["big"]) == 200
    assert not {"fn", "nested", "self", "trap"} & set(hostile["props"])
    assert v.errors == []
    assert any("properties dropped" in w for w in v.warnings)
    found = stored(store, flush, key, 3)  # the pageview, the hostile event, the identify
    assert len(found) == 3, found
    assert {r["type"] for r in found} == {"pageview", "event", "identify"}
    assert max(len(r["user_id"]) for r in found) == 200


# --- serving the script, and the email pixel's URL (no browser needed) --------------------------

def test_t_js_is_served_cacheable_and_cross_origin(live_server):
    response = requests.get(live_server + "/t.js", headers={"Accept-Encoding": "identity"})
    built = (Path(__file__).resolve().parents[1] / "js" / "dist" / "t.js").read_bytes()
    assert response.status_code == 200 and response.content == built
    assert response.headers["Content-Type"] == "application/javascript; charset=utf-8"
    assert response.headers["Cache-Control"] == "public, max-age=3600, stale-while-revalidate=86400"
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    again = requests.get(live_server + "/t.js", headers={"Accept-Encoding": "identity",
                                                         "If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304 and again.content == b""
    zipped = requests.get(live_server + "/t.js", headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["Content-Encoding"] == "gzip" and zipped.content == built
    assert int(zipped.headers["Content-Length"]) <= 1500
    assert zipped.headers["ETag"] != response.headers["ETag"]


def test_pixel_url_records_an_email_open(live_server, site, store, flush):
    url = pixel_url(live_server, site["site"], "ann@example.com", campaign="spring sale", source="newsletter")
    assert url == (f"{live_server}/p.gif?site={site['site']}&type=email_open&uid=ann%40example.com"
                   "&utm_source=newsletter&utm_medium=email&utm_campaign=spring%20sale")
    response = requests.get(url, headers={"User-Agent": CHROME})
    assert response.headers["Content-Type"] == "image/gif" and "X-Tracker-Error" not in response.headers
    (row,) = stored(store, flush, site["site"], 1)
    assert matches(row, {"type": "email_open", "user_id": "ann@example.com", "channel": "email",
                         "utm_source": "newsletter", "utm_medium": "email", "utm_campaign": "spring sale"})
