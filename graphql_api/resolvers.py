"""Resolvers of the root Query fields: validate arguments, read through the context, build types."""
from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Annotated, Any

import strawberry
from strawberry.types import Info
from strawberry.types.nodes import FragmentSpread, InlineFragment, SelectedField

from graphql_api.best_rated import rated_deals_page, rated_merchants_page
from graphql_api.category import Category
from graphql_api.connection import DealConnection, DealEdge, MerchantConnection, MerchantEdge, PageInfo
from graphql_api.context import Context
from graphql_api.cursors import decode_cursor, encode_cursor
from graphql_api.deal import SUMMARY_FIELDS, Deal
from graphql_api.errors import InvalidInput
from graphql_api.honesty import MerchantSort, honesty_page
from graphql_api.inputs import DealFilter, DealSort, parse_category, parse_deal_id, parse_deal_query, parse_first
from graphql_api.ranked_merchant import RankedMerchant
from graphql_api.search import Hit, SortedStream, search
from pipeline.taxonomy import PARENTS

MERCHANTS_ORDER = "MERCHANTS_BY_DEALS_SOLD"
MAX_BIGINT = 2**63 - 1


async def deal(
    info: Info[Context, None],
    id: Annotated[strawberry.ID, strawberry.argument(description="The deal's id.")],  # noqa: A002 - GraphQL name
) -> Deal | None:
    deal_id, ctx = parse_deal_id(id, field="id"), info.context
    if any(f.name == "priceHistory" for f in _fields(info.selected_fields[0].selections)):
        # Start the history read now, alongside the deal's: the field's load then hits the loader cache.
        row, _ = await asyncio.gather(ctx.deals.load(deal_id), ctx.price_history.load(deal_id))
    else:
        row = await ctx.deals.load(deal_id)
    return None if row is None else Deal.from_row(row)


async def deals(
    info: Info[Context, None],
    flt: Annotated[DealFilter | None, strawberry.argument(name="filter", description="What to match.")] = None,
    sort: Annotated[DealSort, strawberry.argument(description="Result order.")] = DealSort.BEST_DISCOUNT,
    first: Annotated[int, strawberry.argument(description="Page size, 1..100.")] = 20,
    after: Annotated[str | None, strawberry.argument(description="endCursor of the previous page.")] = None,
) -> DealConnection:
    ctx = info.context
    query = parse_deal_query(flt, sort, first, after, ctx.settings)
    if query.sort is DealSort.BEST_RATED:  # issue 18
        return await rated_deals_page(info, query)
    page = await search(ctx.repository, query, ctx.settings.api_scan_limit)
    nodes = await _deals_of(info, page.hits)
    edges = [DealEdge(cursor=encode_cursor(sort.value, hit.value, int(node.id)), node=node)
             for hit, node in zip(page.hits, nodes, strict=True)]
    end = encode_cursor(sort.value, *page.end) if page.end else (edges[-1].cursor if edges else None)
    info_ = PageInfo(has_next_page=page.has_next, has_previous_page=after is not None,
                     start_cursor=edges[0].cursor if edges else None, end_cursor=end)
    return DealConnection(edges=edges, nodes=nodes, page_info=info_, exhaustive=page.exhaustive)


async def _deals_of(info: Info[Context, None], hits: list[Hit]) -> list[Deal]:
    """Deals for the hits: from the listing rows, or from deals_by_id when more fields are asked for."""
    if not hits or _requested_node_fields(info.selected_fields) <= SUMMARY_FIELDS:
        return [Deal.from_listing(h.row, online=h.row.get("online"), distance_km=h.row.get("distance_km"))
                for h in hits]
    full_rows = await info.context.deals.load_many([h.row["deal_id"] for h in hits])
    deals_: list[Deal] = []
    for hit, full in zip(hits, full_rows, strict=True):
        deal_ = Deal.from_row(full) if full is not None else Deal.from_listing(hit.row, online=hit.row.get("online"))
        deal_.distance_km = hit.row.get("distance_km")
        deals_.append(deal_)
    return deals_


