"""Each limit rejects its attack query with a clear message; inputs are validated naming the field;
unexpected errors are masked; production hides GraphiQL and introspection; CORS and websocket
protocols follow the settings."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from graphql_api.app import create_app
from graphql_api.cursors import encode_cursor
from tests.integration.api_client import gql

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def client(api_settings: Any, api_cassandra: Any) -> Iterator[TestClient]:
    with TestClient(create_app(api_settings)) as test_client:
        yield test_client


def only_error(body: dict[str, Any]) -> dict[str, Any]:
    assert len(body["errors"]) == 1, body
    return body["errors"][0]


def test_depth_limit_rejects_a_deeply_nested_query(client: TestClient) -> None:
    nested = "slug " + "children { parent { " * 5 + "slug" + " } }" * 5
    error = only_error(gql(client, f"{{ categories {{ {nested} }} }}"))
    assert "exceeds maximum operation depth of 8" in error["message"]
    assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"


def test_alias_limit_rejects_many_aliases(client: TestClient) -> None:
    fields = " ".join(f'a{i}: deal(id: "{i + 1}") {{ id }}' for i in range(16))
    error = only_error(gql(client, f"{{ {fields} }}"))
    assert error["message"] == "16 aliases found. Allowed: 15"


def test_token_limit_rejects_a_huge_document(client: TestClient) -> None:
    error = only_error(gql(client, "{ categories { " + "slug " * 2500 + "} }"))
    assert "more than 2000 tokens" in error["message"]


@pytest.mark.parametrize(("arguments", "message"), [
    ("first: 101", "first: must be between 1 and 100, found 101"),
    ("first: 0", "first: must be between 1 and 100, found 0"),
    ("filter: {minPrice: -1}", "filter.minPrice: must be between 0 and 1e+12, found -1.0"),
    ("filter: {minPrice: 20, maxPrice: 10}", "filter.maxPrice: must be at least filter.minPrice (20), found 10"),
    ("filter: {minDiscount: 1.5}", "filter.minDiscount: must be between 0 and 1, found 1.5"),
    ("filter: {category: \"nope\"}", "filter.category: unknown category 'nope'; the `categories` query lists them"),
    ("filter: {near: {lat: 91, lon: 0, radiusKm: 5}}", "filter.near.lat: must be between -90 and 90, found 91.0"),
    ("filter: {near: {lat: 0, lon: 181, radiusKm: 5}}", "filter.near.lon: must be between -180 and 180, found 181.0"),
    ("filter: {near: {lat: 0, lon: 0, radiusKm: 500}}", "filter.near.radiusKm: must be between 0 and 50, found 500.0"),
    ("filter: {near: {lat: 0, lon: 0, radiusKm: 0}}", "filter.near.radiusKm: must be above 0, found 0.0"),
    ("sort: NEAREST", "sort: NEAREST needs filter.near"),
    ("after: \"%%%\"", "after: not a cursor returned by this API"),
    (f"sort: CHEAPEST, after: \"{encode_cursor('BEST_DISCOUNT', 0.5, 1)}\"",
     "after: cursor belongs to order 'BEST_DISCOUNT', not 'CHEAPEST'"),
])
def test_invalid_search_input_names_the_field(client: TestClient, arguments: str, message: str) -> None:
    error = only_error(gql(client, f"{{ deals({arguments}) {{ edges {{ cursor }} }} }}"))
    assert (error["message"], error["extensions"]["code"]) == (message, "BAD_USER_INPUT")


def test_merchants_validate_category_and_page_size(client: TestClient) -> None:
    body = gql(client, '{ merchants(category: "x", first: 5) { nodes { id } } }')
    assert only_error(body)["message"].startswith("category: unknown category 'x'")
    body = gql(client, '{ merchants(category: "gym", first: 500) { nodes { id } } }')
    assert only_error(body)["message"] == "first: must be between 1 and 100, found 500"


def test_unexpected_errors_are_masked(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    async def broken(deal_ids: list[int]) -> None:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(client.app.state.repository, "deals", broken)  # type: ignore[attr-defined]
    error = only_error(gql(client, '{ deal(id: "5") { id } }'))
    assert (error["message"], error["extensions"]["code"]) == ("Unexpected error.", "INTERNAL_SERVER_ERROR")


def test_production_profile_hides_graphiql_and_introspection(api_settings: Any, api_cassandra: Any) -> None:
    production = api_settings.model_copy(update={"api_profile": "production"})
    with TestClient(create_app(production)) as client:
        assert "graphiql" not in client.get("/graphql", headers={"accept": "text/html"}).text.lower()
        errors = gql(client, "{ __schema { queryType { name } } }")["errors"]
        assert "introspection has been disabled" in errors[0]["message"]
        assert "errors" not in gql(client, "{ categories { slug } }")


def test_introspection_and_graphiql_in_dev(client: TestClient) -> None:
    assert "errors" not in gql(client, "{ __schema { queryType { name } } }")
    assert "graphiql" in client.get("/graphql", headers={"accept": "text/html"}).text.lower()


def test_cors_allows_only_configured_origins(api_settings: Any, api_cassandra: Any) -> None:
    settings = api_settings.model_copy(update={"api_cors_origins": ("https://shop.example",)})
    preflight = {"access-control-request-method": "POST", "access-control-request-headers": "content-type"}
    with TestClient(create_app(settings)) as client:
        ok = client.options("/graphql", headers={"origin": "https://shop.example", **preflight})
        assert ok.headers["access-control-allow-origin"] == "https://shop.example"
        evil = client.options("/graphql", headers={"origin": "https://evil.example", **preflight})
        assert evil.status_code == 400 and "access-control-allow-origin" not in evil.headers


def test_only_graphql_transport_ws_is_spoken(client: TestClient) -> None:
    with client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws:
        ws.send_json({"type": "connection_init"})
        assert ws.receive_json()["type"] == "connection_ack"
    with pytest.raises(WebSocketDisconnect) as closed, \
            client.websocket_connect("/graphql", subprotocols=["graphql-ws"]) as ws:
        ws.receive_json()
    assert closed.value.code == 4406
