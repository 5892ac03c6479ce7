"""`RankedMerchant`: a merchant's line in a category ranking (a row of merchants_by_category)."""
from __future__ import annotations

import strawberry
from strawberry.types import Info

from graphql_api.context import Context
from graphql_api.deal_score import MerchantHonesty
from graphql_api.rating import Rating, prior_of
from graphql_api.repository import Row


@strawberry.type(description="A merchant ranked within one category by the units its deals sold.")
class RankedMerchant:
    id: strawberry.ID = strawberry.field(description="The provider's merchant id.")
    name: str | None = strawberry.field(description="Display name.")
    deals_sold: int = strawberry.field(description="Units sold by the merchant's deals in this category.")
    deal_count: int = strawberry.field(description="The merchant's deals in this category.")
    category: strawberry.Private[str | None] = None

    @strawberry.field(description="Units platform users bought from this merchant in this category today "
                                  "(UTC), live from the activity stream; 0 when none.")
    async def live_units_today(self, info: Info[Context, None]) -> int:
        if self.category is None:
            return 0
        rows = await info.context.merchant_sales_today.load(self.category)
        return sum(row["units"] or 0 for row in rows if str(row["merchant_id"]) == self.id)

    @strawberry.field(description="How honest the merchant's discounts are in this category (issue 12); null "
                                  "until one of its deals is scored.")
    async def honesty(self, info: Info[Context, None]) -> MerchantHonesty | None:
        if self.category is None:
            return None
        rows = await info.context.merchant_honesty.load(self.category)
        row = next((r for r in rows if str(r["merchant_id"]) == self.id and r["scored_deals"]), None)
        return None if row is None else MerchantHonesty.from_row(row)

    @strawberry.field(description="Stars of the verified-purchase reviews of the merchant's deals in this "
                                  "category (issue 18), adjusted toward the category's mean; null before any.")
    async def rating(self, info: Info[Context, None]) -> Rating | None:
        if self.category is None:
            return None
        rows = await info.context.category_merchant_ratings.load(self.category)
        row = next((r for r in rows if str(r["merchant_id"]) == self.id), None)
        if row is None:
            return None
        return Rating.from_row(row, prior_of([await info.context.rating_priors.load(self.category)]))

    @classmethod
    def from_row(cls, row: Row, *, category: str | None = None) -> RankedMerchant:
        return cls(id=strawberry.ID(str(row["merchant_id"])), name=row["merchant_name"],
                   deals_sold=row["deals_sold"], deal_count=row["deal_count"], category=category)
