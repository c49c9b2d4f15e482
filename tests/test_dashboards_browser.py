"""The dashboards in a real browser (Debian chromium through Playwright), on both backends.

Each page is checked for console errors and uncaught exceptions, and saved as a screenshot
under test-output/screenshots/ for a reviewer.
"""
import time
from pathlib import Path

import pytest

from helpers import send
from test_dashboards import HOSTILE, PASSWORD, user  # noqa: F401  (fixture)
from test_dashboards_journeys import journey, seed_people  # noqa: F401  (fixture)

pytestmark = pytest.mark.browser
playwright = pytest.importorskip("playwright.sync_api")

SHOTS = Path(__file__).resolve().parents[1] / "test-output" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
DAY = 86400


@pytest.fixture(scope="module")
def browser():
    """One headless chromium for the module."""
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium is not installed")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM,
                                    args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        yield browser
        browser.close()


class Page:
    """A browser tab that records console errors and page errors, and takes screenshots."""

    def __init__(self, context, base, backend):
        self.tab = context.new_page()
        self.base = base
        self.backend = backend
        self.errors = []
        self.tab.on("console", lambda msg: msg.type == "error" and self.errors.append(msg.text))
        self.tab.on("pageerror", lambda exc: self.errors.append(str(exc)))
        self.tab.on("dialog", self._dialog)

    def _dialog(self, dialog):
        self.errors.append("dialog: " + dialog.message)
        dialog.dismiss()

    def go(self, path):
        return self.tab.goto(self.base + path)

    def shot(self, name):
        SHOTS.mkdir(parents=True, exist_ok=True)
        self.tab.screenshot(path=str(SHOTS / f"{name}-{self.backend}.png"), full_page=True)

    def no_errors(self):
        assert self.errors == [], self.errors

    def expected_status(self, status):
        """Chromium logs a page answered with an error status (a refused form) as a console
        error; forget that one entry, and only it."""
        entry = next(e for e in self.errors if f"status of {status} " in e)
        self.errors.remove(entry)

    def login(self, email, password=PASSWORD):
        self.go("/dashboard/login")
        self.tab.get_by_label("Email").fill(email)
        self.tab.get_by_label("Password").fill(password)
        self.tab.get_by_role("button", name="Log in").click()
        self.tab.wait_for_load_state()


