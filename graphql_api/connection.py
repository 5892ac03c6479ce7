"""Relay connection types: `PageInfo`, and the deal and merchant connections with their edges."""
from __future__ import annotations

import strawberry

from graphql_api.deal import Deal
from graphql_api.ranked_merchant import RankedMerchant


@strawberry.type(description="Where a page sits in the whole result (Relay cursor connections).")
class PageInfo:
    has_next_page: bool = strawberry.field(description="True when another page follows `endCursor`.")
    has_previous_page: bool = strawberry.field(description="True when this page was asked for `after` a cursor.")
    start_cursor: str | None = strawberry.field(description="Cursor of the first edge.")
    end_cursor: str | None = strawberry.field(
        description="Pass as `after` for the next page. Normally the last edge's cursor; when a search "
                    "stopped at its scan bound it marks how far the scan got.")


@strawberry.type(description="A deal in a search result, with its position.")
class DealEdge:
    cursor: str = strawberry.field(description="Opaque position of this deal in the result order.")
    node: Deal = strawberry.field(description="The deal.")


@strawberry.type(description="One page of a deal search.")
class DealConnection:
    edges: list[DealEdge] = strawberry.field(description="The deals of this page, in order, with cursors.")
    nodes: list[Deal] = strawberry.field(description="The same deals without cursors.")
    page_info: PageInfo = strawberry.field(description="Cursors and whether more pages exist.")
    exhaustive: bool = strawberry.field(
        description="False when the search read its maximum number of rows (the server's scan bound) "
                    "before finishing; a BIGGEST_SAVING or near search then ranks only the rows read.")


@strawberry.type(description="A merchant in a ranking, with its position.")
class MerchantEdge:
    cursor: str = strawberry.field(description="Opaque position of this merchant in the ranking.")
    node: RankedMerchant = strawberry.field(description="The merchant and what it sold.")


@strawberry.type(description="One page of a merchant ranking.")
class MerchantConnection:
    edges: list[MerchantEdge] = strawberry.field(description="Merchants of this page, best seller first.")
    nodes: list[RankedMerchant] = strawberry.field(description="The same merchants without cursors.")
    page_info: PageInfo = strawberry.field(description="Cursors and whether more pages exist.")
