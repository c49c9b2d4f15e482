"""The dashboards through the Flask client: login, sessions, CSRF, lock-out, access, escaping,
the overview's figures, invitations and ``tracker user create``. Both backends."""
import re
import time
import uuid

import pytest
from click.testing import CliRunner

from helpers import GOOGLEBOT, post_batch, send
from tracker import access
from tracker.dashboards import queries
from tracker.store import accounts

PASSWORD = "correct horse battery"
HOSTILE = '<img src=x onerror="alert(1)"><script>alert(2)</script>'
DAY = 86400


@pytest.fixture
def user(store, site):
    """A dashboard account that may see ``site``: {"email", "password", "sites", "user_id"}."""
    created = accounts.create_user(store, f"ann-{uuid.uuid4().hex[:6]}@example.com", PASSWORD, [site["site"]])
    return dict(created, password=PASSWORD)


def csrf_of(html):
    """The CSRF token in a rendered form."""
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def login(client, email, password):
    """Log in through the form, as a browser would; returns the POST response."""
    page = client.get("/dashboard/login")
    return client.post("/dashboard/login", data={"email": email, "password": password,
                                                 "csrf_token": csrf_of(page.get_data(as_text=True))})


@pytest.fixture
def logged_in(client, user):
    """The test client, logged in as ``user``."""
    assert login(client, user["email"], user["password"]).status_code == 302
    return client


def test_root_and_pages_send_to_login(client, site):
    assert client.get("/").headers["Location"].endswith("/dashboard/")
    response = client.get(f"/dashboard/{site['site']}/")
    assert response.status_code == 302 and "/dashboard/login?next=" in response.headers["Location"]
    page = client.get("/dashboard/login")
    assert page.status_code == 200 and 'name="csrf_token"' in page.get_data(as_text=True)
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]


def test_login_sets_a_safe_cookie_and_goes_to_the_site(client, user, site):
    response = login(client, user["email"].upper(), user["password"])
    assert response.status_code == 302
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    home = client.get("/dashboard/")
    assert home.headers["Location"].endswith(f"/dashboard/{site['site']}/")
    assert client.get(home.headers["Location"]).status_code == 200
    # The cookie names the account only; its sites are looked up on every request.
    with client.session_transaction() as session:
        assert "sites" not in session and session["user_id"] == user["user_id"]


def test_a_site_taken_away_or_an_account_disabled_acts_on_the_next_request(client, store, user, site):
    assert login(client, user["email"], user["password"]).status_code == 302
    overview, api = f"/dashboard/{site['site']}/", f"/api/v1/sites/{site['site']}/journeys"
    assert client.get(overview).status_code == 200 and client.get(api).status_code == 200
    accounts.update_user(store, user["email"], sites=[])
    time.sleep(access.CACHE_SECONDS + 0.1)
    assert client.get(overview).status_code == 403 and client.get(api).status_code == 403
    accounts.update_user(store, user["email"], sites=[site["site"]])
    time.sleep(access.CACHE_SECONDS + 0.1)
    assert client.get(overview).status_code == 200
    accounts.update_user(store, user["email"], disabled=True)
    time.sleep(access.CACHE_SECONDS + 0.1)
    assert client.get(overview).status_code == 302 and client.get(api).status_code == 401
    assert login(client, user["email"], user["password"]).status_code == 401


def test_wrong_password_and_unknown_email(client, user):
    for email, password in ((user["email"], "wrong password!"), ("nobody@example.com", PASSWORD)):
        response = login(client, email, password)
        assert response.status_code == 401
        assert "wrong email or password" in response.get_data(as_text=True)
    with client.session_transaction() as session:
        assert "user_id" not in session


def test_next_never_leaves_the_dashboards(client, user):
    page = client.get("/dashboard/login")
    data = {"email": user["email"], "password": PASSWORD, "csrf_token": csrf_of(page.get_data(as_text=True))}
    response = client.post("/dashboard/login?next=//evil.example/x", data=data)
    assert response.headers["Location"] == "/dashboard/"


