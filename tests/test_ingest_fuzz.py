"""Property tests: arbitrary bodies, parameters and headers never get a 5xx; the pixel is always a GIF."""
import json

from hypothesis import HealthCheck, given, settings, strategies as st

from tracker.ingest.views import GIF

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12)
event_keys = st.sampled_from(["type", "name", "url", "ref", "ts", "eid", "uid", "vid", "sid", "props",
                              "traits", "title", "screen", "utm_source", "channel", "ua"])
events = st.dictionaries(event_keys, json_values, max_size=6)
bodies = st.one_of(
    st.binary(max_size=300),
    st.text(max_size=300).map(str.encode),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.fixed_dictionaries({"site": json_values, "vid": json_values,
                           "events": st.lists(events, max_size=5) | json_values}).map(lambda v: json.dumps(v).encode()),
)
header_values = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=60)
headers = st.dictionaries(st.sampled_from(["User-Agent", "Content-Type", "Authorization", "X-Forwarded-For",
                                           "Origin", "Referer", "Accept-Language"]), header_values, max_size=4)
params = st.dictionaries(st.sampled_from(["site", "type", "name", "url", "ref", "vid", "uid", "eid", "ts",
                                          "utm_source", "p.plan", "t.email", "cb", "x"]) | st.text(max_size=10),
                         st.text(max_size=80), max_size=6)


@FUZZ
@given(body=bodies, headers=headers)
def test_collect_never_fails_with_5xx(client, site, body, headers):
    response = client.post("/collect", data=body, headers=headers)
    assert response.status_code < 500, response.data
    assert response.is_json


@FUZZ
@given(body=bodies, headers=headers, with_secret=st.booleans())
def test_server_api_never_fails_with_5xx(client, site, body, headers, with_secret):
    if with_secret:
        headers = dict(headers, Authorization="Bearer " + site["secret"])
    response = client.post("/api/v1/touchpoints", data=body, headers=headers)
    assert response.status_code < 500, response.data


@FUZZ
@given(query=params, headers=headers, known_site=st.booleans())
def test_pixel_is_always_a_gif(client, site, query, headers, known_site):
    if known_site:
        query = dict(query, site=site["site"])
    response = client.get("/p.gif", query_string=query, headers=headers)
    assert response.status_code == 200
    assert response.data == GIF and response.mimetype == "image/gif"
