"""The automation pages, Recently moved and the day-0 view in a real browser (Debian chromium
through Playwright), at 1280 and 375 px, with screenshots in test-output/screenshots/."""
import pytest

from test_dashboards import user  # noqa: F401  (fixture)
from test_dashboards_automations import moved, receiver, worker  # noqa: F401  (fixtures)
from test_dashboards_browser import Page, browser, page  # noqa: F401  (fixtures)
from test_dashboards_journeys import journey  # noqa: F401  (fixture)

pytestmark = pytest.mark.browser


def test_create_an_automation_dry_run_and_test_it(page, user, moved, receiver, app):
    app.config["TRACKER"]["webhook_allow_private"] = True
    site = moved["site"]
    page.login(user["email"])
    page.go(f"/dashboard/{site}/journeys/trial/")
    tab = page.tab
    tab.get_by_role("link", name="Automations").click()
    tab.wait_for_url("**/automations")
    assert tab.get_by_label("Days", exact=True).is_hidden()  # "enters stage" needs no days
    tab.get_by_label("When a person…").select_option("no_touchpoint")
    assert tab.get_by_label("Days", exact=True).is_visible() and tab.get_by_label("Contact type").is_visible()
    tab.get_by_label("When a person…").select_option("entered")
    tab.get_by_label("Name", exact=True).fill("Welcome to the trial")
    tab.get_by_label("Stage", exact=True).select_option("2")
    tab.get_by_label("Webhook URL").fill(receiver.url)
    tab.get_by_role("button", name="Dry run: who would it have fired for?").click()
    tab.wait_for_load_state()
    assert "Would have fired for 2 people in the last 30 days" in tab.inner_text("#preview")
    page.shot("automation-dry-run")
    tab.get_by_label("Enabled", exact=True).check()
    tab.get_by_role("button", name="Create automation").click()
    tab.wait_for_load_state()
    secret = tab.get_by_label("Secret", exact=True).input_value()
    assert secret.startswith("whsec_") and "enabled" in tab.inner_text("h1")
    page.shot("automation-created")
    receiver.secret = secret
    tab.get_by_role("button", name="Send a test").click()
    tab.wait_for_load_state()
    assert "the receiver answered 200" in tab.inner_text("main") and receiver.received[-1]["verified"]
    assert "Secret" not in tab.inner_text("main")  # shown once
    tab.get_by_role("button", name="Disable").click()
    tab.wait_for_load_state()
    assert "disabled" in tab.inner_text("h1")
    page.shot("automation")
    page.no_errors()


def test_recently_moved_day0_and_the_prospects_automations(page, user, moved):
    site = moved["site"]
    page.login(user["email"])
    tab = page.tab
    tab.get_by_role("link", name="Recently moved").click()
    tab.wait_for_url("**/moved")
    assert "Ann Archer" in tab.inner_text("main")
    page.shot("recently-moved")
    tab.get_by_label("Period").select_option("30")
    tab.get_by_role("button", name="Show").click()
    tab.wait_for_load_state()
    assert "Bob Baker" in tab.inner_text("main")
    page.go(f"/dashboard/{site}/journeys/trial/day0")
    tab.wait_for_function("() => window.Chart && Chart.getChart(document.getElementById('day0-chart'))")
    assert "Every stage, all these weeks together" in tab.inner_text("main")
    page.shot("day0")
    page.go(f"/dashboard/{site}/people/ann")
    assert "Automations that fired" in tab.inner_text("main")
    page.no_errors()


def test_narrow_screen_automation_pages(browser, live_server, backend, user, moved, receiver, store):  # noqa: F811
    from tracker.automations import definitions

    site = moved["site"]
    body = {"name": "Alert the account manager", "journey": "trial", "enabled": True, "webhook": {"url": receiver.url},
            "when": {"no_touchpoint": {"after_stage": 2, "days": 3, "match": {"type": "email_sent"}}}}
    definitions.save(store, site, "alert", definitions.checked(store, site, body, allow_private=True)[0])
    context = browser.new_context(viewport={"width": 375, "height": 800})
    tab = Page(context, live_server, backend)
    tab.login(user["email"])
    for name, path in (("automations", f"/dashboard/{site}/journeys/trial/automations"),
                       ("automation", f"/dashboard/{site}/automations/alert"),
                       ("recently-moved", f"/dashboard/{site}/moved?days=30"),
                       ("day0", f"/dashboard/{site}/journeys/trial/day0")):
        tab.go(path)
        assert tab.tab.evaluate("document.documentElement.scrollWidth") <= 375, name
        tab.shot(f"{name}-375px")
    tab.no_errors()
    context.close()
