"""Who a referrer host is: Matomo's maintained lists, vendored in ``data/``, and webmail hosts.

The lists (search engines, social networks, AI assistants, referrer spam; see ``data/NOTE.md``)
are read once per process. A host is looked up as itself, then as each parent domain, most
specific first, so ``gemini.google.com`` is an AI assistant and ``news.google.de`` still Google.
Webmail is in none of the lists; a small table of it lives here.
"""
import re
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path
from urllib.parse import unquote

import yaml

DATA = Path(__file__).resolve().parent / "data"
LISTS = DATA / "matomo-searchengine-and-social-list"
SPAM = DATA / "matomo-referrer-spam-list" / "spammers.txt"

# Webmail host -> provider: a click in a mail read in the browser. Parent domains count too
# (uk.mail.yahoo.com), and so do the Android apps' referrers (android-app://com.google.android.gm).
WEBMAIL = {
    "mail.google.com": "Gmail", "com.google.android.gm": "Gmail",
    "outlook.com": "Outlook", "outlook.live.com": "Outlook", "outlook.office.com": "Outlook",
    "outlook.office365.com": "Outlook", "mail.live.com": "Outlook", "com.microsoft.office.outlook": "Outlook",
    "mail.yahoo.com": "Yahoo Mail", "mail.yahoo.co.jp": "Yahoo Mail", "mail.aol.com": "AOL Mail",
    "mail.proton.me": "Proton Mail", "mail.protonmail.com": "Proton Mail", "www.icloud.com": "iCloud Mail",
    "app.tuta.com": "Tuta", "mail.tutanota.com": "Tuta", "app.fastmail.com": "Fastmail",
    "mail.zoho.com": "Zoho Mail", "mail.zoho.eu": "Zoho Mail",
    "e.mail.ru": "Mail.ru", "touch.mail.ru": "Mail.ru", "octavius.mail.ru": "Mail.ru",
    "mail.yandex.ru": "Yandex Mail", "mail.yandex.com": "Yandex Mail", "mail.yandex.com.tr": "Yandex Mail",
    "mail.yandex.by": "Yandex Mail", "mail.yandex.kz": "Yandex Mail", "mail.rambler.ru": "Rambler Mail",
    "email.seznam.cz": "Seznam Email", "mail.naver.com": "Naver Mail", "mail.daum.net": "Daum Mail",
    "mail.qq.com": "QQ Mail", "mail.163.com": "NetEase Mail", "mail.126.com": "NetEase Mail",
    "poczta.onet.pl": "Onet Poczta", "poczta.wp.pl": "WP Poczta", "email.t-online.de": "T-Online Mail",
    # GMX, WEB.DE and mail.com are portals with news too: only their mail hosts count.
    **{f"{sub}.{portal}": name for portal, name in (
        ("gmx.net", "GMX"), ("gmx.de", "GMX"), ("gmx.at", "GMX"), ("gmx.ch", "GMX"), ("gmx.com", "GMX"),
        ("web.de", "WEB.DE"), ("mail.com", "mail.com")) for sub in ("3c", "navigator")},
}
# A company's own webmail: the first label of a host of three labels or more.
WEBMAIL_LABELS = {"mail", "webmail", "email", "owa"}

# '{}' in Matomo's hosts: a country code as a subdomain, or any top-level domain, also
# combined ones like co.uk (the lists' README names com.*, org.*, net.*, co.*, it.*, edu.*).
_TLD = r"(?:[a-z]{2,}|(?:com|org|net|co|it|edu)\.[a-z]{2,})"
_SUBDOMAIN = r"[a-z]{2,3}"


@dataclass(frozen=True)
class Entry:
    """A host of the lists, maybe with a path prefix (``bing.com/images/search``)."""

    path: str
    channel: str
    name: str


