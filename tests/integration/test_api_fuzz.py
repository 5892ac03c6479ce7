"""Hypothesis drives the search and ranking arguments with valid, edge and hostile values: the API
answers every request with data or a client error, never a server error."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from graphql_api.app import create_app
from graphql_api.cursors import encode_cursor
from pipeline.taxonomy import CATEGORY_NAMES
from tests.integration.api_client import gql

pytestmark = pytest.mark.integration
CLIENT_ERRORS = {"BAD_USER_INPUT", "GRAPHQL_VALIDATION_FAILED"}
SEARCH = """query($filter: DealFilter, $sort: DealSort!, $first: Int!, $after: String) {
  deals(filter: $filter, sort: $sort, first: $first, after: $after) {
    edges { cursor node { id price discountPct distanceKm } } pageInfo { hasNextPage endCursor } exhaustive } }"""
MERCHANTS = """query($c: String!, $first: Int!, $after: String) {
  merchants(category: $c, first: $first, after: $after) { nodes { id dealsSold } pageInfo { endCursor } } }"""

numbers = st.one_of(st.none(), st.floats(-1e3, 1e4, allow_nan=False), st.integers(-10, 10**6),
                    st.sampled_from([0, 1, 0.5, 1e308, -0.0]))
categories = st.one_of(st.none(), st.sampled_from(sorted(CATEGORY_NAMES)), st.text(max_size=30))
sorts = st.sampled_from(["BEST_DISCOUNT", "CHEAPEST", "BIGGEST_SAVING", "NEAREST", "WORST"])
cursors = st.one_of(
    st.none(), st.text(max_size=40),
    st.builds(encode_cursor, st.sampled_from(["BEST_DISCOUNT", "CHEAPEST", "NEAREST", "MERCHANTS_BY_DEALS_SOLD"]),
              st.floats(-1e6, 1e6, allow_nan=False) | st.integers(-5, 10**9), st.integers(0, 2**63)),
)
near = st.one_of(st.none(), st.fixed_dictionaries({"lat": st.floats(-100, 100, allow_nan=False),
                                                   "lon": st.floats(-200, 200, allow_nan=False),
                                                   "radiusKm": st.floats(-5, 80, allow_nan=False)}))
filters = st.one_of(st.none(), st.fixed_dictionaries({}, optional={
    "category": categories, "minPrice": numbers, "maxPrice": numbers, "minDiscount": numbers, "near": near,
    "online": st.none() | st.booleans(), "text": st.none() | st.text(max_size=120)}))


@pytest.fixture(scope="module")
def client(api_settings: Any, api_cassandra: Any) -> Iterator[TestClient]:
    with TestClient(create_app(api_settings)) as test_client:
        yield test_client


def assert_no_server_error(body: dict[str, Any]) -> None:
    codes = {error.get("extensions", {}).get("code") for error in body.get("errors", [])}
    assert codes <= CLIENT_ERRORS, body["errors"]


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(filters, sorts, st.integers(-3, 130), cursors)
def test_search_fuzz_finds_no_server_error(client: TestClient, flt: Any, sort: str, first: int, after: Any) -> None:
    assert_no_server_error(gql(client, SEARCH, {"filter": flt, "sort": sort, "first": first, "after": after}))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(categories.filter(lambda c: c is not None), st.integers(-3, 130), cursors)
def test_merchants_fuzz_finds_no_server_error(client: TestClient, category: str, first: int, after: Any) -> None:
    assert_no_server_error(gql(client, MERCHANTS, {"c": category, "first": first, "after": after}))
