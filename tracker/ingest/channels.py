"""The acquisition channel and source of a touchpoint.

Order (issue 11): what the link itself says first (an offline or email type, a paid click id,
utm_medium), then who referred the visit, from Matomo's lists and the webmail table
(``referrers.py``). ``source`` names the search engine, network, AI assistant, webmail provider
or ad platform ("Ecosia", "LinkedIn", "Gmail"), so reports can say more than the channel.
"""
from functools import lru_cache

from .enrich import same_site
from .referrers import load_lists

CHANNELS = ("direct", "organic_search", "paid", "social", "email", "referral", "offline", "ai_assistant")
OFFLINE_TYPES = {"offline", "call", "store_visit", "meeting"}

# Click ids that ad platforms append to the landing URL -> the platform (named as in the lists).
CLICK_IDS = {
    "gclid": "Google", "gbraid": "Google", "wbraid": "Google", "dclid": "Google", "msclkid": "Bing",
    "fbclid": "Facebook", "ttclid": "TikTok", "li_fat_id": "LinkedIn", "twclid": "Twitter",
    "yclid": "Yandex", "epik": "Pinterest", "sccid": "Snapchat", "rdt_cid": "Reddit",
}
# Facebook adds fbclid to every outbound link, ads or not: it means paid only with a paid medium.
UNPAID_CLICK_IDS = {"fbclid"}

# utm_medium -> channel. Mediums starting with "paid" (paid_social, paidsearch…) are paid too.
MEDIUMS = {
    **dict.fromkeys(("cpc", "ppc", "cpm", "cpv", "cpa", "display", "banner", "affiliate", "retargeting",
                     "sponsored", "ad", "ads"), "paid"),
    **dict.fromkeys(("email", "e-mail", "e_mail", "newsletter", "mail"), "email"),
    **dict.fromkeys(("social", "social-network", "social_network", "social-media", "social_media", "sm"),
                    "social"),
    "organic": "organic_search", "referral": "referral", "offline": "offline",
    **dict.fromkeys(("ai", "ai_assistant", "llm", "chatbot"), "ai_assistant"),
}
EMAIL_SOURCES = {"email", "e-mail", "newsletter", "mail"}


def medium_channel(medium):
    """The channel a utm_medium names, or '' when it names none."""
    medium = medium.lower()
    return MEDIUMS.get(medium) or ("paid" if medium.startswith("paid") else "")


def click_platform(click_ids, medium_says):
    """The ad platform of the first paid click id among ``click_ids``, or ''."""
    for key in click_ids:
        if key not in UNPAID_CLICK_IDS or medium_says == "paid":
            return CLICK_IDS[key]
    return ""


def is_spam(referrer_host):
    """True for a referrer on the referrer-spam list: such hits are not recorded."""
    return bool(referrer_host) and load_lists().is_spam(referrer_host)


def origin_of(event_type, utm, query, referrer_host, referrer_path, page_host):
    """(channel, source) of one touchpoint; channel '' when the session's origin applies
    (an internal navigation, an in-page event)."""
    click_ids = tuple(key for key in query if key in CLICK_IDS)
    return classify(event_type, utm["utm_medium"], utm["utm_source"], referrer_host, referrer_path, page_host,
                    click_ids)


@lru_cache(maxsize=16384)
def classify(event_type, medium, utm_source, referrer_host, referrer_path, page_host, click_ids):
    """``origin_of`` from its inputs alone; cached, since a site's touchpoints repeat a few
    combinations (``tracker reclassify`` calls it with stored inputs)."""
    external = referrer_host and not same_site(referrer_host, page_host)
    named = load_lists().origin(referrer_host, referrer_path) if external else None
    source = named[1] if named else ""
    medium_says = medium_channel(medium)
    if event_type in OFFLINE_TYPES or medium_says == "offline":
        return "offline", source
    if event_type == "email_open":
        return "email", source
    platform = click_platform(click_ids, medium_says)
    if platform:
        return "paid", source or platform
    if medium_says:
        return medium_says, source
    if utm_source.lower() in EMAIL_SOURCES:
        return "email", source
    if named:
        return named
    if external or utm_source:
        return "referral", ""
    if referrer_host or event_type != "pageview":
        return "", ""
    return "direct", ""
