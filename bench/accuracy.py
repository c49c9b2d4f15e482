"""Accuracy of the maintained data (issue 11), printed; tests/test_accuracy.py holds the goals.

    python bench/accuracy.py

Channels: the held-out referrer URLs of tests/fixtures/referrers.tsv (goal ≥ 95 % right).
Bots: crawler lists caught (goal ≥ 99 %) and browser lists flagged (goal ≤ 0.2 %), from
tests/fixtures/user_agents/ (NOTE.md there says where each list comes from).
"""
import gzip
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tracker.ingest.agents import is_bot  # noqa: E402
from tracker.ingest.channels import origin_of  # noqa: E402
from tracker.ingest.enrich import UTM_FIELDS, split_url  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures"
PAGE_HOST = "shop.example"
NO_UTM = dict.fromkeys(UTM_FIELDS, "")


def held_out_referrers():
    """(referrer URL, expected channel, expected source or '') of the held-out set."""
    lines = (FIXTURES / "referrers.tsv").read_text().splitlines()
    return [tuple(line.split("\t")) for line in lines if line and not line.startswith("#")]


def classify_referrer(url):
    """(channel, source) of a landing page view referred by ``url``."""
    host, path, _ = split_url(url)
    return origin_of("pageview", NO_UTM, {}, host, path, PAGE_HOST)


def _plain(name):
    return re.sub(r"[^a-z0-9]", "", name.lower())


def channel_results():
    """[(url, expected channel, expected source, got channel, got source, right)] of the held-out set."""
    results = []
    for url, channel, source in held_out_referrers():
        got_channel, got_source = classify_referrer(url)
        right = got_channel == channel and (not source or _plain(source) == _plain(got_source))
        results.append((url, channel, source, got_channel, got_source, right))
    return results


def user_agent_lists():
    """{list name: [user agents]} of every fixture list, crawlers-* and browsers-*."""
    folder = FIXTURES / "user_agents"
    return {path.name.removesuffix(".txt.gz"): gzip.decompress(path.read_bytes()).decode().splitlines()
            for path in sorted(folder.glob("*.txt.gz"))}


def bot_rates():
    """{list name: (user agents, flagged as bots)}."""
    return {name: (len(agents), sum(1 for ua in agents if is_bot(ua))) for name, agents in user_agent_lists().items()}


def main():
    results = channel_results()
    right = sum(r[-1] for r in results)
    print(f"channels: {right} of {len(results)} held-out referrers right, {100 * right / len(results):.1f} % "
          f"(goal >= 95 %)")
    for url, channel, source, got_channel, got_source, ok in results:
        if not ok:
            print(f"    wrong: {url}  expected {channel}/{source or '*'}, got {got_channel}/{got_source}")
    print("bots (isbot patterns + renderers and monitors):")
    for name, (total, flagged) in bot_rates().items():
        kind, goal = ("caught", ">= 99 %") if name.startswith("crawlers") else ("flagged", "<= 0.2 %")
        print(f"    {name:32s} {total:6d} user agents, {kind} {100 * flagged / total:6.2f} % (goal {goal})")


if __name__ == "__main__":
    main()