class ReferrerLists:
    """The loaded lists; ``origin(host, path)`` and ``is_spam(host)`` are cached per host."""

    def __init__(self, hosts, wildcards, spam):
        self._hosts = hosts  # host -> [Entry], longest path first
        self._wildcards = wildcards  # [(compiled host regex, [Entry])]
        self._spam = spam
        self.entries_for = lru_cache(maxsize=16384)(self._entries_for)
        self.is_spam = lru_cache(maxsize=16384)(self._is_spam)

    def origin(self, host, path="/"):
        """(channel, name) of a referrer, or None for a host in none of the lists."""
        for entry in self.entries_for(host):
            if path.startswith(entry.path):
                return entry.channel, entry.name
        return None

    def _entries_for(self, host):
        """Every entry that may apply to ``host``, most specific host first (a tuple: cached)."""
        found = []
        labels = host.split(".")
        if len(labels) >= 3 and labels[0] in WEBMAIL_LABELS and host not in WEBMAIL:
            found.append(Entry("", "email", "Webmail"))
        for level in _levels(host.removeprefix("www.")):
            if level in WEBMAIL:
                found.append(Entry("", "email", WEBMAIL[level]))
            found.extend(self._hosts.get(level, ()))
            found.extend(e for pattern, entries in self._wildcards if pattern.fullmatch(level) for e in entries)
        return tuple(found)

    def _is_spam(self, host):
        """True when the host or a parent domain is on the referrer-spam list."""
        return any(level in self._spam for level in _levels(host.removeprefix("www.")))

    def summary(self):
        """How many hosts each list holds, for `make update-data`."""
        counts = {}
        for entries in self._hosts.values():
            for entry in entries:
                counts[entry.channel] = counts.get(entry.channel, 0) + 1
        return ", ".join(f"{n} {channel} hosts" for channel, n in sorted(counts.items())) + \
            f", {len(self._wildcards)} host patterns, {len(self._spam)} spam domains"


def _levels(host):
    """The host and its parent domains down to two labels: a.b.example.com, b.example.com, example.com."""
    labels = host.split(".")
    return [".".join(labels[i:]) for i in range(max(1, len(labels) - 1))]


def _split(url):
    """(host, path) of a list entry: 'bing.com/images/search', 'android-app//com.app/https/x'."""
    url = url.strip().lower().removeprefix("android-app//").removeprefix("www.")
    host, _, path = url.partition("/")
    return host, "/" + path if path else ""


def _wildcard(host):
    parts = [re.escape(label) for label in host.split(".")]
    last = len(parts) - 1
    return re.compile(r"\.".join(_TLD if p == r"\{\}" and i == last else _SUBDOMAIN if p == r"\{\}" else p
                                 for i, p in enumerate(parts)))


def _entries(folder):
    """(channel, name, url) of every list entry; AI assistants first, so they win a host that
    another list names too (chatgpt.com is also among Matomo's search engines)."""
    for name, urls in yaml.safe_load((folder / "AIAssistants.yml").read_text()).items():
        yield from (("ai_assistant", name, url) for url in urls)
    for name, urls in yaml.safe_load((folder / "Socials.yml").read_text()).items():
        yield from (("social", name, url) for url in urls)
    for name, configs in yaml.safe_load((folder / "SearchEngines.yml").read_text()).items():
        yield from (("organic_search", name, url) for config in configs for url in config["urls"])


def build(entries, spam):
    """ReferrerLists from (channel, name, url) entries and spam domains."""
    hosts, wildcards = {}, {}
    for channel, name, url in entries:
        host, path = _split(url)
        target = wildcards if "{}" in host else hosts
        known = target.setdefault(host, [])
        if not any(e.path == path for e in known):  # the first list to name a host wins it
            known.append(Entry(path, channel, unquote(str(name))))
    for known in list(hosts.values()) + list(wildcards.values()):
        known.sort(key=lambda e: -len(e.path))
    compiled = [(_wildcard(host), tuple(entries)) for host, entries in wildcards.items()]
    return ReferrerLists({h: tuple(e) for h, e in hosts.items()}, compiled, frozenset(spam))


@cache
def load_lists(folder=LISTS, spam_file=SPAM):
    """The vendored lists, read once per process."""
    spam = (line.strip().lower() for line in spam_file.read_text().splitlines())
    return build(_entries(folder), (domain for domain in spam if domain and not domain.startswith("#")))
