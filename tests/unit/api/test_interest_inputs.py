"""Validation of saveInterest's input and the alert cursors (no network)."""
from __future__ import annotations

import pytest

from conf.settings import load_settings
from graphql_api.alerts import decode_alert_cursor, encode_alert_cursor
from graphql_api.errors import InvalidInput
from graphql_api.inputs import NearInput
from graphql_api.interests import Delivery, InterestInput, QuietHoursInput, parse_interest
from pipeline.alert_keys import interest_index_keys
from tests import expected

SETTINGS = load_settings()


def test_a_valid_interest_is_normalised_and_indexed_by_its_cells() -> None:
    data = InterestInput(category="restaurants", near=NearInput(lat=43.04, lon=-87.91, radius_km=10),
                         keywords=[" Pizza", "pizza ", ""], delivery=Delivery.HOURLY,
                         quiet_hours=QuietHoursInput(start_hour=22, end_hour=6))
    interest = parse_interest(data, 5, SETTINGS)
    assert interest.keywords == ("pizza",) and interest.quiet_hours == (22, 6) and interest.delivery == "HOURLY"
    assert "g:" + expected.geohash(43.04, -87.91, 4) in interest.index_keys
    assert all(key.startswith("g:") and len(key) == 6 for key in interest.index_keys)
    assert interest_index_keys("spa", None) == ["c:spa"]


@pytest.mark.parametrize(("data", "field"), [
    (InterestInput(category="nope"), "input.category"),
    (InterestInput(max_price=5.0), "input"),
    (InterestInput(category="spa", max_price=float("nan")), "input.maxPrice"),
    (InterestInput(category="spa", min_verified_discount=-0.1), "input.minVerifiedDiscount"),
    (InterestInput(near=NearInput(lat=91, lon=0, radius_km=5)), "input.near.lat"),
    (InterestInput(near=NearInput(lat=89.9, lon=0, radius_km=50)), "input.near"),
    (InterestInput(category="spa", max_per_day=0), "input.maxPerDay"),
    (InterestInput(category="spa", quiet_hours=QuietHoursInput(start_hour=1, end_hour=24)), "input.quietHours.endHour"),
    (InterestInput(category="spa", keywords=["x" * 41]), "input.keywords"),
    (InterestInput(id="not-a-uuid", category="spa"), "input.id"),
])
def test_bad_input_names_the_field(data: InterestInput, field: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        parse_interest(data, 5, SETTINGS)
    assert raised.value.field == field


def test_alert_cursors_round_trip_and_refuse_foreign_ones() -> None:
    assert decode_alert_cursor(encode_alert_cursor((1_700_000_000_000, "abc"))) == (1_700_000_000_000, "abc")
    for bad in ("", "!!", encode_alert_cursor((-1, "x")), "WzEsMiwzXQ"):
        with pytest.raises(InvalidInput):
            decode_alert_cursor(bad)