@pytest.fixture
def page(browser, live_server, backend):
    """A fresh browser context (no cookies) at 1280 px; ``page.tab`` is the Playwright page."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    yield Page(context, live_server, backend)
    context.close()


@pytest.fixture
def seeded(client, site, flush):
    """Touchpoints over the last days, including a hostile name and campaign and a bot."""
    now = int(time.time())
    events = []
    for i in range(12):
        ts = (now - (i % 6) * DAY - 300) * 1000
        events.append({"type": "pageview", "uid": f"p{i}", "url": f"https://example.com/page{i % 3}"
                       f"?utm_source=news&utm_medium=email&utm_campaign=spring", "ts": ts, "eid": f"a{i}"})
    events.append({"type": "pageview", "name": HOSTILE, "vid": "v-hostile",
                   "url": f"https://example.com/x?utm_campaign={HOSTILE}", "ts": (now - 120) * 1000, "eid": "h1"})
    events.append({"type": "pageview", "vid": "crawler", "url": "https://example.com/botpage",
                   "ts": (now - 120) * 1000, "eid": "b1", "ua": "Googlebot/2.1 (+http://www.google.com/bot.html)"})
    send(client, site, events)
    flush()
    return site


def test_login_overview_and_logout(page, user, seeded):
    page.go("/")
    assert "/dashboard/login" in page.tab.url
    page.shot("login")
    page.login(user["email"])
    assert page.tab.url.endswith(f"/dashboard/{seeded['site']}/")
    page.tab.wait_for_function("() => { const c = document.getElementById('overview-chart');"
                               " return c && window.Chart && Chart.getChart(c); }")
    body = page.tab.inner_text("body")
    assert "spring" in body and HOSTILE in body and "botpage" not in body  # shown as text, bots out
    assert page.tab.locator("img[src=x]").count() == 0
    page.shot("overview")
    page.tab.get_by_label("From", exact=True).fill(time.strftime("%Y-%m-%d", time.gmtime(time.time() - 2 * DAY)))
    page.tab.get_by_role("button", name="Show").click()
    page.tab.wait_for_load_state()
    assert "from=" in page.tab.url
    page.no_errors()
    page.tab.get_by_role("button", name="Log out").click()
    page.tab.wait_for_load_state()
    assert "/dashboard/login" in page.tab.url and "logged out" in page.tab.inner_text("body")
    page.go(f"/dashboard/{seeded['site']}/")
    assert "/dashboard/login" in page.tab.url


def test_wrong_password_expired_session_and_foreign_site(page, app, user, site, store):
    from tracker.store.sites import create_site

    page.login(user["email"], "not the password")
    assert "wrong email or password" in page.tab.inner_text("body")
    page.shot("login-wrong-password")
    page.login(user["email"])
    other = create_site(store, "Other", ["other.example"])
    response = page.go(f"/dashboard/{other['site']}/")
    assert response.status == 403 and "do not have access" in page.tab.inner_text("body")
    page.shot("forbidden")
    app.config["DASHBOARD_IDLE_SECONDS"] = -1  # every session is now past its idle limit
    page.go(f"/dashboard/{site['site']}/")
    assert "/dashboard/login" in page.tab.url and "session expired" in page.tab.inner_text("body")


def test_narrow_screen_has_no_horizontal_scroll(browser, live_server, backend, user, seeded):
    context = browser.new_context(viewport={"width": 375, "height": 800})
    tab = Page(context, live_server, backend)
    tab.login(user["email"])
    tab.tab.wait_for_function("() => window.Chart && Chart.getChart(document.getElementById('overview-chart'))")
    assert tab.tab.evaluate("document.documentElement.scrollWidth") <= 375
    tab.shot("overview-375px")
    tab.no_errors()
    context.close()


@pytest.fixture
def people(client, site, flush, journey):
    """The 'trial' journey with ann (converted), bob (dropped), cy (in progress) and a hostile name."""
    seed_people(client, site, flush)
    return site


def click_bar(tab, dataset, index):
    """Click the centre of one bar of the funnel chart (dataset 1 = 'Dropped after')."""
    x, y = tab.evaluate("""([d, i]) => {
        const canvas = document.getElementById('funnel-chart'), chart = Chart.getChart(canvas);
        const bar = chart.getDatasetMeta(d).data[i], box = canvas.getBoundingClientRect();
        return [box.left + bar.x, box.top + (bar.y + bar.base) / 2];
    }""", [dataset, index])
    tab.mouse.click(x, y)


def test_funnel_breakdown_drop_off_and_prospect(page, user, people):
    site = people["site"]
    page.login(user["email"])
    page.tab.get_by_role("link", name="Journeys", exact=True).click()
    page.shot("journeys")
    page.tab.get_by_role("link", name="Trial to paid", exact=True).click()
    page.tab.wait_for_function("() => window.Chart && Chart.getChart(document.getElementById('funnel-chart'))")
    assert "/journeys/trial/" in page.tab.url
    page.shot("funnel")
    page.tab.get_by_label("From", exact=True).fill(time.strftime("%Y-%m-%d", time.gmtime(time.time() - 25 * DAY)))
    page.tab.get_by_role("button", name="Show").click()
    page.tab.wait_for_load_state()
    assert "from=" in page.tab.url
    page.tab.get_by_label("Breakdown").select_option("utm_campaign")  # applies at once
    page.tab.wait_for_url("**breakdown=utm_campaign**")
    assert "By campaign" in page.tab.inner_text("main") and "spring" in page.tab.inner_text("main")
    page.shot("funnel-breakdown")
    page.tab.wait_for_function("() => window.Chart && Chart.getChart(document.getElementById('funnel-chart'))")
    with page.tab.expect_navigation():
        click_bar(page.tab, 1, 1)  # the 'dropped after Sign up' bar
    assert "status=dropped" in page.tab.url and "stage=2" in page.tab.url
    listed = page.tab.inner_text("main")
    assert "Bob Baker" in listed and "bob@bobco.example" in listed and "19 days ago" in listed
    assert "window closed" in listed
    page.shot("drop-off-list")
    with page.tab.expect_download() as download:
        page.tab.get_by_role("link", name="Download CSV").click()
    assert "bob" in Path(download.value.path()).read_text()
    page.tab.get_by_role("link", name="Bob Baker").click()
    page.tab.wait_for_load_state()
    assert f"/dashboard/{site}/people/bob" in page.tab.url and "dropped" in page.tab.inner_text("main")
    page.shot("prospect-from-list")
    page.tab.get_by_label("Find a prospect").fill("ann@acme")
    page.tab.get_by_label("Find a prospect").press("Enter")
    page.tab.wait_for_url("**/people/ann")
    body = page.tab.inner_text("main")
    assert "Ann Archer" in body and "3 of 3: Purchase" in body
    page.shot("prospect")
    page.go(f"/dashboard/{site}/people?q=example")
    assert "Bob Baker" in page.tab.inner_text("main")
    page.shot("search")
    page.go(f"/dashboard/{site}/people/=evil")
    assert HOSTILE in page.tab.inner_text("main") and page.tab.locator("img[src=x]").count() == 0
    page.shot("prospect-hostile")
    page.no_errors()


def test_edit_a_journey(page, user, people, store):
    from tracker.journeys import definitions

    site = people["site"]
    page.login(user["email"])
    page.go(f"/dashboard/{site}/journeys/trial/edit")
    tab = page.tab
    tab.get_by_role("button", name="Add a stage").click()
    stage4 = tab.locator("fieldset[data-row=stage]").nth(4)
    assert stage4.locator("legend").inner_text() == "Stage 5"
    stage4.get_by_label("Stage name").fill("Renew")
    stage4.get_by_label("Type").fill("renewal")
    stage3 = tab.locator("fieldset[data-row=stage]").nth(3)
    stage3.get_by_label("Stage name").fill("Upgrade")
    stage3.get_by_label("Path").fill("/up grade")
    tab.get_by_role("button", name="Save journey").click()
    tab.wait_for_load_state()
    assert "Stage 4 “Upgrade”, Path: no spaces in a path" in tab.inner_text("#errors")
    page.expected_status(400)
    page.shot("editor-error")
    tab.locator("fieldset[data-row=stage]").nth(3).get_by_label("Path").fill("/upgrade")
    tab.get_by_role("button", name="Preview people per stage").click()
    tab.wait_for_load_state()
    assert "not saved yet" in tab.inner_text("#preview") and "Pricing: 4 reached" in tab.inner_text("#preview")
    assert len(definitions.get(store, site, "trial")["stages"]) == 3
    page.shot("editor-preview")
    tab.get_by_role("button", name="Save journey").click()
    tab.wait_for_url("**/journeys/trial/")
    assert [s["name"] for s in definitions.get(store, site, "trial")["stages"]][-2:] == ["Upgrade", "Renew"]
    page.shot("funnel-after-edit")
    page.no_errors()


def test_narrow_screen_journey_pages(browser, live_server, backend, user, people):
    context = browser.new_context(viewport={"width": 375, "height": 800})
    tab = Page(context, live_server, backend)
    tab.login(user["email"])
    site = people["site"]
    for name, path in (("funnel", f"/dashboard/{site}/journeys/trial/?breakdown=channel"),
                       ("prospect", f"/dashboard/{site}/people/ann"),
                       ("editor", f"/dashboard/{site}/journeys/trial/edit")):
        tab.go(path)
        assert tab.tab.evaluate("document.documentElement.scrollWidth") <= 375, name
        tab.shot(f"{name}-375px")
    tab.no_errors()
    context.close()


def test_invite_a_colleague_and_keyboard_use(browser, page, user, seeded, live_server, backend):
    page.login(user["email"])
    tab = page.tab
    tab.keyboard.press("Tab")
    assert tab.evaluate("document.activeElement.textContent") == "Skip to content"
    tab.keyboard.press("Enter")
    assert tab.evaluate("document.activeElement.id") == "main"
    tab.get_by_role("link", name="Invite").click()
    tab.get_by_label("Their email").fill("colleague@example.com")
    tab.get_by_label("Example").check()
    tab.get_by_role("button", name="Create invitation").click()
    link = tab.get_by_label("Invitation link").input_value()
    page.shot("invite")
    page.no_errors()
    context = browser.new_context(viewport={"width": 375, "height": 800})
    guest = Page(context, live_server, backend)
    guest.tab.goto(link)
    guest.tab.get_by_label("Password", exact=True).fill("a long password")
    guest.tab.get_by_label("The same again").fill("a long password")
    guest.shot("join")
    guest.tab.get_by_role("button", name="Create my account").click()
    guest.tab.wait_for_url(f"**/dashboard/{seeded['site']}/")
    assert "colleague@example.com" in guest.tab.inner_text("header")
    guest.no_errors()
    context.close()
