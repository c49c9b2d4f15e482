"""Enrichment rules as tables: UTM fields, URLs, site domains, sessions, salts."""
import pytest

from tracker.ingest.enrich import Salts, Sessions, hashed, same_site, split_url, utm_fields

NO_UTM = dict.fromkeys(("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content"), "")


def utm(**given):
    return {**NO_UTM, **given}


def test_utm_fields_prefer_explicit_values():
    _, _, pairs = split_url("https://example.com/?utm_source=google&utm_campaign=spring")
    assert utm_fields({"utm_source": "newsletter"}, dict(pairs)) == utm(utm_source="newsletter", utm_campaign="spring")


@pytest.mark.parametrize("url, expected", [
    ("https://Example.com/a/b?x=1", ("example.com", "/a/b", (("x", "1"),))),
    ("https://example.com", ("example.com", "/", ())),
    ("http://[::1", ("", "", ())),
    ("", ("", "", ())),
])
def test_split_url(url, expected):
    assert split_url(url) == expected


@pytest.mark.parametrize("a, b, expected", [
    ("www.example.com", "example.com", True), ("shop.example.com", "example.com", True),
    ("example.com.evil.net", "example.com", False), ("notexample.com", "example.com", False), ("", "x", False),
])
def test_same_site(a, b, expected):
    assert same_site(a, b) is expected


def test_sessions_end_after_thirty_idle_minutes_and_keep_their_origin():
    sessions = Sessions()
    paid, inherit, direct = ("paid", "Google"), ("", ""), ("direct", "")
    first, origin = sessions.resolve("s", "v", "", 1000, paid)
    assert origin == paid
    assert sessions.resolve("s", "v", "", 1000 + 29 * 60, inherit) == (first, paid)
    assert sessions.resolve("s", "v", "", 1000 + 29 * 60 + 5, direct) == (first, paid)
    assert sessions.resolve("s", "v", "", 1000 + 29 * 60 + 9, ("social", "Reddit")) == (first, ("social", "Reddit"))
    later, origin = sessions.resolve("s", "v", "", 1000 + 70 * 60, inherit)
    assert later != first and origin == direct
    assert sessions.resolve("s", "v", "from-browser", 1000 + 71 * 60, inherit)[0] == "from-browser"


def test_salts_rotate_daily_and_survive_a_missing_store():
    stored = {}
    salts = Salts(stored.get, stored.__setitem__)
    day1 = salts.today(now=86400 * 20000)
    assert salts.today(now=86400 * 20000 + 3600) == day1 == stored["2024-10-04"]
    assert salts.today(now=86400 * 20001) != day1

    def down(*_):
        raise ConnectionError("no ClickHouse")

    assert len(Salts(down, down).today()) == 32


def test_hashed_depends_on_salt():
    assert hashed("a", "1.2.3.4") != hashed("b", "1.2.3.4") and len(hashed("a", "x")) == 16
