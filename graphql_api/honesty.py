"""`merchants(category, sort: HONESTY)`: a category's merchants ranked by how honest their discounts are.

One read of the category's merchant_honesty_by_category partition (bounded by the scan limit),
ranked in memory: highest share of genuine discounts first, then merchant id. The cursor holds
(honest share, merchant id).
"""
from __future__ import annotations

from enum import Enum

import strawberry
from strawberry.types import Info

from graphql_api.connection import MerchantConnection, MerchantEdge, PageInfo
from graphql_api.context import Context
from graphql_api.cursors import decode_cursor, encode_cursor
from graphql_api.ranked_merchant import RankedMerchant
from graphql_api.repository import Row

HONESTY_ORDER = "MERCHANTS_BY_HONESTY"


@strawberry.enum(description="Order of a merchant ranking.")
class MerchantSort(Enum):
    _value_: str

    DEALS_SOLD = strawberry.enum_value("DEALS_SOLD", description="Most units sold first.")
    HONESTY = strawberry.enum_value(
        "HONESTY", description="Highest share of genuine discounts first (RankedMerchant.honesty).")
    BEST_RATED = strawberry.enum_value(
        "BEST_RATED", description="Highest adjusted rating in the category first (RankedMerchant.rating); here "
                                  "dealCount counts the merchant's rated deals and dealsSold is 0.")


def _key(row: Row) -> tuple[float, int]:
    return (-row["honest_share"], row["merchant_id"])


async def honesty_page(info: Info[Context, None], slug: str, size: int, after: str | None) -> MerchantConnection:
    """One page of the honesty ranking of category `slug`."""
    position = None if after is None else decode_cursor(after, tag=HONESTY_ORDER)
    rows = [r for r in await info.context.merchant_honesty.load(slug) if r["scored_deals"]]
    ranked = sorted(rows, key=_key)
    if position is not None:
        start = (-float(position[0]), int(position[1]))
        ranked = [r for r in ranked if _key(r) > start]
    page = ranked[: size + 1]
    nodes = [RankedMerchant.from_row({**r, "deal_count": r["scored_deals"]}, category=slug) for r in page[:size]]
    edges = [MerchantEdge(cursor=encode_cursor(HONESTY_ORDER, r["honest_share"], r["merchant_id"]), node=node)
             for r, node in zip(page, nodes, strict=False)]
    info_ = PageInfo(has_next_page=len(page) > size, has_previous_page=after is not None,
                     start_cursor=edges[0].cursor if edges else None,
                     end_cursor=edges[-1].cursor if edges else None)
    return MerchantConnection(edges=edges, nodes=nodes, page_info=info_)
