"""deals, merchants and categories over HTTP equal an independent plain-Python computation over the
seeded raw payloads, in order; walking the cursors visits every result once."""
from __future__ import annotations

import math
import random
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from graphql_api.app import create_app
from tests import expected, factories
from tests.integration.api_client import data

pytestmark = pytest.mark.integration

MILWAUKEE = (43.0389, -87.9065)
SEARCH = """
query Search($filter: DealFilter, $sort: DealSort!, $first: Int!, $after: String) {
  deals(filter: $filter, sort: $sort, first: $first, after: $after) {
    edges { cursor node { id price value discountPct saving online distanceKm } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    exhaustive
  }
}"""


def seed_payloads() -> list[dict[str, Any]]:
    """Random deals, a cluster around Milwaukee, and ties on price and discount in one category."""
    rng = random.Random(33)
    raws = factories.deals(260, seed=31)
    for i in range(40):
        raw = factories.deal(rng, 5_000_000 + i)
        raw["online"] = False
        raw["merchant"] = factories.merchant(rng, 2000 + i % 7, online=False) | {
            "latitude": round(MILWAUKEE[0] + rng.uniform(-0.6, 0.6), 6),
            "longitude": round(MILWAUKEE[1] + rng.uniform(-0.6, 0.6), 6)}
        raws.append(raw)
    for i in range(9):  # nine ties: same price, value and discount
        raws.append(factories.deal(rng, 6_000_000 + i, price=50.0, value=100.0, discount_percentage=0.5,
                                   category_slug="gym", category_name="gym"))
    return raws


@pytest.fixture(scope="module")
def rows(seed_api: Any) -> list[dict[str, Any]]:
    raws = seed_payloads()
    seed_api(raws)
    return [expected.deal_row(raw) for raw in expected.latest_by_id(raws).values()]


@pytest.fixture(scope="module")
def client(rows: Any, api_settings: Any) -> Iterator[TestClient]:
    with TestClient(create_app(api_settings)) as test_client:
        yield test_client


def km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2, dl = math.radians(lat1), math.radians(lat2), math.radians(lon2 - lon1)
    cos_angle = math.sin(p1) * math.sin(p2) + math.cos(p1) * math.cos(p2) * math.cos(dl)
    return 6371.0088 * math.acos(max(-1.0, min(1.0, cos_angle)))


def oracle(rows: list[dict[str, Any]], flt: dict[str, Any], sort: str) -> list[tuple[int, float | None]]:
    """(deal id, distance) of every matching deal in the documented order."""
    near = flt.get("near")
    found = []
    for r in rows:
        saving = expected.round_half_up(r["value"] - r["price"], 2)
        if "category" in flt and flt["category"] not in (r["category_slug"], r["parent_category"]):
            continue
        if not flt.get("minPrice", 0) <= r["price"] <= flt.get("maxPrice", math.inf):
            continue
        if r["discount_pct"] < flt.get("minDiscount", 0) or flt.get("online", r["online"]) != r["online"]:
            continue
        text = flt.get("text", "").lower()
        if text and text not in r["title"].lower() and text not in (r["merchant_name"] or "").lower():
            continue
        dist = None
        if near:
            if r["latitude"] is None:
                continue
            dist = km(near["lat"], near["lon"], r["latitude"], r["longitude"])
            if dist > near["radiusKm"]:
                continue
        key = {"BEST_DISCOUNT": -r["discount_pct"], "CHEAPEST": r["price"], "BIGGEST_SAVING": -saving,
               "NEAREST": dist}[sort]
        found.append(((key, r["deal_id"]), (r["deal_id"], dist)))
    return [item for _, item in sorted(found, key=lambda pair: pair[0])]


def walk(client: TestClient, flt: dict[str, Any], sort: str, first: int) -> list[dict[str, Any]]:
    """Every node of a search, page by page through endCursor; checks page sizes and flags."""
    nodes, after, pages = [], None, 0
    while True:
        page = data(client, SEARCH, {"filter": flt, "sort": sort, "first": first, "after": after})["deals"]
        assert page["exhaustive"] is True
        assert page["pageInfo"]["hasPreviousPage"] is (after is not None)
        nodes += [edge["node"] for edge in page["edges"]]
        pages += 1
        if not page["pageInfo"]["hasNextPage"]:
            return nodes
        assert len(page["edges"]) == first and page["pageInfo"]["endCursor"] == page["edges"][-1]["cursor"]
        after = page["pageInfo"]["endCursor"]
        assert pages < 200


