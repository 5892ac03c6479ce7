"""The answer cache over real Cassandra: a hot anonymous query is executed once per TTL, its
staleness is bounded by the TTL, and per-user requests, errors and `no-cache` always execute."""
from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from conf.settings import Settings
from graphql_api.app import create_app
from graphql_api.auth import create_token

pytestmark = pytest.mark.integration
TTL_S = 1.5
DEAL_ID = 990_000_001  # far from every seeded id: the API modules' seeding never touches it
QUERY = {"query": "query($id: ID!) { deal(id: $id) { id title } }", "variables": {"id": str(DEAL_ID)}}


@pytest.fixture(scope="module")
def cache_settings(api_settings: Settings) -> Settings:
    return api_settings.model_copy(update={"api_response_cache_s": TTL_S})


@pytest.fixture(scope="module")
def cassandra(api_cassandra: Any) -> Any:
    """The API tests' keyspace session: the cache settings differ only in the TTL."""
    return api_cassandra


@pytest.fixture(scope="module")
def client(cache_settings: Settings, cassandra: Any) -> Iterator[TestClient]:
    with TestClient(create_app(cache_settings)) as test_client:
        yield test_client


def set_title(cassandra: Any, title: str) -> None:
    cassandra.execute("INSERT INTO deals_by_id (deal_id, title, price, value, discount_pct, category_slug) "
                      "VALUES (%s, %s, 10.0, 20.0, 0.5, 'restaurants')", (DEAL_ID, title))


def ask(client: TestClient, headers: dict[str, str] | None = None, body: dict[str, Any] = QUERY) -> tuple[Any, int]:
    """The answer and the CQL requests the API sent for it."""
    repo = client.app.state.repository  # type: ignore[attr-defined]
    before = repo.requests
    response = client.post("/graphql", json=body, headers=headers or {})
    assert response.status_code == 200, response.text
    return response.json(), repo.requests - before


def test_a_repeated_query_is_served_without_reads_until_the_ttl_ends(client: TestClient, cassandra: Any) -> None:
    set_title(cassandra, "first title")
    time.sleep(TTL_S)  # nothing cached from an earlier test
    first, first_reads = ask(client)
    assert first["data"]["deal"]["title"] == "first title" and first_reads >= 1
    set_title(cassandra, "second title")
    again, again_reads = ask(client)
    assert (again, again_reads) == (first, 0)  # stale, but by less than the TTL
    time.sleep(TTL_S + 0.1)
    later, later_reads = ask(client)
    assert later["data"]["deal"]["title"] == "second title" and later_reads >= 1


def test_no_cache_and_signed_in_requests_always_execute(client: TestClient, cassandra: Any,
                                                        cache_settings: Settings) -> None:
    set_title(cassandra, "cached")
    ask(client)
    set_title(cassandra, "fresh")
    bypass, bypass_reads = ask(client, {"cache-control": "no-cache"})
    assert bypass["data"]["deal"]["title"] == "fresh" and bypass_reads >= 1
    token = {"authorization": f"Bearer {create_token(cache_settings, 7)}"}
    for _ in range(2):
        signed_in, reads = ask(client, token)
        assert signed_in["data"]["deal"]["title"] == "fresh" and reads >= 1


def test_errors_are_never_cached(client: TestClient) -> None:
    bad = {"query": "query($id: ID!) { deal(id: $id) { id } }", "variables": {"id": "not-a-number"}}
    for _ in range(2):
        body, _reads = ask(client, body=bad)
        assert body["errors"]
