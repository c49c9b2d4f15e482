"""Invented travellers of Wanderlust Travel and their touchpoints, as server-API events.

Each person arrives through one channel, browses destinations, and some of them research,
compare, identify, book, open emails, travel and come back; others go silent on the way.
The same seed tells the same story, placed relative to today.
"""
import random
import time

SITE_NAME = "Wanderlust Travel"
BASE = "https://wanderlust.example"
DESTINATIONS = ["alps", "lisbon", "iceland", "kyoto", "patagonia", "crete", "lapland", "marrakesh"]
FIRST = ["Ana", "Ben", "Chloé", "David", "Emma", "Farid", "Greta", "Hugo", "Ines", "Jonas", "Kai", "Lena",
         "Mateo", "Nora", "Omar", "Pia", "Quentin", "Rosa", "Sven", "Tara", "Umar", "Vera", "Will", "Yara"]
LAST = ["Almeida", "Berger", "Costa", "Dubois", "Eriksen", "Fischer", "García", "Hansen", "Ivanova", "Jansen",
        "Kowalski", "Larsen", "Moreau", "Novak", "Olsen", "Petrov", "Rossi", "Schmidt", "Tanaka", "Weber"]
COMPANIES = ["Acme Corp", "Globex", "Initech", "Umbrella Travel Desk", "Stark Industries", "Wayne Enterprises"]
AGENTS = {
    "desktop": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36",
    "mac": "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
    "firefox": "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
    "iphone": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
    "android": "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Mobile Safari/537.36",
    "ipad": "Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
}
# (weight, query string of the landing page, referrer)
ARRIVALS = [
    (25, "utm_source=google&utm_medium=cpc&utm_campaign=summer-sale", "https://www.google.com/"),
    (22, "", "https://www.google.com/"),
    (14, "utm_source=instagram&utm_medium=social&utm_campaign=alps-reel", "https://www.instagram.com/"),
    (10, "", "https://travelblog.example/best-hikes-2026"),
    (9, "utm_source=bing&utm_medium=cpc&utm_campaign=city-breaks", "https://www.bing.com/"),
    (20, "", ""),
]
DAY = 86400 * 1000
WEB_TYPES = {"pageview", "event", "identify", "purchase"}


class Person:
    """One invented traveller: their ids, device and the touchpoints they leave."""

    def __init__(self, number, rng, now_ms):
        self.rng, self.now = rng, now_ms
        self.vid = f"demo-v{number:05d}"
        self.uid = ""
        self.number = number
        self.ua = AGENTS[rng.choices(list(AGENTS), [35, 12, 8, 25, 12, 8])[0]]
        self.events = []

    def add(self, when, **event):
        if when > self.now:
            return False
        event.setdefault("vid", self.vid)
        if self.uid:
            event.setdefault("uid", self.uid)
        event.update(ts=int(when), eid=f"demo-{self.number}-{len(self.events)}")
        if event["type"] in WEB_TYPES:  # offline contacts and email opens come from no browser of theirs
            event["ua"] = self.ua
        self.events.append(event)
        return True

    def page(self, when, path, ref="", title=""):
        return self.add(when, type="pageview", url=BASE + path, ref=ref, title=title or path)

    def later(self, when, low_days, high_days):
        return when + self.rng.uniform(low_days, high_days) * DAY

    def identify(self, when):
        first, last = self.rng.choice(FIRST), self.rng.choice(LAST)
        self.uid = f"cust-{self.number:05d}"
        traits = {"email": f"{first}.{last}.{self.number}@mail.example".lower(), "name": f"{first} {last}"}
        if self.rng.random() < 0.3:
            traits["company"] = self.rng.choice(COMPANIES)
        self.add(when, type="identify", traits=traits)


