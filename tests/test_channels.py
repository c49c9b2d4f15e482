"""The channel and source of a touchpoint, as a table: what the link says first, then the referrer."""
import pytest

from tracker.ingest.channels import CHANNELS, is_spam, medium_channel, origin_of

NO_UTM = dict.fromkeys(("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content"), "")


def utm(**given):
    return {**NO_UTM, **given}


@pytest.mark.parametrize("event_type, fields, query, referrer, path, expected", [
    ("pageview", {}, {}, "", "", ("direct", "")),
    ("pageview", {}, {}, "www.google.com", "/", ("organic_search", "Google")),
    ("pageview", {}, {}, "www.ecosia.org", "/search", ("organic_search", "Ecosia")),
    ("pageview", {}, {}, "duckduckgo.com", "/", ("organic_search", "DuckDuckGo")),
    ("pageview", {}, {}, "t.co", "/x", ("social", "Twitter")),
    ("pageview", {}, {}, "www.linkedin.com", "/", ("social", "LinkedIn")),
    ("pageview", {}, {}, "chatgpt.com", "/", ("ai_assistant", "ChatGPT")),
    ("pageview", {}, {}, "x.com", "/i/grok", ("ai_assistant", "Grok")),
    ("pageview", {}, {}, "mail.google.com", "/mail/u/0/", ("email", "Gmail")),
    ("pageview", {}, {}, "blog.partner.org", "/post", ("referral", "")),
    ("pageview", {}, {}, "www.example.com", "/", ("", "")),  # an internal navigation
    ("event", {}, {}, "", "", ("", "")),  # an in-page event
    # Click ids and utm_medium come first; the referrer still names the source.
    ("pageview", {}, {"gclid": "x"}, "www.google.com", "/", ("paid", "Google")),
    ("pageview", {}, {"msclkid": "x"}, "", "", ("paid", "Bing")),
    ("pageview", {}, {"fbclid": "x"}, "l.facebook.com", "/", ("social", "Facebook")),
    ("pageview", {"utm_medium": "paid_social"}, {"fbclid": "x"}, "", "", ("paid", "Facebook")),
    ("pageview", {"utm_medium": "cpc"}, {}, "", "", ("paid", "")),
    ("pageview", {"utm_medium": "email"}, {}, "", "", ("email", "")),
    ("pageview", {"utm_medium": "social"}, {}, "", "", ("social", "")),
    ("pageview", {"utm_source": "newsletter"}, {}, "", "", ("email", "")),
    ("pageview", {"utm_source": "partner"}, {}, "", "", ("referral", "")),
    ("email_open", {}, {}, "", "", ("email", "")),
    ("offline", {}, {}, "", "", ("offline", "")),
])
def test_origin_of(event_type, fields, query, referrer, path, expected):
    assert origin_of(event_type, utm(**fields), query, referrer, path, "example.com") == expected


@pytest.mark.parametrize("medium, channel", [("CPC", "paid"), ("paidsearch", "paid"), ("display", "paid"),
                                             ("newsletter", "email"), ("organic", "organic_search"), ("tv", "")])
def test_medium_channel(medium, channel):
    assert medium_channel(medium) == channel


def test_every_channel_named_is_known():
    assert {"ai_assistant", "direct", "organic_search", "paid", "social", "email", "referral", "offline"} == set(CHANNELS)


@pytest.mark.parametrize("host, spam", [("0-0.fr", True), ("www.0-0.fr", True), ("shop.0-0.fr", True),
                                        ("www.google.com", False), ("", False)])
def test_is_spam(host, spam):
    assert is_spam(host) is spam
