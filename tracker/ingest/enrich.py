"""Enrichment: browser, OS, device and bot flag; channel; UTM fields; hashed IPs.

Pure functions of the request, with caches: nothing here depends on which worker or node
answers, and nothing touches ClickHouse (the daily salt comes from ``salts.py``).
"""
import hashlib
import re
from functools import lru_cache
from urllib.parse import parse_qsl, urlsplit

import crawleruseragents
import user_agents

UTM_FIELDS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")

SEARCH_ENGINES = re.compile(
    r"(^|\.)(google|bing|duckduckgo|yahoo|baidu|yandex|ecosia|qwant|startpage|naver|seznam|"
    r"search\.brave|ask|aol|sogou)\.")
SOCIAL_NETWORKS = re.compile(
    r"(^|\.)(facebook|fb|instagram|linkedin|lnkd|twitter|t\.co$|x\.com$|pinterest|reddit|youtube|"
    r"tiktok|snapchat|tumblr|vk|xing|mastodon|threads|bsky|quora|news\.ycombinator)")
EMAIL_HOSTS = re.compile(r"(^|\.)(mail\.google|outlook\.live|mail\.yahoo|webmail|mail\.proton)")
PAID_MEDIUMS = {"cpc", "ppc", "paid", "paidsearch", "paid_search", "paid-search", "display", "cpm",
                "banner", "paid_social", "paidsocial", "paid-social", "cpa", "affiliate", "retargeting"}
SOCIAL_MEDIUMS = {"social", "social-network", "social_network", "sm", "social-media", "social_media"}
EMAIL_MEDIUMS = {"email", "e-mail", "e_mail", "newsletter", "mail"}
CLICK_IDS = ("gclid", "gbraid", "wbraid", "fbclid", "msclkid", "ttclid", "li_fat_id", "dclid")
OFFLINE_TYPES = {"offline", "call", "store_visit", "meeting"}
CHANNELS = ("direct", "organic_search", "paid", "social", "email", "referral", "offline")


@lru_cache(maxsize=8192)
def parse_user_agent(ua):
    """(browser, os, device, is_bot) for a User-Agent string; cached, parsing is slow."""
    if not ua:
        return "", "", "other", 1
    parsed = user_agents.parse(ua)
    bot = parsed.is_bot or crawleruseragents.is_crawler(ua)
    if bot:
        device = "bot"
    elif parsed.is_tablet:
        device = "tablet"
    elif parsed.is_mobile:
        device = "mobile"
    elif parsed.is_pc:
        device = "desktop"
    else:
        device = "other"
    browser = parsed.browser.family if parsed.browser.family != "Other" else ""
    os_name = parsed.os.family if parsed.os.family != "Other" else ""
    return browser, os_name, device, int(bool(bot))


@lru_cache(maxsize=16384)
def split_url(url):
    """(host, path, query pairs) of a URL; empty parts when it does not parse. Cached."""
    if not url:
        return "", "", ()
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
    except ValueError:
        return "", "", ()
    # A tuple of pairs, not a dict: cached values must not be mutable.
    return host, parts.path or "/", tuple(parse_qsl(parts.query, keep_blank_values=False))


def host_of(url):
    """The lower-case host of a URL ('' if none)."""
    return split_url(url)[0]


def utm_fields(explicit, query):
    """UTM values from explicit fields, else from the page URL's query string."""
    return {field: (explicit.get(field) or query.get(field, ""))[:200] for field in UTM_FIELDS}


def same_site(host, other):
    """True when two hosts belong to one site (equal or one a subdomain of the other)."""
    if not host or not other:
        return False
    host, other = host.removeprefix("www."), other.removeprefix("www.")
    return host == other or host.endswith("." + other) or other.endswith("." + host)


@lru_cache(maxsize=4096)
def referrer_channel(host):
    """The channel of a visit from another site's host; cached, hosts repeat."""
    if EMAIL_HOSTS.search(host):  # before search: mail.google.com is not a search
        return "email"
    if SEARCH_ENGINES.search(host):
        return "organic_search"
    if SOCIAL_NETWORKS.search(host):
        return "social"
    return "referral"


def channel_of(event_type, utm, query, referrer_host, page_host):
    """Where one touchpoint came from by its own data; '' when it has no source of its own
    (a page view inside a visit, an in-page event): reports give it its visit's channel."""
    medium = utm["utm_medium"].lower()
    source = utm["utm_source"].lower()
    if event_type in OFFLINE_TYPES or medium == "offline":
        return "offline"
    if event_type == "email_open" or medium in EMAIL_MEDIUMS or source in EMAIL_MEDIUMS:
        return "email"
    if medium in PAID_MEDIUMS or any(k in query for k in CLICK_IDS):
        return "paid"
    if medium in SOCIAL_MEDIUMS:
        return "social"
    if medium == "organic":
        return "organic_search"
    if referrer_host and not same_site(referrer_host, page_host):
        return referrer_channel(referrer_host)
    if source:
        return "referral"
    if referrer_host or event_type != "pageview":
        return ""  # an internal navigation or an in-page event
    return "direct"


def hashed(salt, *parts):
    """A short salted SHA-256 of ``parts``: the only trace of an IP address we keep."""
    return hashlib.sha256("|".join((salt,) + parts).encode()).hexdigest()[:16]