def _requested_node_fields(selected: Iterable[Any]) -> set[str]:
    """Field names asked for on the connection's `edges.node` and `nodes` (fragments included)."""
    names: set[str] = set()
    for connection in selected:
        for field in _fields(connection.selections):
            if field.name == "nodes":
                names |= {f.name for f in _fields(field.selections)}
            elif field.name == "edges":
                for node in (f for f in _fields(field.selections) if f.name == "node"):
                    names |= {f.name for f in _fields(node.selections)}
    return names


def _fields(selections: Iterable[Any]) -> list[SelectedField]:
    found: list[SelectedField] = []
    for item in selections:
        if isinstance(item, SelectedField):
            found.append(item)
        elif isinstance(item, FragmentSpread | InlineFragment):
            found.extend(_fields(item.selections))
    return found


def categories() -> list[Category]:
    return [Category.from_slug(slug) for slug in PARENTS]


def category(slug: Annotated[str, strawberry.argument(description="Category slug.")]) -> Category | None:
    try:
        return Category.from_slug(parse_category(slug, field="slug"))
    except ValueError:
        return None


async def merchants(
    info: Info[Context, None],
    category: Annotated[str, strawberry.argument(description="Category slug (see `categories`).")],
    first: Annotated[int, strawberry.argument(description="Page size, 1..100.")] = 20,
    after: Annotated[str | None, strawberry.argument(description="endCursor of the previous page.")] = None,
    sort: Annotated[MerchantSort, strawberry.argument(description="Ranking order.")] = MerchantSort.DEALS_SOLD,
) -> MerchantConnection:
    slug, size = parse_category(category, field="category"), parse_first(first)
    if sort is MerchantSort.HONESTY:  # issue 12
        return await honesty_page(info, slug, size, after)
    if sort is MerchantSort.BEST_RATED:  # issue 18
        return await rated_merchants_page(info, slug, size, after)
    position = None if after is None else _merchant_position(after)
    high = MAX_BIGINT if position is None else int(position[0])
    repo = info.context.repository
    scan_limit = info.context.settings.api_scan_limit
    stream = SortedStream(lambda n, state: repo.merchants_by_category(slug, high, page_size=n, paging_state=state),
                          page_size=size + 1, max_page_size=scan_limit)
    rows = await _merchant_rows(stream, position, size + 1, scan_limit)
    nodes = [RankedMerchant.from_row(row, category=slug) for row in rows[:size]]
    edges = [MerchantEdge(cursor=encode_cursor(MERCHANTS_ORDER, row["deals_sold"], row["merchant_id"]), node=node)
             for row, node in zip(rows, nodes, strict=False)]
    info_ = PageInfo(has_next_page=len(rows) > size, has_previous_page=after is not None,
                     start_cursor=edges[0].cursor if edges else None,
                     end_cursor=edges[-1].cursor if edges else None)
    return MerchantConnection(edges=edges, nodes=nodes, page_info=info_)


def _merchant_position(after: str) -> tuple[int, int]:
    """A ranking cursor: units sold are a bigint (a cursor of 1e300 once became a masked 500)."""
    sold, merchant_id = decode_cursor(after, tag=MERCHANTS_ORDER)
    if type(sold) is not int or not 0 <= sold <= MAX_BIGINT:
        raise InvalidInput("after", "not a cursor returned by this API")
    return sold, merchant_id


async def _merchant_rows(stream: SortedStream, position: tuple[float | int, int] | None, want: int,
                         scan_limit: int) -> list[Any]:
    """Ranking rows after `position` (best seller first, ties by merchant id)."""
    after = None if position is None else (-position[0], position[1])
    rows: list[Any] = []
    scanned = 0
    while len(rows) < want and scanned < scan_limit:
        await stream.fill()
        if not stream.rows:
            break
        row = stream.rows.popleft()
        scanned += 1
        if after is None or (-row["deals_sold"], row["merchant_id"]) > after:
            rows.append(row)
    return rows
