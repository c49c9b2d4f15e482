"""The API's query strings: the formats a time may take, the defaults, and 400s naming the field."""
from datetime import datetime, timezone

import pytest

from tracker.api.params import FunnelArgs, PeopleArgs, SearchArgs, load_args
from tracker.clock import DAY_MS
from tracker.errors import ApiError

NOON = int(datetime(2024, 3, 5, 12, tzinfo=timezone.utc).timestamp() * 1000)
DAY_START = int(datetime(2024, 3, 5, tzinfo=timezone.utc).timestamp() * 1000)


@pytest.mark.parametrize("text, expected", [
    (str(NOON), NOON),
    ("2024-03-05T12:00:00Z", NOON),
    ("2024-03-05T12:00:00", NOON),  # no zone: UTC
    ("2024-03-05T13:00:00+01:00", NOON),
    ("2024-03-05", DAY_START),
])
def test_a_time_as_unix_ms_a_day_or_iso_8601(text, expected):
    assert load_args(PeopleArgs(), {"from": text, "as_of": str(NOON + DAY_MS)})["start"] == expected


def test_a_day_as_the_end_of_a_range_is_the_whole_day():
    query = load_args(FunnelArgs(), {"from": "2024-03-05", "to": "2024-03-05", "as_of": "2024-04-01"})
    assert (query["start"], query["end"]) == (DAY_START, DAY_START + DAY_MS - 1)


def test_funnel_defaults_to_the_30_whole_days_up_to_as_of():
    query = load_args(FunnelArgs(), {"as_of": str(NOON), "ignored": "x"})
    first_day = int(datetime(2024, 2, 5, tzinfo=timezone.utc).timestamp() * 1000)  # 29 days before March 5
    assert query == {"start": first_day, "end": NOON, "as_of": NOON, "breakdown": None}


@pytest.mark.parametrize("schema, args, field, reason", [
    (FunnelArgs, {"from": "yesterday"}, "from", "expected YYYY-MM-DD, an ISO 8601 time or Unix milliseconds"),
    (FunnelArgs, {"from": "2024-03-06", "to": "2024-03-05"}, "from", "after 'to' (or after as_of)"),
    (FunnelArgs, {"breakdown": "ip_hash"}, "breakdown", None),
    (PeopleArgs, {"limit": "many"}, "limit", "not a whole number"),
    (PeopleArgs, {"limit": "501"}, "limit", "must be between 1 and 500"),
    (PeopleArgs, {"status": "lost"}, "status", None),
    (PeopleArgs, {"cursor": "zzz"}, "cursor", "not a cursor of this list"),
    (SearchArgs, {"q": " a "}, "q", "at least 2 characters"),
    (SearchArgs, {}, "q", "at least 2 characters"),
])
def test_a_bad_value_is_a_400_naming_the_field(schema, args, field, reason):
    with pytest.raises(ApiError) as caught:
        load_args(schema(), args)
    assert caught.value.status == 400 and list(caught.value.fields) == [field]
    if reason:
        assert caught.value.fields[field] == reason


def test_search_text_is_trimmed():
    assert load_args(SearchArgs(), {"q": "  ann@  "}) == {"q": "ann@", "limit": 20}
