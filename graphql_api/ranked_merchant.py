"""`RankedMerchant`: a merchant's line in a category ranking (a row of merchants_by_category)."""
from __future__ import annotations

import strawberry

from graphql_api.repository import Row


@strawberry.type(description="A merchant ranked within one category by the units its deals sold.")
class RankedMerchant:
    id: strawberry.ID = strawberry.field(description="The provider's merchant id.")
    name: str | None = strawberry.field(description="Display name.")
    deals_sold: int = strawberry.field(description="Units sold by the merchant's deals in this category.")
    deal_count: int = strawberry.field(description="The merchant's deals in this category.")

    @classmethod
    def from_row(cls, row: Row) -> RankedMerchant:
        return cls(id=strawberry.ID(str(row["merchant_id"])), name=row["merchant_name"],
                   deals_sold=row["deals_sold"], deal_count=row["deal_count"])
