"""The vendored Matomo lists and the webmail table: a sample of each list's entries.

If a refresh (`make update-data`) drops or renames one of these, this says so.
"""
import pytest

from tracker.ingest.referrers import build, load_lists

SEARCH_ENGINES = [("www.google.com", "Google"), ("www.google.co.uk", "Google"), ("www.bing.com", "Bing"),
                  ("duckduckgo.com", "DuckDuckGo"), ("www.ecosia.org", "Ecosia"), ("www.qwant.com", "Qwant"),
                  ("search.seznam.cz", "Seznam"), ("search.naver.com", "Naver"), ("www.baidu.com", "Baidu"),
                  ("yandex.ru", "Yandex"), ("www.startpage.com", "StartPage"), ("search.brave.com", "Brave"),
                  ("so.360.cn", "360search"), ("www.118700.se", "118 700")]
SOCIALS = [("bsky.app", "Bluesky"), ("discord.gg", "Discord"), ("lnkd.in", "LinkedIn"), ("t.co", "Twitter"),
           ("youtu.be", "YouTube"), ("l.threads.net", "Threads"), ("tiktok.com", "TikTok"),
           ("plus.google.com", "Google+"), ("bilibili.com", "bilibili"), ("badoo.com", "Badoo")]
AI_ASSISTANTS = [("chatgpt.com", "ChatGPT"), ("chat.openai.com", "ChatGPT"), ("claude.ai", "Claude"),
                 ("copilot.microsoft.com", "Copilot"), ("gemini.google.com", "Gemini"), ("perplexity.ai", "Perplexity"),
                 ("chat.deepseek.com", "Deepseek"), ("chat.mistral.ai", "Le Chat"), ("duck.ai", "Duck.ai"),
                 ("yiyan.baidu.com", "Baidu AI")]
SPAM = ["0-0.fr", "007agent-i.fr", "01casino-x.ru", "1-best-seo.com", "100dollars-seo.com"]
WEBMAIL = [("mail.google.com", "Gmail"), ("outlook.live.com", "Outlook"), ("uk.mail.yahoo.com", "Yahoo Mail"),
           ("mail.proton.me", "Proton Mail"), ("3c.gmx.net", "GMX"), ("e.mail.ru", "Mail.ru"),
           ("mail.yandex.ru", "Yandex Mail"), ("webmail.some-company.example", "Webmail")]


@pytest.mark.parametrize("channel, sample", [("organic_search", SEARCH_ENGINES), ("social", SOCIALS),
                                             ("ai_assistant", AI_ASSISTANTS), ("email", WEBMAIL)])
def test_a_sample_of_each_list(channel, sample):
    lists = load_lists()
    assert [(host, lists.origin(host, "/")) for host, _ in sample] == [(host, (channel, name)) for host, name in sample]


@pytest.mark.parametrize("host", SPAM)
def test_a_sample_of_the_spam_list(host):
    assert load_lists().is_spam(host) and load_lists().is_spam("sub." + host)


@pytest.mark.parametrize("host, path, expected", [
    ("news.google.de", "/", ("organic_search", "Google News")),  # 'news.google.{}'
    ("de.search.yahoo.com", "/", ("organic_search", "Yahoo!")),  # '{}.search.yahoo.com'
    ("www.bing.com", "/images/search", ("organic_search", "Bing Images")),  # a path entry
    ("x.com", "/home", ("social", "Twitter")),
    ("com.google.android.googlequicksearchbox", "/https/www.google.com", ("organic_search", "Google")),
    ("google.evil.example", "/", None),
    ("blog.example.org", "/", None),
])
def test_parent_domains_wildcards_and_paths(host, path, expected):
    assert load_lists().origin(host, path) == expected


def test_the_first_list_to_name_a_host_wins():
    lists = build([("ai_assistant", "Bot", "chat.example"), ("organic_search", "Search", "chat.example"),
                   ("organic_search", "Search", "example")], [])
    assert lists.origin("chat.example", "/") == ("ai_assistant", "Bot")
    assert lists.origin("www.example", "/") == ("organic_search", "Search")
