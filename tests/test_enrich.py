"""Enrichment rules as tables: UTM fields, URLs, site domains; the daily salts."""
import time

import pytest

from tracker.ingest.enrich import hashed, same_site, split_url, utm_fields
from tracker.ingest.salts import Salts
from tracker.store.server import ServerBackend

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


def test_salts_are_one_per_day_for_every_process(store):
    first, second = Salts(store), Salts(store)
    day1 = first.today(now=86400 * 20000)
    assert len(day1) == 32 and second.today(now=86400 * 20000 + 3600) == day1
    day2 = second.today(now=86400 * 20001)
    assert day2 != day1 and first.today(now=86400 * 20001) == day2
    assert Salts(store).today(now=86400 * 20003) not in (day1, day2)
    for _ in range(50):  # the server deletes in the background (a mutation)
        names = [n for (n,) in store.query("SELECT name FROM app_secrets ORDER BY name")]
        if "ip_salt:2024-10-04" not in names:
            break
        time.sleep(0.1)
    assert "ip_salt:2024-10-04" not in names and "ip_salt:2024-10-07" in names


def test_no_salt_is_invented_when_the_store_cannot_be_read():
    unreachable = ServerBackend("clickhouse://default@127.0.0.1:1/none", connect_timeout=0.2)
    assert Salts(unreachable).today() is None


def test_hashed_depends_on_salt():
    assert hashed("a", "1.2.3.4") != hashed("b", "1.2.3.4") and len(hashed("a", "x")) == 16
