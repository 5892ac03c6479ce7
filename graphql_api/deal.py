"""`Deal`: one deal. Built from a full deals_by_id row, or from a listing row of a search table.

A listing row (the sorted search tables) carries only the summary fields (`SUMMARY_FIELDS`); the
search resolver loads full rows through the per-request DataLoader when a query asks for more.
"""
from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, TypedDict

import strawberry
from strawberry.types import Info

from graphql_api.category import Category
from graphql_api.context import PRICE_HISTORY_LIMIT, Context
from graphql_api.convert import utc
from graphql_api.deal_score import DealScore, SameOffer
from graphql_api.location import Location
from graphql_api.merchant import Merchant
from graphql_api.price_point import PricePoint
from graphql_api.rating import Rating, prior_of
from graphql_api.repository import Row
from pipeline.definitions import DISCOUNT_TOLERANCE

if TYPE_CHECKING:
    from graphql_api.reviews import ReviewConnection

#: GraphQL fields of `Deal` that every listing row can fill (the rest need the deals_by_id row).
SUMMARY_FIELDS = frozenset({
    "__typename", "id", "title", "shortTitle", "price", "value", "discountPct", "saving", "imageUrl",
    "expiresAt", "merchantName", "online", "distanceKm", "priceHistory", "score", "sameOffer",
    "rating", "reviews",
})


def saving_of(row: Row) -> float:
    """What the shopper saves against the claimed value, rounded to cents (as the pipeline does)."""
    return round(row["value"] - row["price"], 2)


