"""Live activity types: trending categories, sales per second, the purchase feed, map cells and
merchants ranked by live sales. Each is built from rows of one activity table (`from_row`)."""
from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any

import strawberry

from graphql_api.convert import utc
from graphql_api.repository import Row
from pipeline.definitions import TREND_WINDOWS, score_formula
from pipeline.taxonomy import CATEGORY_NAMES, PARENT_OF


@strawberry.enum(description="How far back `trending` looks.")
class TrendWindow(Enum):
    _value_: str  # each member's value is the string given to `enum_value` (strawberry unwraps it)

    TEN_SECONDS = strawberry.enum_value("TEN_SECONDS", description="The last 10 s (ten 1 s buckets).")
    ONE_MINUTE = strawberry.enum_value("ONE_MINUTE", description="The last minute (six 10 s buckets).")
    ONE_HOUR = strawberry.enum_value("ONE_HOUR", description="The last hour (twelve 5 min buckets).")


#: window -> (bucket size in seconds, buckets summed), as the pipeline counts them.
TREND_BUCKETS = {window: TREND_WINDOWS[window.name] for window in TrendWindow}


@strawberry.type(description="A category and how much users interacted with it in the window.")
class TrendingCategory:
    slug: str = strawberry.field(description="Category slug.")
    name: str = strawberry.field(description="Display name.")
    parent_slug: str | None = strawberry.field(description="Top-level category; null for a top-level one.")
    score: int = strawberry.field(description=f"{score_formula()}.")
    views: int = strawberry.field(description="Deal views.")
    clicks: int = strawberry.field(description="Clicks through to a deal.")
    purchases: int = strawberry.field(description="Purchases.")
    reviews: int = strawberry.field(description="Reviews.")

    @classmethod
    def from_totals(cls, slug: str, totals: dict[str, int]) -> TrendingCategory:
        parent = PARENT_OF.get(slug)
        return cls(slug=slug, name=CATEGORY_NAMES.get(slug, slug), parent_slug=None if parent == slug else parent,
                   score=totals["score"], views=totals["views"], clicks=totals["clicks"],
                   purchases=totals["purchases"], reviews=totals["reviews"])


@strawberry.type(description="Sales in one second (zero when nothing was bought).")
class SalesSecond:
    at: datetime = strawberry.field(description="Start of the second (UTC).")
    purchases: int = strawberry.field(description="Purchases made.")
    units: int = strawberry.field(description="Units bought.")
    revenue: float = strawberry.field(description="Sum of price x quantity.")

    @classmethod
    def from_row(cls, at: datetime, row: Row | None) -> SalesSecond:
        if row is None:
            return cls(at=at, purchases=0, units=0, revenue=0.0)
        return cls(at=at, purchases=row["purchases"], units=row["units"], revenue=round(row["revenue"], 2))


@strawberry.type(description="One purchase in the live feed. Buyers are shown as first name and initial.")
class Purchase:
    id: strawberry.ID = strawberry.field(description="The event id.")
    at: datetime = strawberry.field(description="When it was bought (UTC).")
    buyer: str | None = strawberry.field(description="First name and last initial.")
    city: str | None = strawberry.field(description="The buyer's town.")
    deal_id: strawberry.ID = strawberry.field(description="The deal bought.")
    deal_title: str | None = strawberry.field(description="Its title when bought.")
    category: str = strawberry.field(description="Its category slug.")
    merchant_name: str | None = strawberry.field(description="Who sells it.")
    quantity: int = strawberry.field(description="Units bought.")
    amount: float = strawberry.field(description="Price x quantity.")

    @classmethod
    def from_row(cls, row: Row) -> Purchase:
        return cls(**purchase_fields(row), buyer=row["user_name"], city=row["user_city"])


def purchase_fields(row: Row) -> dict[str, Any]:
    """The fields every purchase type shares (the public feed's and the viewer's own), from a row of
    `purchases_feed` or `purchases_by_user`."""
    return {"id": strawberry.ID(row["event_id"]), "at": utc(row["occurred_at"]),
            "deal_id": strawberry.ID(str(row["deal_id"])), "deal_title": row["deal_title"],
            "category": row["category_slug"], "merchant_name": row["merchant_name"], "quantity": row["quantity"],
            "amount": round(row["amount"], 2)}


@strawberry.type(description="Activity in one geohash cell, served only when enough distinct users were there.")
class ActivityCell:
    geohash: str = strawberry.field(description="The cell's geohash (its length is the precision).")
    latitude: float = strawberry.field(description="Latitude of the cell's centre.")
    longitude: float = strawberry.field(description="Longitude of the cell's centre.")
    users: int = strawberry.field(description="Distinct users active in the cell (at least the anonymity floor).")
    events: int = strawberry.field(description="Interactions in the cell.")
    purchases: int = strawberry.field(description="Purchases in the cell.")
    average_rating: float | None = strawberry.field(
        default=None, description="Mean stars of the reviews written in the cell this hour (4 decimals); null "
                                  "when there were none.")


@strawberry.type(description="A map of where users are active in one hour.")
class ActivityMap:
    hour: datetime = strawberry.field(description="Start of the hour shown (UTC).")
    precision: int = strawberry.field(description="Geohash precision of the cells.")
    min_users: int = strawberry.field(description="Anonymity floor: cells with fewer distinct users are hidden.")
    cells: list[ActivityCell] = strawberry.field(description="Cells inside the box, busiest first.")


@strawberry.type(description="A merchant ranked by what platform users bought from it today (UTC), live.")
class MerchantSales:
    id: strawberry.ID = strawberry.field(description="The provider's merchant id.")
    name: str | None = strawberry.field(description="Display name.")
    purchases: int = strawberry.field(description="Purchases today.")
    units: int = strawberry.field(description="Units bought today.")
    revenue: float = strawberry.field(description="Revenue today.")


@strawberry.input(description="A box on the map (no antimeridian crossing).")
class BBoxInput:
    south: float = strawberry.field(description="Southern latitude, -90..90.")
    west: float = strawberry.field(description="Western longitude, -180..180.")
    north: float = strawberry.field(description="Northern latitude, above `south`.")
    east: float = strawberry.field(description="Eastern longitude, above `west`.")
