"""User agents: browser, OS, device and the bot flag (isbot's patterns), as a table."""
import pytest

from tracker.ingest.agents import is_bot, parse_user_agent

CHROME = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36"


@pytest.mark.parametrize("ua, expected", [
    (CHROME, ("Chrome", "Windows", "desktop", 0)),
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "Version/17.0 Mobile/15E148 Safari/604.1", ("Mobile Safari", "iOS", "mobile", 0)),
    ("Mozilla/5.0 (iPad; CPU OS 16_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.0 "
     "Mobile/15E148 Safari/604.1", ("Mobile Safari", "iOS", "tablet", 0)),
    ("Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)", ("bingbot", "", "bot", 1)),
    ("", ("", "", "other", 1)),
])
def test_parse_user_agent(ua, expected):
    assert parse_user_agent(ua) == expected


@pytest.mark.parametrize("ua", [
    "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/126.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Unknown; Linux x86_64) AppleWebKit/538.1 (KHTML, like Gecko) PhantomJS/2.1.1 Safari/538.1",
    "python-requests/2.31.0",
    "curl/8.5.0",
    "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; +https://openai.com/gptbot)",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/534.34 (KHTML, like Gecko) wkhtmltopdf Safari/534.34",
    "CopperEgg/RevealUptime/FrankfurtGermany",
])
def test_crawlers_headless_browsers_and_scripts_are_bots(ua):
    assert is_bot(ua) and parse_user_agent(ua)[2:] == ("bot", 1)


def test_the_parse_is_cached():
    parse_user_agent.cache_clear()
    parse_user_agent(CHROME)
    parse_user_agent(CHROME)
    assert parse_user_agent.cache_info().hits == 1