@strawberry.type(description="A deal: an offer of a merchant at a price below its claimed value.")
class Deal:
    id: strawberry.ID = strawberry.field(description="The provider's deal id.")
    title: str = strawberry.field(description="Headline, whitespace-trimmed.")
    short_title: str | None = strawberry.field(description="Short headline, if the provider sent one.")
    price: float = strawberry.field(description="Current price, rounded to cents.")
    value: float = strawberry.field(description="Value the merchant claims, rounded to cents.")
    discount_pct: float = strawberry.field(description="(value - price) / value, a fraction in [0, 1], "
                                                       "recomputed by the platform (4 decimals).")
    saving: float = strawberry.field(description="value - price, rounded to cents.")
    image_url: str | None = strawberry.field(description="Picture of the offer.")
    expires_at: datetime | None = strawberry.field(description="When the offer ends (UTC); null if open-ended.")
    merchant_name: str | None = strawberry.field(description="The merchant's display name.")
    online: bool | None = strawberry.field(description="True when redeemed online (no location).")
    distance_km: float | None = strawberry.field(
        default=None, description="Great-circle distance from `filter.near`, in km; null outside near searches.")
    description: str | None = strawberry.field(default=None, description="Plain-text description (HTML removed).")
    fine_print: str | None = strawberry.field(default=None, description="Plain-text terms and conditions.")
    number_sold: int | None = strawberry.field(default=None, description="Units sold so far, if known.")
    url: str | None = strawberry.field(default=None, description="Tracked link to the offer.")
    untracked_url: str | None = strawberry.field(default=None, description="Direct link to the offer.")
    provider_name: str | None = strawberry.field(default=None, description="The deal site that runs the offer.")
    advertised_discount_pct: float | None = strawberry.field(
        default=None, description="The discount fraction the provider advertised.")
    is_discount_consistent: bool | None = strawberry.field(
        default=None,
        description=f"True when the advertised discount matches value and price within {DISCOUNT_TOLERANCE}.")
    category: Category | None = strawberry.field(default=None, description="The deal's own category.")
    merchant: Merchant | None = strawberry.field(default=None, description="Who sells the deal.")
    location: Location | None = strawberry.field(default=None, description="Where to redeem it; null online.")
    created_at: datetime | None = strawberry.field(default=None, description="When the provider created it (UTC).")
    updated_at: datetime | None = strawberry.field(
        default=None, description="When the provider last changed it (UTC): the version served.")

    #: the score columns of a verified-sort listing row, when the deal came from one (issue 12)
    score_row: strawberry.Private[Row | None] = None

    @classmethod
    def from_row(cls, row: Row) -> Deal:
        """A deal with every field, from a deals_by_id row."""
        slug = row["category_slug"]
        return cls(
            **_summary(row, online=row["online"]),
            description=row["description"], fine_print=row["fine_print"], number_sold=row["number_sold"],
            url=row["url"], untracked_url=row["untracked_url"], provider_name=row["provider_name"],
            advertised_discount_pct=row["advertised_discount_pct"],
            is_discount_consistent=row["is_discount_consistent"],
            category=None if slug is None else Category.from_slug(slug),
            merchant=Merchant.from_row(row), location=Location.from_row(row),
            created_at=utc(row["created_at"]), updated_at=utc(row["updated_at"]),
        )

    @classmethod
    def from_listing(cls, row: Row, *, online: bool | None, distance_km: float | None = None) -> Deal:
        """A deal with the summary fields only, from a row of a search table."""
        return cls(**_summary(row, online=online), distance_km=distance_km,
                   score_row=row if "reference_kind" in row else None)

    @strawberry.field(description="Is the discount real: the verified discount against a reference price, "
                                  "flags and an explanation; null until the deal is scored.")
    async def score(self, info: Info[Context, None]) -> DealScore | None:
        row = self.score_row or await info.context.scores.load(int(self.id))
        return None if row is None else DealScore.from_row(row)

    @strawberry.field(description="The same item at other sellers (same normalised title; local offers also "
                                  "the same category and area): one offer card with the price spread; null "
                                  "when the title names no identifiable item.")
    async def same_offer(self, info: Info[Context, None]) -> SameOffer | None:
        row = await info.context.scores.load(int(self.id))
        if row is None or row["item_key"] is None:
            return None
        return SameOffer.from_rows(row["item_key"], await info.context.offer_prices.load(row["item_key"]))

    @strawberry.field(description="Stars of the verified-purchase reviews (each user's latest) and the adjusted "
                                  "rating; null until a buyer reviews the deal.")
    async def rating(self, info: Info[Context, None]) -> Rating | None:
        row = await info.context.deal_ratings.load(int(self.id))
        if row is None or not row["reviews"]:
            return None
        return Rating.from_row(row, prior_of([await info.context.rating_priors.load(row["category_slug"])]))

    @strawberry.field(description="Reviews of the deal, newest first (one per reviewer: the latest), verified "
                                  "or not; page with `first` (at most 100) and `after`.")
    async def reviews(
        self, info: Info[Context, None],
        first: Annotated[int, strawberry.argument(description="Page size, 1..100.")] = 10,
        after: Annotated[str | None, strawberry.argument(description="endCursor of the previous page.")] = None,
    ) -> Annotated[ReviewConnection, strawberry.lazy("graphql_api.reviews")]:
        from graphql_api.reviews import deal_reviews

        return await deal_reviews(info.context, int(self.id), first, after)

    @strawberry.field(description=f"Observed prices, newest first (at most {PRICE_HISTORY_LIMIT}).")
    async def price_history(self, info: Info[Context, None]) -> list[PricePoint]:
        rows = await info.context.price_history.load(int(self.id))
        return [PricePoint.from_row(row) for row in rows]


class _Summary(TypedDict):
    """The `Deal` fields every listing row can fill (`SUMMARY_FIELDS`), as constructor arguments."""

    id: strawberry.ID
    title: str
    short_title: str | None
    price: float
    value: float
    discount_pct: float
    saving: float
    image_url: str | None
    expires_at: datetime | None
    merchant_name: str | None
    online: bool | None


def _summary(row: Row, *, online: bool | None) -> _Summary:
    return {
        "id": strawberry.ID(str(row["deal_id"])), "title": row["title"], "short_title": row["short_title"],
        "price": row["price"], "value": row["value"], "discount_pct": row["discount_pct"],
        "saving": saving_of(row), "image_url": row["image_url"], "expires_at": utc(row["expires_at"]),
        "merchant_name": row["merchant_name"], "online": online,
    }
