"""Operators' fields: what the pipeline set aside on one UTC day. Each needs the operator role."""
from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

import strawberry
from strawberry.types import Info

from graphql_api.context import Context
from graphql_api.convert import utc
from graphql_api.errors import InvalidInput
from graphql_api.repository import Row

Day = Annotated[str, strawberry.argument(description="UTC day of receipt, YYYY-MM-DD.")]
First = Annotated[int, strawberry.argument(description="How many rows, 1..1000 (newest first).")]
MAX_ROWS = 1000


@strawberry.type(description="A malformed record the pipeline kept instead of dropping.")
class DeadLetter:
    id: strawberry.ID = strawberry.field(description="Its source position (topic-partition-offset).")
    received_at: datetime = strawberry.field(description="When it was received (UTC).")
    reason: str | None = strawberry.field(description="Why it was rejected.")
    raw_payload: str | None = strawberry.field(description="The record as it arrived.")
    source: str | None = strawberry.field(description="Where it came from (topic).")

    @classmethod
    def from_row(cls, row: Row) -> DeadLetter:
        return cls(id=strawberry.ID(row["dead_letter_id"]), received_at=utc(row["received_at"]),
                   reason=row["reason"], raw_payload=row["raw_payload"], source=row["source"])


@strawberry.type(description="An event that arrived after the allowed lateness (counted in no window).")
class LateEvent:
    id: strawberry.ID = strawberry.field(description="The event id.")
    received_at: datetime = strawberry.field(description="When it was received (UTC).")
    occurred_at: datetime | None = strawberry.field(description="When it happened (UTC).")
    lateness_s: float | None = strawberry.field(description="received - occurred, in seconds.")
    event_type: str | None = strawberry.field(description="view, click, purchase or review.")
    category: str | None = strawberry.field(description="Category slug.")
    user_id: strawberry.ID | None = strawberry.field(description="Who sent it.")

    @classmethod
    def from_row(cls, row: Row) -> LateEvent:
        user = row["user_id"]
        return cls(id=strawberry.ID(row["event_id"]), received_at=utc(row["received_at"]),
                   occurred_at=utc(row["occurred_at"]), lateness_s=row["lateness_s"], event_type=row["event_type"],
                   category=row["category_slug"], user_id=None if user is None else strawberry.ID(str(user)))


def parse_day(day: str) -> str:
    try:
        return date.fromisoformat(day[:10]).isoformat() if len(day) == 10 else _bad_day(day)
    except ValueError:
        return _bad_day(day)


def _bad_day(day: str) -> str:
    raise InvalidInput("day", f"expected a UTC day as YYYY-MM-DD, found {day[:40]!r}")


def _rows(first: int) -> int:
    if not 1 <= first <= MAX_ROWS:
        raise InvalidInput("first", f"must be between 1 and {MAX_ROWS}, found {first}")
    return first


async def dead_letters(info: Info[Context, None], day: Day, first: First = 100) -> list[DeadLetter]:
    info.context.operator()
    rows = await info.context.repository.dead_letters(parse_day(day), limit=_rows(first))
    return [DeadLetter.from_row(row) for row in rows]


async def late_events(info: Info[Context, None], day: Day, first: First = 100) -> list[LateEvent]:
    info.context.operator()
    rows = await info.context.repository.late_events(parse_day(day), limit=_rows(first))
    return [LateEvent.from_row(row) for row in rows]
