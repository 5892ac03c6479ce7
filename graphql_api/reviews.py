"""`Deal.reviews(first, after)` and `Merchant.latestReviews(first)` (issue 18): reviews newest first,
one per reviewer and deal.

One read of the deal's review_feed_by_deal partition from the cursor's time on (inclusive), rows at
or before the cursor's position skipped: reviews written in the same millisecond as the cursor's
are told apart by reviewer id, the clustering order's tie-break.
"""
from __future__ import annotations

from datetime import UTC, datetime

import strawberry

from graphql_api.connection import PageInfo
from graphql_api.context import Context
from graphql_api.convert import utc
from graphql_api.cursors import decode_cursor, encode_cursor
from graphql_api.errors import InvalidInput
from graphql_api.inputs import parse_first
from graphql_api.repository import Row

REVIEWS_ORDER = "REVIEWS_NEWEST"
#: Rows read beyond the page: reviews tied with the cursor's millisecond that the page skips.
TIE_SLACK = 20
LATEST = datetime(9999, 12, 31)


@strawberry.type(description="A review of a deal. Reviewers are shown as first name and initial.")
class Review:
    id: strawberry.ID = strawberry.field(description="The review's event id.")
    at: datetime = strawberry.field(description="When it was written (UTC).")
    stars: int = strawberry.field(description="1..5.")
    text: str | None = strawberry.field(description="What the reviewer wrote, if anything.")
    reviewer: str | None = strawberry.field(description="First name and last initial.")
    verified: bool = strawberry.field(description="True when the reviewer bought the deal before reviewing; "
                                                  "only verified reviews count in ratings.")
    deal_id: strawberry.ID | None = strawberry.field(description="The deal reviewed (on a merchant's reviews).")
    deal_title: str | None = strawberry.field(description="Its title when reviewed (on a merchant's reviews).")

    @classmethod
    def from_row(cls, row: Row) -> Review:
        deal_id = row.get("deal_id")
        return cls(id=strawberry.ID(row["event_id"]), at=utc(row["occurred_at"]), stars=row["rating"],
                   text=row["review_text"], reviewer=row["user_name"], verified=bool(row["verified"]),
                   deal_id=None if deal_id is None else strawberry.ID(str(deal_id)), deal_title=row.get("deal_title"))


@strawberry.type(description="A review with its position in the newest-first order.")
class ReviewEdge:
    cursor: str = strawberry.field(description="Opaque position of this review.")
    node: Review = strawberry.field(description="The review.")


@strawberry.type(description="One page of a deal's reviews, newest first (one per reviewer: their latest).")
class ReviewConnection:
    edges: list[ReviewEdge] = strawberry.field(description="The reviews of this page, newest first, with cursors.")
    nodes: list[Review] = strawberry.field(description="The same reviews without cursors.")
    page_info: PageInfo = strawberry.field(description="Cursors and whether more pages exist.")

    @classmethod
    def from_rows(cls, rows: list[Row], size: int, *, has_previous: bool) -> ReviewConnection:
        """A page of at most `size` reviews from rows already after the cursor (one extra: a next page)."""
        page = rows[:size]
        edges = [ReviewEdge(cursor=review_cursor(row), node=Review.from_row(row)) for row in page]
        info = PageInfo(has_next_page=len(rows) > size, has_previous_page=has_previous,
                        start_cursor=edges[0].cursor if edges else None,
                        end_cursor=edges[-1].cursor if edges else None)
        return cls(edges=edges, nodes=[e.node for e in edges], page_info=info)


def review_cursor(row: Row) -> str:
    """(time in epoch ms, reviewer id): the feed's clustering order."""
    return encode_cursor(REVIEWS_ORDER, int(utc(row["occurred_at"]).timestamp() * 1000), row["user_id"])


def _position(after: str | None) -> tuple[datetime, int] | None:
    if after is None:
        return None
    millis, user_id = decode_cursor(after, tag=REVIEWS_ORDER)
    if type(millis) is not int:
        raise InvalidInput("after", "not a cursor returned by this API")
    try:
        return datetime.fromtimestamp(millis / 1000, UTC).replace(tzinfo=None), user_id
    except (OverflowError, OSError, ValueError) as exc:
        raise InvalidInput("after", "not a cursor returned by this API") from exc


def _is_after(row: Row, position: tuple[datetime, int] | None) -> bool:
    """Newest first, ties by reviewer id ascending: is `row` past the cursor's position?"""
    if position is None:
        return True
    moment, user_id = position
    return bool(row["occurred_at"] < moment or (row["occurred_at"] == moment and row["user_id"] > user_id))


async def deal_reviews(context: Context, deal_id: int, first: int, after: str | None) -> ReviewConnection:
    size, position = parse_first(first), _position(after)
    newest = LATEST if position is None else position[0]
    rows = await context.repository.deal_reviews(deal_id, newest, limit=size + 1 + TIE_SLACK)
    after_rows = [row for row in rows if _is_after(row, position)]
    return ReviewConnection.from_rows(after_rows[: size + 1], size, has_previous=after is not None)


async def merchant_latest_reviews(context: Context, merchant_id: int, first: int) -> list[Review]:
    """One read of the merchant's review_feed_by_merchant partition: its newest `first` reviews."""
    rows = await context.repository.merchant_reviews(merchant_id, limit=parse_first(first))
    return [Review.from_row(row) for row in rows]