def _story(person, rng):
    """The touchpoints of one person, from arrival to wherever they stop."""
    now = person.now
    start = now - rng.uniform(0, 180) * DAY
    query, ref = rng.choices([(q, r) for _, q, r in ARRIVALS], [w for w, _, _ in ARRIVALS])[0]
    dest = rng.choice(DESTINATIONS)
    person.page(start, f"/destinations/{dest}" + (f"?{query}" if query else ""), ref, f"{dest.title()} trips")
    when = start
    for _ in range(rng.randint(0, 3)):
        when += rng.uniform(1, 8) * 60_000
        person.page(when, f"/destinations/{rng.choice(DESTINATIONS)}", BASE + "/")
    if rng.random() < 0.12:
        person.add(person.later(when, 0, 10), type="offline", name="call_centre", props={"topic": "questions"})
    if rng.random() > 0.62:
        return
    when = person.later(when, 0, 6)
    person.add(when, type="event", name="guide_download", props={"destination": dest})
    if rng.random() > 0.7:
        return
    when = person.later(when, 0, 8)
    person.page(when, f"/compare?destination={dest}", BASE + f"/destinations/{dest}", "Compare offers")
    if rng.random() < 0.85:
        person.identify(when + 60_000)
    if rng.random() > 0.55:
        return
    when = person.later(when, 0, 12)
    if not person.uid:
        person.identify(when - 30_000)
    amount = rng.choice([690, 1240, 1890, 2450, 3100])
    if not person.add(when, type="purchase", name=f"{dest} package", props={"amount": amount, "destination": dest}):
        return
    if rng.random() < 0.08:
        person.add(person.later(when, 1, 10), type="event", name="booking_cancelled")
        return
    if rng.random() < 0.8:
        person.add(person.later(when, 0.1, 2), type="email_open", name="Welcome aboard",
                   utm_source="crm", utm_medium="email", utm_campaign="welcome")
    if rng.random() < 0.7:
        person.page(person.later(when, 0.5, 5), "/my-trip", "", "My trip")
    if rng.random() < 0.5:
        person.add(person.later(when, 1, 9), type="event", name="app_installed")
    travel = person.later(when, 18, 60)
    if rng.random() < 0.85:
        person.add(travel - 7 * DAY, type="email_open", name="Your trip is coming",
                   utm_source="crm", utm_medium="email", utm_campaign="pre-trip")
    if not person.add(travel, type="offline", name="check_in", props={"destination": dest}):
        return
    if rng.random() < 0.45:
        person.add(person.later(travel, 8, 20), type="event", name="review_posted", props={"stars": rng.randint(3, 5)})


def _newsletter(person, rng):
    """Known people get the autumn newsletter; some click through."""
    if not person.uid or rng.random() > 0.5:
        return
    sent = person.now - rng.uniform(1, 30) * DAY
    if person.add(sent, type="email_open", name="Autumn deals", utm_source="newsletter", utm_medium="email",
                  utm_campaign="autumn-deals") and rng.random() < 0.45:
        person.page(sent + rng.uniform(1, 90) * 60_000,
                    "/offers/autumn?utm_source=newsletter&utm_medium=email&utm_campaign=autumn-deals",
                    "", "Autumn deals")


def _visits(person):
    """Give the person's browser touchpoints the session ids a browser's snippet would send:
    a new one after 30 idle minutes. Their page views inside a visit count under its channel."""
    web = sorted((e for e in person.events if "ua" in e), key=lambda e: e["ts"])
    visit, last = 0, None
    for event in web:
        if last is None or event["ts"] - last > 30 * 60_000:
            visit += 1
        event["sid"] = f"demo-{person.number}-{visit}"
        last = event["ts"]


def generate(people, seed, batch_size=100):
    """Yield batches of server-API events for ``people`` invented travellers."""
    rng = random.Random(seed)
    now = time.time() * 1000
    batch = []
    for number in range(people):
        person = Person(number, rng, now)
        _story(person, rng)
        _newsletter(person, rng)
        _visits(person)
        for event in person.events:
            batch.append(event)
            if len(batch) == batch_size:
                yield batch
                batch = []
    if batch:
        yield batch
