"""The cost budget of the recommendation fields, against estimates worked out by hand."""
from __future__ import annotations

import pytest
from graphql import parse

from conf.settings import load_settings
from graphql_api.cost import estimate_cost
from graphql_api.schema import build_schema

SETTINGS = load_settings()
SCHEMA = build_schema(SETTINGS)._schema


@pytest.mark.parametrize(("document", "cost"), [
    # signed in, no `near`: the fill around a home anywhere is bounded by a 25 km circle at latitude 72:
    # 3 geohash-4 rows x 6 columns = 18 cells; + 9 areas + 2 x 10 deals; the stored list (1), 3 purchase
    # months and its 50 deals: 9 + 18 + 20 + 1 + 3 + 50 = 101
    ("{ viewer { recommendations(first: 10) { reason deal { id } } } }", 101),
    # each listed deal's price history is one more read: + 10
    ("{ viewer { recommendations(first: 10) { deal { priceHistory { price } } } } }", 111),
    # anonymous near a point: a 10 km circle at 40.75 N covers 2 cells; 9 + 2 + 2 x 5 = 21
    ("{ recommendations(near: {lat: 40.75, lon: -73.99, radiusKm: 10}, first: 5) { deal { id } } }", 21),
    # a circle over the cell limit is refused by its resolver: no reads estimated
    ("{ recommendations(near: {lat: 89.9, lon: 0, radiusKm: 50}) { score } }", 0),
])
def test_the_recommendation_estimate(document: str, cost: int) -> None:
    assert estimate_cost(SCHEMA, parse(document), None, {}, SETTINGS) == cost
