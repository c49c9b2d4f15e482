"""The OpenAPI document: valid OpenAPI 3, every route of the api blueprint in it, its query
parameters those of the schemas that parse requests, its bodies those of real answers."""
import re

import pytest
from openapi_spec_validator import validate

from test_api_journeys import auth, journey, story  # noqa: F401  (fixtures)
from tracker.api import schemas
from tracker.ingest.channels import CHANNELS
from tracker.journeys.engine import STATUSES
from tracker.journeys.rules import BREAKDOWNS, RULE_FIELDS


@pytest.fixture
def document(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    return response.json


def test_it_is_valid_openapi_3(document):
    validate(document)
    assert document["openapi"].startswith("3.") and document["servers"] == [{"url": "/api/v1"}]


def test_every_route_of_the_api_is_described(app, document):
    routes = [(re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule.removeprefix("/api/v1")), method.lower())
              for rule in app.url_map.iter_rules() if rule.endpoint.startswith("api.")
              for method in rule.methods - {"HEAD", "OPTIONS"}]
    assert {("/sites/{site}/journeys/{journey_id}/funnel", "get"),
            ("/sites/{site}/journeys/{journey_id}/transitions", "get")} <= set(routes)
    for path, method in routes:
        assert method in document["paths"].get(path, {}), (path, method)
        assert document["paths"][path][method]["summary"]


def _query(document, path):
    return {p["name"]: p for p in document["paths"][path]["get"]["parameters"] if p["in"] == "query"}


def test_query_parameters_are_those_the_api_parses(document):
    funnel = _query(document, "/sites/{site}/journeys/{journey_id}/funnel")
    assert set(funnel) == {"from", "to", "as_of", "breakdown"}
    assert funnel["breakdown"]["schema"]["enum"] == list(BREAKDOWNS)
    people = _query(document, "/sites/{site}/journeys/{journey_id}/people")
    assert set(people) == {"stage", "status", "as_of", "order", "limit", "cursor", "from", "to"}
    assert people["status"]["schema"]["enum"] == list(STATUSES)
    assert people["limit"]["schema"]["maximum"] == 500
    search = _query(document, "/sites/{site}/people")
    assert set(search) == {"q", "limit"} and search["q"]["required"]


def test_journey_definitions_are_described_by_their_schema(document):
    components = document["components"]["schemas"]
    match = components["Match"]["properties"]
    assert set(match) == set(RULE_FIELDS)
    assert match["channel"]["enum"] == list(CHANNELS)
    put = document["paths"]["/sites/{site}/journeys/{journey_id}"]["put"]
    assert put["requestBody"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Journey"}


def test_answers_are_what_the_document_says(client, site, token, journey, story):
    base = f"/api/v1/sites/{site['site']}"
    for path, schema in [("/journeys", schemas.JourneyListSchema),
                         ("/journeys/booking", schemas.StoredJourneySchema),
                         ("/journeys/booking/funnel?breakdown=channel", schemas.FunnelSchema),
                         ("/journeys/booking/people?status=reached&limit=1", schemas.PeoplePageSchema),
                         ("/people?q=ann", schemas.SearchResultSchema),
                         ("/people/ann", schemas.PersonPageSchema)]:
        response = client.get(base + path, headers=auth(token))
        assert response.status_code == 200, path
        assert schema().validate(response.json) == {}, path
    failed = client.get(base + "/journeys/booking/people?stage=x", headers=auth(token))
    assert schemas.ErrorSchema().validate(failed.json) == {}
