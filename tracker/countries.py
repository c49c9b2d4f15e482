"""Countries: the continent and English name of each ISO 3166 code, from npm ``countries-list``.

Pinned in ``geoip/package.json`` and installed by ``make install`` beside the IP database.
Read once per process; without the file, names fall back to the code and continents to ''.
"""
import json
import logging
from functools import cache
from pathlib import Path

GEOIP_MODULES = Path(__file__).resolve().parents[1] / "geoip" / "node_modules"
COUNTRIES_FILE = GEOIP_MODULES / "countries-list" / "countries.min.json"

log = logging.getLogger(__name__)


@cache
def countries():
    """{code: (continent code, English name)}; empty when the package is not installed."""
    try:
        data = json.loads(COUNTRIES_FILE.read_text())
    except OSError:
        log.warning("no country names (%s is missing): run `make install`", COUNTRIES_FILE)
        return {}
    return {code: (entry["continent"], entry["name"]) for code, entry in data.items()}


def continent_of(code):
    """The continent code (EU, AS, AF, NA, SA, OC, AN) of a country code, or ''."""
    return countries().get(code, ("", ""))[0]


def country_name(code):
    """'Germany' for 'DE'; the code itself when unknown, '' for ''."""
    return countries().get(code, ("", code))[1]