def test_forms_need_the_csrf_token(client, logged_in, user):
    assert client.post("/dashboard/logout").status_code == 400
    assert client.post("/dashboard/logout", data={"csrf_token": "forged"}).status_code == 400
    fresh = client.application.test_client()
    response = fresh.post("/dashboard/login", data={"email": user["email"], "password": PASSWORD})
    assert response.status_code == 400 and "did not come from this site" in response.get_data(as_text=True)
    page = client.get("/dashboard/invite").get_data(as_text=True)
    assert client.post("/dashboard/logout", data={"csrf_token": csrf_of(page)}).status_code == 302
    assert client.get("/dashboard/invite").status_code == 302


def test_lock_out_after_repeated_failures_holds_across_nodes(app, client, store, user):
    for _ in range(accounts.LOCK_AFTER):
        assert login(client, user["email"], "wrong password!").status_code == 401
    response = login(client, user["email"], PASSWORD)
    assert response.status_code == 401 and "too many failed attempts" in response.get_data(as_text=True)
    # Another node reads the same table: still locked there.
    assert accounts.locked_until(store, user["email"]) > time.time()
    assert accounts.locked_until(store, user["email"], now=time.time() + accounts.LOCK_SECONDS + 1) == 0


def test_a_success_resets_the_failure_count(client, store, user):
    for _ in range(accounts.LOCK_AFTER - 1):
        login(client, user["email"], "wrong password!")
    time.sleep(1.1)  # attempts are kept to the second
    assert login(client, user["email"], PASSWORD).status_code == 302
    login(client, user["email"], "wrong password!")
    assert accounts.locked_until(store, user["email"]) == 0


def test_a_site_not_given_is_403(app, logged_in, store):
    from tracker.store.sites import create_site

    other = create_site(store, "Other", ["other.example"])
    response = logged_in.get(f"/dashboard/{other['site']}/")
    assert response.status_code == 403 and "do not have access" in response.get_data(as_text=True)
    assert response.mimetype == "text/html"


def test_idle_session_expires_for_pages_and_api(client, logged_in, site):
    with client.session_transaction() as session:
        session["seen_at"] = int(time.time()) - 9 * 3600
    response = client.get(f"/dashboard/{site['site']}/")
    assert response.status_code == 302 and "expired=1" in response.headers["Location"]
    assert "session expired" in client.get(response.headers["Location"]).get_data(as_text=True)
    assert client.get(f"/dashboard/{site['site']}/").status_code == 302


def test_overview_counts_and_escapes(client, logged_in, site, store, flush):
    now = int(time.time())
    send(client, site, [
        {"type": "pageview", "uid": "u1", "url": "https://example.com/pricing?utm_campaign=spring",
         "ts": (now - 2 * DAY) * 1000, "eid": "e1"},
        {"type": "pageview", "uid": "u1", "url": "https://example.com/pricing?utm_campaign=spring",
         "ts": (now - 2 * DAY) * 1000, "eid": "e1"},  # a retry: counted once
        {"type": "pageview", "name": HOSTILE, "vid": "v9", "url": f"https://example.com/x?utm_campaign={HOSTILE}",
         "ts": (now - 60) * 1000, "eid": "e2"},
        {"type": "pageview", "vid": "bot", "url": "https://example.com/bot", "ts": (now - 60) * 1000,
         "eid": "e3", "ua": "Googlebot/2.1 (+http://www.google.com/bot.html)"},
    ])
    flush()
    html = logged_in.get(f"/dashboard/{site['site']}/").get_data(as_text=True)
    assert "<img src=x" not in html and "<script>alert" not in html
    assert "&lt;img src=x" in html
    assert "spring" in html and "/pricing" in html and "/bot" not in html
    assert 'id="overview-chart"' in html and 'type="application/json" id="overview-data"' in html
    day = time.strftime("%Y-%m-%d", time.gmtime(now))
    assert queries.totals(store, site["site"], day, day) == {"touchpoints": 1, "people": 1}
    first = time.strftime("%Y-%m-%d", time.gmtime(now - 3 * DAY))
    days = queries.series(store, site["site"], first, day)
    assert len(days) == 4 and sum(d["touchpoints"] for d in days) == 2
    assert queries.live(store, site["site"], now)["touchpoints"] == 1
    live = logged_in.get(f"/dashboard/{site['site']}/live.json").get_json()
    assert live["touchpoints"] == 1 and live["people"] == 1


