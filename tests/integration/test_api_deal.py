"""deal(id) over HTTP against real Cassandra seeded through the pipeline sink: every field equals
the independent expectation (tests/expected.py) computed from the raw payloads."""
from __future__ import annotations

import asyncio
from datetime import UTC, timedelta
from typing import Any

import pytest
from starlette.testclient import TestClient

from graphql_api import repository
from graphql_api.app import create_app
from tests import expected, factories
from tests.integration.api_client import data, gql, http_client, uvicorn_server

pytestmark = pytest.mark.integration

DEAL_QUERY = """
query Deal($id: ID!) {
  deal(id: $id) {
    id title shortTitle price value discountPct saving imageUrl expiresAt merchantName online
    description finePrint numberSold url untrackedUrl providerName advertisedDiscountPct
    isDiscountConsistent createdAt updatedAt
    category { slug name parentSlug parent { slug } }
    merchant { id name address locality region postalCode country phone url }
    location { latitude longitude geohash }
    priceHistory { observedAt price value discountPct }
  }
}"""


def iso(moment: Any) -> str | None:
    return None if moment is None else moment.replace(tzinfo=UTC).isoformat()


def expected_deal(raws: list[dict[str, Any]], deal_id: int) -> dict[str, Any]:
    """The GraphQL answer for one deal, from the raw payloads only."""
    row = expected.deal_row(expected.latest_by_id(raws)[deal_id])
    parent = row["parent_category"]
    versions = sorted((expected.deal_row(r) for r in expected.latest_by_version(raws) if r["id"] == deal_id),
                      key=lambda v: v["updated_at"], reverse=True)
    return {
        "id": str(deal_id), "title": row["title"], "shortTitle": row["short_title"], "price": row["price"],
        "value": row["value"], "discountPct": row["discount_pct"],
        "saving": expected.round_half_up(row["value"] - row["price"], 2), "imageUrl": row["image_url"],
        "expiresAt": iso(row["expires_at"]), "merchantName": row["merchant_name"], "online": row["online"],
        "description": row["description"], "finePrint": row["fine_print"], "numberSold": row["number_sold"],
        "url": row["url"], "untrackedUrl": row["untracked_url"], "providerName": row["provider_name"],
        "advertisedDiscountPct": row["advertised_discount_pct"],
        "isDiscountConsistent": row["is_discount_consistent"], "createdAt": iso(row["created_at"]),
        "updatedAt": iso(row["updated_at"]),
        "category": {"slug": row["category_slug"], "name": row["category_name"],
                     "parentSlug": None if parent == row["category_slug"] else parent,
                     "parent": None if parent == row["category_slug"] else {"slug": parent}},
        "merchant": {"id": str(row["merchant_id"]), "name": row["merchant_name"],
                     "address": row["merchant_address"], "locality": row["merchant_locality"],
                     "region": row["merchant_region"], "postalCode": row["merchant_postal_code"],
                     "country": row["merchant_country"], "phone": row["merchant_phone"], "url": row["merchant_url"]},
        "location": None if row["latitude"] is None else {
            "latitude": row["latitude"], "longitude": row["longitude"], "geohash": row["geohash"]},
        "priceHistory": [{"observedAt": iso(v["updated_at"]), "price": v["price"], "value": v["value"],
                          "discountPct": v["discount_pct"]} for v in versions],
    }


@pytest.fixture(scope="module")
def seeded(seed_api: Any) -> list[dict[str, Any]]:
    """40 deals, plus a newer price for 5 of them (price history of two points)."""
    raws = factories.deals(40, seed=21)
    newer = [dict(raw, price=round(raw["price"] * 0.8, 2),
                  updated_at=factories.iso(factories.BASE_TIME + timedelta(days=2))) for raw in raws[:5]]
    seed_api(raws + newer)
    return raws + newer


def test_deal_by_id_equals_the_input_record(seeded: list[dict[str, Any]], api_settings: Any) -> None:
    ids = sorted({raw["id"] for raw in seeded})
    with TestClient(create_app(api_settings)) as client:
        for deal_id in ids:
            got = data(client, DEAL_QUERY, {"id": str(deal_id)})["deal"]
            assert got == expected_deal(seeded, deal_id)
        assert data(client, DEAL_QUERY, {"id": "999"})["deal"] is None
        bad = gql(client, DEAL_QUERY, {"id": "12ab"})
        assert bad["errors"][0]["message"] == "id: expected a deal id (a positive integer), found '12ab'"
        assert bad["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
        assert len(data(client, DEAL_QUERY, {"id": str(ids[0])})["deal"]["priceHistory"]) == 2


def test_deal_through_real_uvicorn_with_graphiql_and_health(seeded: list[dict[str, Any]], api_settings: Any) -> None:
    deal_id = seeded[7]["id"]
    with uvicorn_server(create_app(api_settings)) as url, http_client(url) as client:
        assert data(client, DEAL_QUERY, {"id": str(deal_id)})["deal"] == expected_deal(seeded, deal_id)
        page = client.get("/graphql", headers={"accept": "text/html"})
        assert page.status_code == 200 and "graphiql" in page.text.lower()
        health = client.get("/healthz")
        assert health.status_code == 200 and health.json() == {"status": "up"}


def test_deals_read_by_key_come_back_in_the_order_asked(seeded: list[dict[str, Any]], api_settings: Any,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """`Repository.rows_by_key` (the DataLoaders' reads): `IN` reads of KEYS_PER_READ keys each, every
    row in the place of its key, None for a key with no row, a repeated key answered twice."""
    monkeypatch.setattr(repository, "KEYS_PER_READ", 7)  # 43 keys: seven reads, the last one short
    latest = expected.latest_by_id(seeded)
    present = sorted(latest)[:20]
    asked = [k for pair in zip(present, range(-1, -21, -1), strict=True) for k in pair] + present[:3]

    async def read() -> list[Any]:
        repo = repository.Repository(api_settings)
        await repo.start()
        try:
            return await repo.deals(asked)
        finally:
            await repo.close()

    got = [None if row is None else (row["deal_id"], row["title"]) for row in asyncio.run(read())]
    assert got == [(k, expected.deal_row(latest[k])["title"]) if k in latest else None for k in asked]
