"""Country and continent of a visitor's IP address, from a MaxMind-format database.

The default database is npm ``@ip-location-db/geo-whois-asn-country-mmdb`` (CC0), pinned in
``geoip/package.json`` and installed by ``make install``; TRACKER_GEOIP_DB may name another
.mmdb file. Lookups are cached per address; the address itself is never stored.
"""
import logging
from functools import lru_cache

import maxminddb

from ..countries import GEOIP_MODULES, continent_of

DEFAULT_DB = GEOIP_MODULES / "@ip-location-db" / "geo-whois-asn-country-mmdb" / "geo-whois-asn-country.mmdb"
NOWHERE = ("", "")

log = logging.getLogger(__name__)


class GeoLookup:
    """``locate(ip)`` → (country code, continent code), ('', '') when unknown."""

    def __init__(self, path):
        self.path = path
        self._reader = maxminddb.open_database(str(path))
        self.locate = lru_cache(maxsize=65536)(self._locate)

    def _locate(self, ip):
        try:
            record = self._reader.get(ip)
        except ValueError:  # not an IP address (a bad X-Forwarded-For)
            return NOWHERE
        record = record or {}
        # ip-location-db's files say country_code; MaxMind's own (another TRACKER_GEOIP_DB) country.iso_code.
        country = record.get("country_code") or record.get("country", {}).get("iso_code", "")
        return (country, continent_of(country)) if country else NOWHERE

    def close(self):
        self._reader.close()


class NoGeo:
    """Stands in when no database is installed: every address is nowhere."""

    path = None

    def locate(self, ip):
        return NOWHERE

    def close(self):
        pass


def open_geo(path=None):
    """The lookup of ``path`` (a setting), else of the pinned package; NoGeo when that is missing."""
    if path:
        return GeoLookup(path)  # the setting was checked at start-up
    if not DEFAULT_DB.is_file():
        log.warning("country lookups are off: %s is missing (run `make install`)", DEFAULT_DB)
        return NoGeo()
    return GeoLookup(DEFAULT_DB)


def readable_database(path):
    """True when ``path`` opens as a MaxMind database."""
    try:
        maxminddb.open_database(str(path)).close()
        return True
    except (OSError, ValueError, maxminddb.InvalidDatabaseError):
        return False
