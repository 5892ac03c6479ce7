"""`Merchant`: who sells a deal, with its address (fields of a deals_by_id row)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.types import Info

from graphql_api.context import Context
from graphql_api.rating import Rating, prior_of
from graphql_api.repository import Row
from pipeline.taxonomy import PARENTS

if TYPE_CHECKING:
    from graphql_api.reviews import Review


@strawberry.type(description="The merchant behind a deal. Online merchants have no address.")
class Merchant:
    id: strawberry.ID | None = strawberry.field(description="The provider's merchant id.")
    name: str | None = strawberry.field(description="Display name.")
    address: str | None = strawberry.field(description="Street address.")
    locality: str | None = strawberry.field(description="City.")
    region: str | None = strawberry.field(description="State or region code.")
    postal_code: str | None = strawberry.field(description="Postal code.")
    country: str | None = strawberry.field(description="Country name.")
    phone: str | None = strawberry.field(description="Phone number as the provider gave it.")
    url: str | None = strawberry.field(description="Merchant web site.")

    @strawberry.field(description="Stars of the verified-purchase reviews of all the merchant's deals; adjusted "
                                  "toward the platform's mean; null until a buyer reviews one.")
    async def rating(self, info: Info[Context, None]) -> Rating | None:
        if self.id is None:
            return None
        row = await info.context.merchant_ratings.load(int(self.id))
        if row is None or not row["reviews"]:
            return None
        return Rating.from_row(row, prior_of(await info.context.rating_priors.load_many(list(PARENTS))))

    @strawberry.field(description="The newest reviews of the merchant's deals (one per reviewer and deal: the "
                                  "latest), verified or not, newest first; `first` at most 100.")
    async def latest_reviews(
        self, info: Info[Context, None],
        first: Annotated[int, strawberry.argument(description="How many, 1..100.")] = 10,
    ) -> list[Annotated[Review, strawberry.lazy("graphql_api.reviews")]]:
        from graphql_api.reviews import merchant_latest_reviews

        if self.id is None:
            return []
        return await merchant_latest_reviews(info.context, int(self.id), first)

    @classmethod
    def from_row(cls, row: Row) -> Merchant:
        """The merchant columns of a deals_by_id row."""
        merchant_id = row["merchant_id"]
        return cls(
            id=None if merchant_id is None else strawberry.ID(str(merchant_id)),
            name=row["merchant_name"], address=row["merchant_address"], locality=row["merchant_locality"],
            region=row["merchant_region"], postal_code=row["merchant_postal_code"],
            country=row["merchant_country"], phone=row["merchant_phone"], url=row["merchant_url"],
        )