def test_overview_shows_sources_countries_and_bots(app, logged_in, site, store, flush):
    app.config["TRACKER"]["trust_proxy"] = True
    post_batch(logged_in, site["site"], [{"type": "pageview", "url": "https://example.com/",
                                          "ref": "https://www.ecosia.org/search?q=alps"}],
               vid="reader", headers={"X-Forwarded-For": "81.2.69.160"})
    post_batch(logged_in, site["site"], [{"type": "pageview", "url": "https://example.com/a"},
                                         {"type": "pageview", "url": "https://example.com/b"}],
               vid="crawler", ua=GOOGLEBOT)
    flush()
    today = time.strftime("%Y-%m-%d", time.gmtime())
    assert queries.bots(store, site["site"], today, today) == 2
    assert queries.top(store, site["site"], today, today, "country") == [
        {"value": "GB", "touchpoints": 1, "people": 1}]
    assert [r["value"] for r in queries.top(store, site["site"], today, today, "source")] == ["Ecosia"]
    html = logged_in.get(f"/dashboard/{site['site']}/").get_data(as_text=True)
    assert "United Kingdom (GB)" in html and "Ecosia" in html and "organic_search" in html
    assert re.search(r'id="bots"><span class="num">2</span> bot touchpoints', html)


def test_prospect_page_shows_country_and_source(app, logged_in, site, flush):
    app.config["TRACKER"]["trust_proxy"] = True
    post_batch(logged_in, site["site"], [
        {"type": "pageview", "url": "https://example.com/", "ref": "https://www.perplexity.ai/search/alps"},
        {"type": "identify", "uid": "ann", "traits": {"email": "ann@example.org"}}],
        vid="ann-browser", headers={"X-Forwarded-For": "2a00:1450:4001::1"})
    flush()
    html = logged_in.get(f"/dashboard/{site['site']}/people/ann").get_data(as_text=True)
    assert "ai_assistant via Perplexity" in html and "Ireland (IE)" in html


def test_bad_date_range_says_why(logged_in, site):
    html = logged_in.get(f"/dashboard/{site['site']}/?from=2024-05-01&to=2024-04-01").get_data(as_text=True)
    assert "start date is after the end date" in html
    html = logged_in.get(f"/dashboard/{site['site']}/?from=yesterday").get_data(as_text=True)
    assert "YYYY-MM-DD" in html


def test_pages_say_from_when_a_site_with_a_retention_keeps_touchpoints(app, logged_in, site, store):
    from tracker.journeys import definitions
    from tracker.store.sites import update_site
    from tracker.worker.retention import data_from_ms

    definitions.save(store, site["site"], "j", definitions.validate_definition(
        {"name": "J", "stages": [{"name": "a", "match": {"type": "pageview"}}]}))
    overview = f"/dashboard/{site['site']}/"
    assert "keeps\n  touchpoints from" not in logged_in.get(overview).get_data(as_text=True)
    update_site(store, site["site"], retention_months=2)
    since = time.strftime("%-d %B %Y", time.gmtime(data_from_ms(2) / 1000))
    for page in (overview, f"/dashboard/{site['site']}/journeys/j/?from=2020-01-01&to=2020-02-01",
                 f"/dashboard/{site['site']}/journeys/j/people?stage=1&status=at"):
        html = logged_in.get(page).get_data(as_text=True)
        assert f"touchpoints from {since} on" in html, page
    early = logged_in.get(f"/dashboard/{site['site']}/?from=2020-01-01&to=2020-02-01").get_data(as_text=True)
    assert re.search(r'<p class="notice" role="status">This site keeps', early)


