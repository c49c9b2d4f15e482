"""Country and continent of an IP address from the pinned database (installed by make install)."""
import pytest

from tracker.countries import continent_of, country_name
from tracker.ingest.geo import DEFAULT_DB, NoGeo, open_geo, readable_database
from tracker.settings import SettingsError, load_settings


@pytest.fixture(scope="module")
def geo():
    assert DEFAULT_DB.is_file(), "run `make install`: it installs geoip/ (npm ci)"
    lookup = open_geo()
    yield lookup
    lookup.close()


@pytest.mark.parametrize("ip, expected", [
    ("81.2.69.160", ("GB", "EU")), ("8.8.8.8", ("US", "NA")), ("2a00:1450:4001::1", ("IE", "EU")),
    ("127.0.0.1", ("", "")), ("10.1.2.3", ("", "")), ("not an address", ("", "")), ("", ("", "")),
])
def test_locate(geo, ip, expected):
    assert geo.locate(ip) == expected


def test_lookups_are_cached(geo):
    geo.locate("81.2.69.161")
    geo.locate("81.2.69.161")
    assert geo.locate.cache_info().hits >= 1


def test_country_names_and_continents():
    assert (country_name("DE"), continent_of("DE"), country_name(""), country_name("ZZ")) == ("Germany", "EU", "", "ZZ")


def test_a_setting_may_name_another_database(tmp_path):
    assert readable_database(DEFAULT_DB)
    assert load_settings({}, geoip_db=str(DEFAULT_DB))["geoip_db"] == str(DEFAULT_DB)
    bad = tmp_path / "x.mmdb"
    bad.write_text("not a database")
    with pytest.raises(SettingsError, match="TRACKER_GEOIP_DB"):
        load_settings({"TRACKER_GEOIP_DB": str(bad)})


def test_without_a_database_every_address_is_nowhere():
    assert NoGeo().locate("81.2.69.160") == ("", "")
