"""The rule vocabulary, mirrored: every entry of RULES and BREAKDOWNS is tested here, on both backends."""
import pytest

from tracker.ingest.touchpoints import EVENT_COLUMNS
from tracker.journeys.rules import BREAKDOWNS, RULES, Params, glob_regex, rule_sql

# name → (touchpoint fields, value, key, expected match)
CASES = {
    "type": [({"type": "purchase"}, "purchase", None, True), ({"type": "pageview"}, "purchase", None, False)],
    "name": [({"name": "signup"}, "signup", None, True), ({"name": "signups"}, "signup", None, False)],
    "path": [({"path": "/a/b"}, "/a/b", None, True), ({"path": "/a/b/"}, "/a/b", None, False)],
    "path_glob": [({"path": "/blog/x/y"}, glob_regex("/blog/*"), None, True),
                  ({"path": "/blogs"}, glob_regex("/blog/*"), None, False),
                  ({"path": "/a.b"}, glob_regex("/a.b"), None, True), ({"path": "/axb"}, glob_regex("/a.b"), None, False)],
    "channel": [({"channel": "email"}, "email", None, True), ({"channel": "paid"}, "email", None, False)],
    "utm_source": [({"utm_source": "nl"}, "nl", None, True), ({"utm_source": ""}, "nl", None, False)],
    "utm_medium": [({"utm_medium": "cpc"}, "cpc", None, True), ({"utm_medium": "x"}, "cpc", None, False)],
    "utm_campaign": [({"utm_campaign": "spring"}, "spring", None, True), ({"utm_campaign": "sp"}, "spring", None, False)],
    "prop": [({"prop_keys": ["plan"], "prop_values": ["pro"]}, "pro", "plan", True),
             ({"prop_keys": ["plan"], "prop_values": ["free"]}, "pro", "plan", False),
             ({"prop_keys": [], "prop_values": []}, "", "plan", False)],
}


def test_every_rule_has_cases():
    assert set(CASES) == set(RULES)


def _row(fields):
    values = dict.fromkeys(EVENT_COLUMNS, "")
    values.update(event_time=1_700_000_000, received_at=1_700_000_000, event_ms=0, is_bot=0,
                  prop_keys=[], prop_values=[], site="s", event_id="e")
    values.update(fields)
    return tuple(values[c] for c in EVENT_COLUMNS)


@pytest.mark.parametrize("name, fields, value, key, expected",
                         [(n, *case) for n, cases in CASES.items() for case in cases])
def test_rule(store, name, fields, value, key, expected):
    store.execute("TRUNCATE TABLE events")
    store.insert("events", EVENT_COLUMNS, [_row(fields)])
    params = Params()
    sql = RULES[name].format(value=params.add(value), key=params.add(key) if key else "")
    assert bool(store.query(f"SELECT {sql} FROM events", params.values).scalar()) is expected


@pytest.mark.parametrize("name", sorted(BREAKDOWNS))
def test_breakdown_is_a_column(store, name):
    store.insert("events", EVENT_COLUMNS, [_row({"channel": "email", "browser": "Firefox"})])
    store.query(f"SELECT {BREAKDOWNS[name]} FROM events")


def test_rule_sql_binds_every_value():
    params = Params()
    sql = rule_sql({"path": "/x'; DROP TABLE events; --*", "props": {"k'": "v"}}, params)
    assert "DROP" not in sql and "'" not in sql
    assert sql == "(match(path, %(p0)s) AND (has(prop_keys, %(p2)s) AND prop_values[indexOf(prop_keys, %(p2)s)] = %(p1)s))"


def test_every_rule_field_has_a_template_and_a_schema_field():
    from tracker.journeys.definitions import MatchSchema
    from tracker.journeys.rules import RULE_FIELDS

    assert set(MatchSchema().fields) == set(RULE_FIELDS)
    assert {"prop" if f == "props" else f for f in RULE_FIELDS} <= set(RULES)


def test_a_rule_names_a_channel_that_ingest_assigns():
    from tracker.ingest.channels import CHANNELS
    from tracker.journeys.definitions import DefinitionError, validate_definition

    def journey(channel):
        return {"name": "j", "stages": [{"name": "a", "match": {"channel": channel}}]}

    for channel in CHANNELS:
        validate_definition(journey(channel))
    with pytest.raises(DefinitionError) as refused:
        validate_definition(journey("emial"))  # a typo would match nobody, silently
    assert list(refused.value.fields) == ["stages.0.match.channel"]


def test_every_people_list_status_has_a_condition():
    from tracker.journeys.engine import STATUSES, Query, status_sql

    journey = {"name": "j", "window_days": 1, "stall_after_days": 1, "stages": [{"name": "a", "match": {"type": "x"}}]}
    assert set(status_sql(Query(journey, "s", 0, 1, 1), 1)) == set(STATUSES)
