"""`DealScore`, `SameOffer` and `MerchantHonesty`: is a discount real, who else sells the item,
how honest a merchant is (rows of the score tables, conf/cassandra/schema.cql)."""
from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry

from graphql_api.convert import utc
from graphql_api.repository import Row
from pipeline import score_rules as sr


@strawberry.enum(description="Where a deal's reference price comes from (the lowest available wins).")
class ReferenceKind(Enum):
    _value_: str

    PRIOR_30_DAY_LOW = strawberry.enum_value(sr.PRIOR_30_DAY_LOW, description=(
        "The lowest price of this deal in the 30 days before this version (EU Omnibus Directive)."))
    STREET_PRICE = strawberry.enum_value(sr.STREET_PRICE, description=(
        "The median price of the same item at other sellers."))
    AREA_COMPARABLE = strawberry.enum_value(sr.AREA_COMPARABLE, description=(
        "The median price of comparable offers of the same category in the same area."))
    CLAIMED_VALUE = strawberry.enum_value(sr.CLAIMED_VALUE, description=(
        "The merchant's own claimed value: nothing else to check it against (unverified)."))


@strawberry.type(description="Is the discount real? The deal's price against its reference price.")
class DealScore:
    verified_discount_pct: float = strawberry.field(description=(
        "max(0, (referencePrice - price) / referencePrice), a fraction in [0, 1] (4 decimals)."))
    advertised_discount_pct: float = strawberry.field(description="(value - price) / value: what the deal claims.")
    reference_price: float = strawberry.field(description="The price the discount is measured against.")
    reference_kind: ReferenceKind = strawberry.field(description="Where the reference price comes from.")
    verified_saving: float = strawberry.field(description="max(0, referencePrice - price), rounded to cents.")
    is_genuine: bool = strawberry.field(description=(
        "True unless the advertised discount exceeds the verified one by more than the tolerance (5 points)."))
    flags: list[str] = strawberry.field(description=(
        f"Any of {', '.join(sr.FLAGS)}, in this order."))
    explanation: str = strawberry.field(description="The verdict in a sentence a shopper can read.")
    scored_at: datetime | None = strawberry.field(default=None, description="The deal version scored (updated_at).")

    @classmethod
    def from_row(cls, row: Row) -> DealScore:
        return cls(
            verified_discount_pct=row["verified_discount_pct"], advertised_discount_pct=row["advertised_discount_pct"],
            reference_price=row["reference_price"], reference_kind=ReferenceKind(row["reference_kind"]),
            verified_saving=row["verified_saving"], is_genuine=bool(row["is_genuine"]),
            flags=list(row["flags"] or []), explanation=row["explanation"], scored_at=utc(row.get("updated_at")),
        )


@strawberry.type(description="One seller of an item, at its last observed price.")
class OfferSeller:
    deal_id: strawberry.ID = strawberry.field(description="The seller's deal.")
    merchant_name: str | None = strawberry.field(description="The seller.")
    provider_name: str | None = strawberry.field(description="The deal site that runs the offer.")
    price: float = strawberry.field(description="Last observed price.")
    value: float = strawberry.field(description="Value the seller claims.")
    observed_at: datetime = strawberry.field(description="When that price was observed (UTC).")


@strawberry.type(description="The same item sold by several merchants or providers: one offer card.")
class SameOffer:
    item_key: str = strawberry.field(description="The normalised item (and, for local offers, area and category).")
    sellers: list[OfferSeller] = strawberry.field(description="Every seller, cheapest first (this deal included).")
    lowest_price: float = strawberry.field(description="The cheapest seller's price.")
    highest_price: float = strawberry.field(description="The dearest seller's price.")

    @classmethod
    def from_rows(cls, item_key: str, rows: list[Row]) -> SameOffer | None:
        """The newest observation of each deal of the item, cheapest first; None without rows."""
        newest: dict[int, Row] = {}
        for row in rows:
            if row["deal_id"] not in newest or row["observed_at"] > newest[row["deal_id"]]["observed_at"]:
                newest[row["deal_id"]] = row
        if not newest:
            return None
        ordered = sorted(newest.values(), key=lambda r: (r["price"], r["deal_id"]))
        sellers = [OfferSeller(deal_id=strawberry.ID(str(r["deal_id"])), merchant_name=r["merchant_name"],
                               provider_name=r["provider_name"], price=r["price"], value=r["value"],
                               observed_at=utc(r["observed_at"])) for r in ordered]
        return cls(item_key=item_key, sellers=sellers, lowest_price=ordered[0]["price"],
                   highest_price=ordered[-1]["price"])


@strawberry.type(description="How honest a merchant's discounts are in one category.")
class MerchantHonesty:
    scored_deals: int = strawberry.field(description="The merchant's scored deals in this category.")
    honest_share: float = strawberry.field(description="Share of them whose discount is genuine (0..1).")
    verified_share: float = strawberry.field(description=(
        "Share checked against evidence (price history, street price or comparables), not just the claim."))
    inflation_incidents: int = strawberry.field(description="Deal versions that claimed an inflated value.")

    @classmethod
    def from_row(cls, row: Row) -> MerchantHonesty:
        return cls(scored_deals=row["scored_deals"], honest_share=row["honest_share"],
                   verified_share=row["verified_share"], inflation_incidents=row["inflation_incidents"])
