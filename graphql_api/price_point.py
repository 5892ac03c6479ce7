"""`PricePoint`: one observed price of a deal (a row of price_history_by_deal)."""
from __future__ import annotations

from datetime import datetime

import strawberry

from graphql_api.convert import utc
from graphql_api.repository import Row


@strawberry.type(description="A price the platform observed for a deal, at the time the deal was updated.")
class PricePoint:
    observed_at: datetime = strawberry.field(description="When this price was observed (the deal's updated_at, UTC).")
    price: float = strawberry.field(description="Price asked, in the deal's currency, rounded to cents.")
    value: float = strawberry.field(description="Value the merchant claimed at that time.")
    discount_pct: float = strawberry.field(description="(value - price) / value, a fraction in [0, 1].")

    @classmethod
    def from_row(cls, row: Row) -> PricePoint:
        return cls(observed_at=utc(row["observed_at"]), price=row["price"], value=row["value"],
                   discount_pct=row["discount_pct"])
