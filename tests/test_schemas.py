"""``load_fast`` is the schemas' own load, only quicker: on any input it gives what
``schema.load`` gives, the loaded values or the same error messages."""
from hypothesis import given, settings, strategies as st
from marshmallow import ValidationError

from test_ingest_fuzz import events, json_values
from tracker.ingest.schemas import BATCH, EVENT, PIXEL, load_fast

VALID = {"type": "pageview", "url": "https://example.com/a?utm_source=x", "ref": "https://www.google.com/",
         "ts": 1_700_000_000_000, "eid": "e-1", "sid": "s1", "props": {"plan": "pro", "seats": 3, "trial": True}}


def outcome(load, data):
    try:
        return "loaded", load(data)
    except ValidationError as exc:
        return "refused", exc.messages


def same(schema, data):
    """``load_fast`` and the schema's own load agree on ``data``."""
    return outcome(lambda d: load_fast(schema, d), data) == outcome(schema.load, data)


@settings(max_examples=300, deadline=None)
@given(event=events | st.fixed_dictionaries({}, optional={k: st.just(v) for k, v in VALID.items()}))
def test_an_event_loads_as_the_schema_loads_it(event):
    assert same(EVENT, event)


@settings(max_examples=100, deadline=None)
@given(query=st.dictionaries(st.sampled_from(["site", "type", "name", "uid", "ts", "utm_source", "cb", "props", "x"]),
                             st.text(max_size=20), max_size=5))
def test_a_pixel_loads_as_the_schema_loads_it(query):
    assert same(PIXEL, query)


@settings(max_examples=100, deadline=None)
@given(batch=st.fixed_dictionaries({"site": json_values, "events": st.lists(events, max_size=3) | json_values},
                                   optional={"vid": json_values, "v": st.text(max_size=40)}))
def test_a_batch_loads_as_the_schema_loads_it(batch):
    assert same(BATCH, batch)


def test_a_valid_event_gets_every_default():
    loaded = load_fast(EVENT, dict(VALID))
    assert loaded == EVENT.load(dict(VALID))
    assert loaded["props"] == {"plan": "pro", "seats": "3", "trial": "true"} and loaded["utm_medium"] == ""
