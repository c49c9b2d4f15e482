"""The settings table: defaults, overrides, and a clear sentence for a bad value."""
import pytest

from tracker.settings import SETTINGS, SettingsError, describe, load_settings


def test_defaults_mean_the_embedded_store():
    settings = load_settings({})
    assert settings["clickhouse_url"] == "" and settings["flush_seconds"] == 1.0
    assert settings["data_dir"].is_absolute()


def test_environment_and_overrides():
    settings = load_settings({"TRACKER_CLICKHOUSE_URL": "clickhouse://u:p@db:9000/x", "TRACKER_FLUSH_ROWS": "10"},
                             flush_rows=20)
    assert settings["clickhouse_url"] == "clickhouse://u:p@db:9000/x" and settings["flush_rows"] == 20


@pytest.mark.parametrize("name, value, words", [
    ("TRACKER_CLICKHOUSE_URL", "postgres://db", "clickhouse://"),
    ("TRACKER_CLICKHOUSE_URL", "clickhouse://db:port/x", "port"),
    ("TRACKER_FLUSH_SECONDS", "soon", "TRACKER_FLUSH_SECONDS"),
    ("TRACKER_FLUSH_ROWS", "-1", "positive"),
    ("TRACKER_DATABASE", "db; DROP", "letters"),
    ("TRACKER_TRUST_PROXY", "maybe", "true/false"),
])
def test_a_bad_value_stops_start_up_with_a_reason(name, value, words):
    with pytest.raises(SettingsError) as error:
        load_settings({name: value})
    assert name in str(error.value) and words in str(error.value)


def test_unknown_override_is_refused():
    with pytest.raises(SettingsError, match="unknown settings: colour"):
        load_settings({}, colour="blue")


def test_every_setting_is_described():
    text = describe()
    assert all(s.name in text and s.help in text for s in SETTINGS)
