"""`merchants(category, sort: BEST_RATED)` and `deals(filter: {category}, sort: BEST_RATED)` (issue 18).

Each reads one category partition of a rating table (bounded by the scan limit) and the priors it
needs, and ranks in memory by adjusted rating, highest first, ties by id. The adjusted value moves
with its category's prior, so no table can be clustered by it; a category holds a bounded number of
rated merchants and deals. The cursor holds (adjusted rating, id).
"""
from __future__ import annotations

from collections.abc import Callable

import strawberry
from strawberry.types import Info

from graphql_api.connection import DealConnection, DealEdge, MerchantConnection, MerchantEdge, PageInfo
from graphql_api.context import Context
from graphql_api.cursors import Position, decode_cursor, encode_cursor
from graphql_api.deal import Deal
from graphql_api.inputs import DealQuery
from graphql_api.ranked_merchant import RankedMerchant
from graphql_api.rating import adjusted_of, prior_of
from graphql_api.repository import Row

RATED_MERCHANTS_ORDER = "MERCHANTS_BY_RATING"
Ranked = list[tuple[float, Row]]


def _rank(rows: list[Row], prior: Callable[[Row], float], id_column: str, after: Position | None) -> Ranked:
    """(adjusted, row) of the rows with a verified review, best first, after the cursor's position."""
    ranked = sorted(((adjusted_of(r, prior(r)), r) for r in rows if r["reviews"]),
                    key=lambda pair: (-pair[0], pair[1][id_column]))
    if after is None:
        return ranked
    start = (-float(after[0]), int(after[1]))
    return [(value, r) for value, r in ranked if (-value, r[id_column]) > start]


def _page_info(cursors: list[str], *, has_next: bool, has_previous: bool) -> PageInfo:
    return PageInfo(has_next_page=has_next, has_previous_page=has_previous,
                    start_cursor=cursors[0] if cursors else None, end_cursor=cursors[-1] if cursors else None)


async def rated_merchants_page(info: Info[Context, None], slug: str, size: int,
                               after: str | None) -> MerchantConnection:
    """One page of the merchants of category `slug` by adjusted rating in the category."""
    ctx = info.context
    position = None if after is None else decode_cursor(after, tag=RATED_MERCHANTS_ORDER)
    rows = await ctx.category_merchant_ratings.load(slug)
    prior = prior_of([await ctx.rating_priors.load(slug)])
    page = _rank(rows, lambda _row: prior, "merchant_id", position)[: size + 1]
    nodes = [RankedMerchant(id=strawberry.ID(str(r["merchant_id"])), name=r["merchant_name"], deals_sold=0,
                            deal_count=r["rated_deals"] or 0, category=slug) for _, r in page[:size]]
    cursors = [encode_cursor(RATED_MERCHANTS_ORDER, value, r["merchant_id"]) for value, r in page[:size]]
    edges = [MerchantEdge(cursor=c, node=n) for c, n in zip(cursors, nodes, strict=True)]
    return MerchantConnection(edges=edges, nodes=nodes, page_info=_page_info(
        cursors, has_next=len(page) > size, has_previous=after is not None))


async def rated_deals_page(info: Info[Context, None], query: DealQuery) -> DealConnection:
    """One page of the rated deals of `query.category`, each adjusted toward its own category's mean."""
    ctx, slug = info.context, query.category
    assert slug is not None  # parse_deal_query requires a category for BEST_RATED
    limit = ctx.settings.api_scan_limit
    rows = await ctx.repository.category_deal_ratings(slug, limit=limit)
    categories = sorted({r["deal_category"] or slug for r in rows})
    priors = dict(zip(categories, await ctx.rating_priors.load_many(categories), strict=True))
    ranked = _rank(rows, lambda r: prior_of([priors[r["deal_category"] or slug]]), "deal_id", query.after)
    page = ranked[: query.first + 1]
    full = await ctx.deals.load_many([r["deal_id"] for _, r in page[: query.first]])
    found = [(value, Deal.from_row(row)) for (value, _), row in zip(page, full, strict=False) if row is not None]
    cursors = [encode_cursor(query.sort.value, value, int(d.id)) for value, d in found]
    edges = [DealEdge(cursor=c, node=d) for c, (_, d) in zip(cursors, found, strict=True)]
    return DealConnection(edges=edges, nodes=[d for _, d in found],
                          page_info=_page_info(cursors, has_next=len(page) > query.first,
                                               has_previous=query.after is not None),
                          exhaustive=len(rows) < limit)