SCENARIOS = [
    ({}, "BEST_DISCOUNT"),
    ({"category": "product", "minPrice": 20, "maxPrice": 200, "minDiscount": 0.3}, "BEST_DISCOUNT"),
    ({"category": "gym"}, "BEST_DISCOUNT"),
    ({"category": "fitness", "minDiscount": 0.2}, "CHEAPEST"),
    ({"online": False, "maxPrice": 120}, "CHEAPEST"),
    ({"category": "health-beauty"}, "BIGGEST_SAVING"),
    ({"online": True}, "BEST_DISCOUNT"),
    ({"online": True, "category": "electronics"}, "CHEAPEST"),
    ({"online": True}, "BIGGEST_SAVING"),
    ({"text": "online store 10"}, "BEST_DISCOUNT"),
    ({"near": {"lat": MILWAUKEE[0], "lon": MILWAUKEE[1], "radiusKm": 45}}, "NEAREST"),
    ({"near": {"lat": MILWAUKEE[0], "lon": MILWAUKEE[1], "radiusKm": 50}, "minDiscount": 0.4}, "CHEAPEST"),
    ({"near": {"lat": 43.3, "lon": -88.2, "radiusKm": 30}, "category": "product"}, "NEAREST"),
]


@pytest.mark.parametrize(("flt", "sort"), SCENARIOS)
def test_walking_a_search_returns_the_oracle_order(client: TestClient, rows: Any, flt: Any, sort: str) -> None:
    want = oracle(rows, flt, sort)
    assert want, "scenario should match some deals"
    nodes = walk(client, flt, sort, first=7)
    assert [int(n["id"]) for n in nodes] == [deal_id for deal_id, _ in want]
    by_id = {r["deal_id"]: r for r in rows}
    for node, (deal_id, dist) in zip(nodes, want, strict=True):
        row = by_id[deal_id]
        assert (node["price"], node["value"], node["discountPct"], node["online"]) == (
            row["price"], row["value"], row["discount_pct"], row["online"])
        assert node["saving"] == expected.round_half_up(row["value"] - row["price"], 2)
        assert (node["distanceKm"] is None) is (dist is None)
        if dist is not None:
            assert node["distanceKm"] == pytest.approx(dist, abs=1e-6)


def test_one_category_page_is_one_cql_request(client: TestClient, rows: Any) -> None:
    repo = client.app.state.repository  # type: ignore[attr-defined]
    before = repo.requests
    page = data(client, SEARCH, {"filter": {"category": "product", "minDiscount": 0.1},
                                 "sort": "BEST_DISCOUNT", "first": 50})["deals"]
    assert len(page["edges"]) == 50 and repo.requests - before == 1


def test_detail_fields_of_search_results_come_from_deals_by_id(client: TestClient, rows: Any) -> None:
    query = """{ deals(filter: {category: "gym"}, first: 3) {
        nodes { id description merchant { name } category { slug } } } }"""
    by_id = {r["deal_id"]: r for r in rows}
    for node in data(client, query)["deals"]["nodes"]:
        row = by_id[int(node["id"])]
        assert node == {"id": node["id"], "description": row["description"],
                        "merchant": {"name": row["merchant_name"]}, "category": {"slug": row["category_slug"]}}


def test_merchant_ranking_pages_equal_the_oracle(client: TestClient, rows: Any) -> None:
    query = """query M($c: String!, $after: String) { merchants(category: $c, first: 4, after: $after) {
        nodes { id name dealsSold dealCount } pageInfo { hasNextPage endCursor } } }"""
    ranking = expected.merchant_ranking(rows)
    for category in ("product", "gym", "restaurants"):
        want = sorted((-sold, mid, count) for cat, sold, mid, count in ranking if cat == category)
        got, after = [], None
        while True:
            page = data(client, query, {"c": category, "after": after})["merchants"]
            got += [(-n["dealsSold"], int(n["id"]), n["dealCount"]) for n in page["nodes"]]
            if not page["pageInfo"]["hasNextPage"]:
                break
            after = page["pageInfo"]["endCursor"]
        assert got == want


def test_category_tree_counts_the_listed_deals(client: TestClient, rows: Any) -> None:
    tree = data(client, "{ categories { slug dealCount children { slug dealCount parent { slug } } } }")
    counts = {}
    for parent in tree["categories"]:
        counts[parent["slug"]] = parent["dealCount"]
        for child in parent["children"]:
            assert child["parent"]["slug"] == parent["slug"]
            counts[child["slug"]] = child["dealCount"]
    want = {slug: sum(1 for r in rows if slug in (r["category_slug"], r["parent_category"])) for slug in counts}
    assert counts == want and len(counts) == 79
