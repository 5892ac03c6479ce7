"""Deal.score, Deal.sameOffer, the verified sorts and merchants(sort: HONESTY) over HTTP against real
Cassandra seeded through the pipeline sink, each equal to the plain-Python oracle of the raw deals."""
from __future__ import annotations

import random
from typing import Any

import pytest
from starlette.testclient import TestClient

from graphql_api.app import create_app
from pipeline.score_rules import ScoreRules
from tests import expected, factories
from tests.integration.api_client import data, gql
from tests.market_factories import market
from tests.score_oracle import scores_of_rows

pytestmark = pytest.mark.integration
SCORE = "score { verifiedDiscountPct advertisedDiscountPct referencePrice referenceKind verifiedSaving " \
        "isGenuine flags explanation }"


@pytest.fixture(scope="module")
def seeded(seed_api: Any) -> dict[int, dict[str, Any]]:
    """The market plus 30 catalog deals; returns each deal's row with its oracle score."""
    raws = market(random.Random(41)) + factories.deals(30, seed=42)
    seed_api(raws)
    rows = {r["id"]: expected.deal_row(r) for r in raws}
    for score in scores_of_rows(list(rows.values()), ScoreRules()):
        rows[score["deal_id"]]["score"] = score
    return rows


def as_api(score: dict[str, Any]) -> dict[str, Any]:
    return {"verifiedDiscountPct": score["verified_discount_pct"], "isGenuine": score["is_genuine"],
            "advertisedDiscountPct": score["advertised_discount_pct"], "referencePrice": score["reference_price"],
            "referenceKind": score["reference_kind"], "verifiedSaving": score["verified_saving"],
            "flags": score["flags"], "explanation": score["explanation"]}


def test_every_deal_serves_its_score_and_same_offer(seeded: dict[int, dict[str, Any]], api_settings: Any) -> None:
    query = f"query($id: ID!) {{ deal(id: $id) {{ {SCORE} sameOffer {{ lowestPrice highestPrice "\
            "sellers { dealId price } } } }"
    with TestClient(create_app(api_settings)) as client:
        for deal_id, row in seeded.items():
            got = data(client, query, {"id": str(deal_id)})["deal"]
            assert got["score"] == as_api(row["score"]), deal_id
            key = row["score"]["item_key"]
            sellers = sorted((r["price"], i) for i, r in seeded.items() if key and r["score"]["item_key"] == key)
            want = None if not sellers else {"lowestPrice": sellers[0][0], "highestPrice": sellers[-1][0],
                                             "sellers": [{"dealId": str(i), "price": p} for p, i in sellers]}
            assert got["sameOffer"] == want, deal_id


@pytest.mark.parametrize(("sort", "column"), [("VERIFIED_DISCOUNT", "verified_discount_pct"),
                                              ("BIGGEST_VERIFIED_SAVING", "verified_saving")])
def test_verified_sorts_page_through_in_order(seeded: dict[int, dict[str, Any]], api_settings: Any,
                                              sort: str, column: str) -> None:
    query = """query($sort: DealSort!, $after: String, $min: Float) {
      deals(filter: {category: "product", minVerifiedDiscount: $min}, sort: $sort, first: 4, after: $after) {
        nodes { id score { verifiedDiscountPct } } pageInfo { hasNextPage endCursor } } }"""
    in_product = [(i, r["score"]) for i, r in seeded.items() if "product" in (r["category_slug"], r["parent_category"])]
    for minimum in (None, 0.1):
        want = [str(i) for i, s in sorted(in_product, key=lambda p: (-p[1][column], p[0]))
                if minimum is None or s["verified_discount_pct"] >= minimum]
        got, after = [], None
        with TestClient(create_app(api_settings)) as client:
            while True:
                page = data(client, query, {"sort": sort, "after": after, "min": minimum})["deals"]
                got += [n["id"] for n in page["nodes"]]
                if not page["pageInfo"]["hasNextPage"]:
                    break
                after = page["pageInfo"]["endCursor"]
        assert got == want


@pytest.mark.parametrize("sort", ["VERIFIED_DISCOUNT", "BIGGEST_VERIFIED_SAVING"])
def test_a_verified_sort_page_is_one_cql_request(seeded: dict[int, dict[str, Any]], api_settings: Any,
                                                  sort: str) -> None:
    """A page of a verified sort reads one partition of its sort table, like the other sorts."""
    query = """query($sort: DealSort!) { deals(filter: {category: "product", minVerifiedDiscount: 0.05}, sort: $sort,
      first: 4) { nodes { id } } }"""
    with TestClient(create_app(api_settings)) as client:
        repo = client.app.state.repository  # type: ignore[attr-defined]
        before = repo.requests
        nodes = data(client, query, {"sort": sort})["deals"]["nodes"]
        assert nodes and repo.requests - before == 1


def test_min_verified_discount_needs_a_verified_sort(api_settings: Any, seeded: Any) -> None:
    with TestClient(create_app(api_settings)) as client:
        bad = gql(client, '{ deals(filter: {minVerifiedDiscount: 0.2}, sort: CHEAPEST) { nodes { id } } }')
    assert bad["errors"][0]["message"].startswith("filter.minVerifiedDiscount: needs sort VERIFIED_DISCOUNT")


def test_merchants_by_honesty(seeded: dict[int, dict[str, Any]], api_settings: Any) -> None:
    totals: dict[int, list[int]] = {}
    for row in seeded.values():
        if "spa" in (row["category_slug"], row["parent_category"]):
            acc = totals.setdefault(row["merchant_id"], [0, 0])
            acc[0], acc[1] = acc[0] + 1, acc[1] + int(row["score"]["is_genuine"])
    want = [{"id": str(m), "honesty": {"scoredDeals": n, "honestShare": round(g / n, 4)}}
            for m, (n, g) in sorted(totals.items(), key=lambda t: (-round(t[1][1] / t[1][0], 4), t[0]))]
    query = ('{ merchants(category: "spa", sort: HONESTY, first: 50) '
             '{ nodes { id honesty { scoredDeals honestShare } } } }')
    with TestClient(create_app(api_settings)) as client:
        assert data(client, query)["merchants"]["nodes"] == want
