"""The typed per-request context: settings, the repository and fresh DataLoaders.

Loaders batch the keys one request asks for and read each key's partition concurrently (Cassandra
prefers many single-partition reads to `IN` over partition keys). A failed key comes back as an
exception value for that key only, so one bad read does not fail its siblings.
"""
from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from starlette.requests import Request
from starlette.websockets import WebSocket
from strawberry.dataloader import DataLoader

from conf.settings import Settings
from graphql_api.repository import Repository, Row

K = TypeVar("K")
V = TypeVar("V")
#: Newest prices returned by `Deal.priceHistory` (one partition, newest first).
PRICE_HISTORY_LIMIT = 100
#: Rows of a category partition counted for `Category.dealCount`.
CATEGORY_COUNT_CAP = 10_000


def _concurrent(fetch: Callable[[K], Awaitable[V]]) -> Callable[[Sequence[K]], Awaitable[list[V | BaseException]]]:
    """A DataLoader batch function reading every key concurrently, results in key order."""

    async def load(keys: Sequence[K]) -> list[V | BaseException]:
        return list(await asyncio.gather(*(fetch(key) for key in keys), return_exceptions=True))

    return load


@dataclass
class Context:
    """What every resolver gets as `info.context`."""

    request: Request | WebSocket
    response: Any
    settings: Settings
    repository: Repository
    deals: DataLoader[int, Row | None] = field(init=False)
    price_history: DataLoader[int, list[Row]] = field(init=False)
    category_counts: DataLoader[str, int] = field(init=False)
    merchant_sales_today: DataLoader[str, list[Row]] = field(init=False)

    def __post_init__(self) -> None:
        repo = self.repository
        self.deals = DataLoader(_concurrent(repo.deal))

        async def history(deal_id: int) -> list[Row]:
            return await repo.price_history(deal_id, limit=PRICE_HISTORY_LIMIT)

        async def count(slug: str) -> int:
            return await repo.count_category_deals(slug, cap=CATEGORY_COUNT_CAP)

        self.price_history = DataLoader(_concurrent(history))
        self.category_counts = DataLoader(_concurrent(count))

        async def sales_today(slug: str) -> list[Row]:
            # one partition per category and request, shared by every merchant of a ranking page
            return await repo.merchant_sales(slug, datetime.now(UTC).strftime("%Y-%m-%d"))

        self.merchant_sales_today = DataLoader(_concurrent(sales_today))