def test_invitation_creates_an_account_for_my_sites_only(app, client, logged_in, site, store):
    from tracker.store.sites import create_site

    other = create_site(store, "Other", ["other.example"])
    page = client.get("/dashboard/invite").get_data(as_text=True)
    refused = client.post("/dashboard/invite", data={"csrf_token": csrf_of(page), "email": "bo@example.com",
                                                     "site": [other["site"]]})
    assert refused.status_code == 400 and "only share sites you have" in refused.get_data(as_text=True)
    made = client.post("/dashboard/invite", data={"csrf_token": csrf_of(page), "email": "bo@example.com",
                                                  "site": [site["site"]]}).get_data(as_text=True)
    link = re.search(r'value="(http://localhost/dashboard/join/[^"]+)"', made).group(1)
    path = link.removeprefix("http://localhost")
    guest = app.test_client()
    form = guest.get(path).get_data(as_text=True)
    short = guest.post(path, data={"csrf_token": csrf_of(form), "password": "short", "password2": "short"})
    assert short.status_code == 400
    joined = guest.post(path, data={"csrf_token": csrf_of(form), "password": "a long password",
                                    "password2": "a long password"})
    assert joined.status_code == 302
    assert accounts.find_user(store, "bo@example.com")["sites"] == [site["site"]]
    assert guest.get(path).status_code == 404  # used once


def test_an_invitation_never_takes_over_an_account(client, logged_in, user, store):
    page = client.get("/dashboard/invite").get_data(as_text=True)
    refused = client.post("/dashboard/invite", data={"csrf_token": csrf_of(page), "email": user["email"],
                                                     "site": user["sites"]})
    assert refused.status_code == 400 and "has an account already" in refused.get_data(as_text=True)
    token = accounts.create_invitation(store, "late@example.com", user["sites"], "x", user["sites"])
    accounts.create_user(store, "late@example.com", PASSWORD, user["sites"])
    with pytest.raises(accounts.AccountError, match="log in instead"):
        accounts.accept_invitation(store, token, "another long password")


def test_cli_user_create(test_config, monkeypatch, store, site):
    from tracker.cli import main

    for key, value in test_config.items():
        monkeypatch.setenv("TRACKER_" + key.upper(), str(value))
    runner = CliRunner()
    result = runner.invoke(main, ["user", "create", "--email", "cy@example.com", "--password", PASSWORD,
                                  "--site", site["site"]])
    assert result.exit_code == 0, result.output
    assert accounts.find_user(store, "cy@example.com")["sites"] == [site["site"]]
    result = runner.invoke(main, ["user", "create", "--email", "cy@example.com", "--password", PASSWORD,
                                  "--site", "s_nope"])
    assert result.exit_code != 0 and "unknown site" in result.output


def test_expired_session_is_refused_by_the_api_too(client, logged_in, site):
    assert client.get(f"/api/v1/sites/{site['site']}/journeys").status_code == 200
    with client.session_transaction() as session:
        session["seen_at"] = int(time.time()) - 9 * 3600
    assert client.get(f"/api/v1/sites/{site['site']}/journeys").status_code == 401


def test_a_failed_query_is_an_html_page(app, logged_in, site, monkeypatch):
    from tracker.store import StoreError

    def refuse(*args, **kwargs):
        raise StoreError("Timeout exceeded")

    monkeypatch.setattr(queries, "series", refuse)
    response = logged_in.get(f"/dashboard/{site['site']}/")
    assert response.status_code == 503 and response.mimetype == "text/html"
    assert "shorter date range" in response.get_data(as_text=True)
