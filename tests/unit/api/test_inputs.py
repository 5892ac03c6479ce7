"""Validation of search arguments: every message names the argument."""
from __future__ import annotations

import pytest

from conf.settings import load_settings
from graphql_api.errors import InvalidInput
from graphql_api.inputs import DealFilter, DealSort, NearInput, parse_deal_id, parse_deal_query

SETTINGS = load_settings()


def parse(**kwargs: object) -> object:
    sort = kwargs.pop("sort", DealSort.BEST_DISCOUNT)
    first = kwargs.pop("first", 20)
    return parse_deal_query(DealFilter(**kwargs), sort, first, None, SETTINGS)  # type: ignore[arg-type]


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"min_price": -0.01}, "filter.minPrice"),
    ({"min_price": 5, "max_price": 4}, "filter.maxPrice"),
    ({"max_price": float("inf")}, "filter.maxPrice"),
    ({"min_discount": -0.1}, "filter.minDiscount"),
    ({"min_discount": float("nan")}, "filter.minDiscount"),
    ({"category": "Restaurants"}, "filter.category"),
    ({"near": NearInput(lat=-90.5, lon=0, radius_km=1)}, "filter.near.lat"),
    ({"near": NearInput(lat=0, lon=-180.5, radius_km=1)}, "filter.near.lon"),
    ({"near": NearInput(lat=0, lon=0, radius_km=-1)}, "filter.near.radiusKm"),
    ({"text": "x" * 101}, "filter.text"),
    ({"sort": DealSort.NEAREST}, "sort"),
    ({"first": 101}, "first"),
])
def test_bad_input_names_its_field(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        parse(**kwargs)
    assert raised.value.field == field and str(raised.value).startswith(f"{field}: ")


def test_valid_search_is_normalised() -> None:
    query = parse(category="gym", min_price=1, max_price=2, text="  Yoga ", near=NearInput(lat=1, lon=2, radius_km=3))
    assert (query.category, query.min_price, query.max_price, query.text) == ("gym", 1, 2, "yoga")  # type: ignore[attr-defined]


@pytest.mark.parametrize("raw", ["0", "-1", "abc", "1.5", "²", "9" * 30, ""])
def test_bad_deal_ids(raw: str) -> None:
    with pytest.raises(InvalidInput, match="^id: expected a deal id"):
        parse_deal_id(raw, field="id")
