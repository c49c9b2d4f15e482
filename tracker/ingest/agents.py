"""User agents: browser, OS and device class (PyPI ``user-agents``) and the bot flag.

The bot check is isbot's maintained pattern set (PyPI ``is-bot``); headless browsers are among
its patterns. Both are cached per user agent: the hot path parses a browser once per process.
"""
import re
from functools import lru_cache

import user_agents
from is_bot import Bots

# Page renderers and uptime monitors that isbot lets through. They run pages (and so the
# snippet) without a person; found among CrawlerDetect's crawler fixtures (tests/fixtures/user_agents).
AUTOMATION = re.compile(r"wkhtmlto|screenshot|webthumb|websnapr|zombie\.js|debugbear|uptime|preload|-probe/"
                        r"|monitoring\)", re.IGNORECASE)

_bots = Bots()


def is_bot(ua):
    """True for a crawler, a headless browser, a script, or no user agent at all."""
    return not ua or _bots.is_bot(ua) or bool(AUTOMATION.search(ua))


@lru_cache(maxsize=16384)
def parse_user_agent(ua):
    """(browser, os, device, is_bot) for a User-Agent string; cached, parsing is slow."""
    if not ua:
        return "", "", "other", 1
    parsed = user_agents.parse(ua)
    bot = is_bot(ua)
    browser = parsed.browser.family if parsed.browser.family != "Other" else ""
    os_name = parsed.os.family if parsed.os.family != "Other" else ""
    return browser, os_name, "bot" if bot else device_class(parsed), int(bot)


def device_class(parsed):
    """'tablet', 'mobile', 'desktop' or 'other' of a parsed user agent."""
    if parsed.is_tablet:
        return "tablet"
    if parsed.is_mobile:
        return "mobile"
    return "desktop" if parsed.is_pc else "other"
