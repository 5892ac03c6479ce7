"""The typed per-request context: settings, the repository, the viewer and fresh DataLoaders.

The viewer comes from the bearer token, checked once when the context is built (HTTP) or once at
`connection_init` (websocket); resolvers read `viewer`, never a header. Over a websocket one context
serves the whole connection, so `reset_loaders()` runs at the start of every operation there.

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
from graphql_api.auth import Viewer
from graphql_api.errors import Forbidden, Unauthenticated
from graphql_api.feeds import FeedHub
from graphql_api.repository import Repository, Row
from graphql_api.ttl_cache import TtlCache

K = TypeVar("K")
V = TypeVar("V")
#: Newest prices returned by `Deal.priceHistory` (one partition, newest first).
PRICE_HISTORY_LIMIT = 100
#: Rows of a category partition counted for `Category.dealCount`.
CATEGORY_COUNT_CAP = 10_000
CategoryCounts = TtlCache[str, int]


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
    category_counts: CategoryCounts  # process-wide, short-lived: counts are not recounted per request
    feeds: FeedHub  # process-wide: subscriptions with the same arguments share one read per tick
    viewer: Viewer | None = None
    connection_params: Any = None  # the websocket's connection_init payload (set by strawberry)
    deals: DataLoader[int, Row | None] = field(init=False)
    price_history: DataLoader[int, list[Row]] = field(init=False)
    merchant_sales_today: DataLoader[str, list[Row]] = field(init=False)
    scores: DataLoader[int, Row | None] = field(init=False)  # issue 12: deal_scores_by_id
    offer_prices: DataLoader[str, list[Row]] = field(init=False)  # issue 12: sellers of one item
    merchant_honesty: DataLoader[str, list[Row]] = field(init=False)  # issue 12: one category's honesty rows
    # issue 18: rating rows by deal and by merchant, priors by category, a category's merchant ratings
    deal_ratings: DataLoader[int, Row | None] = field(init=False)
    merchant_ratings: DataLoader[int, Row | None] = field(init=False)
    rating_priors: DataLoader[str, Row | None] = field(init=False)
    category_merchant_ratings: DataLoader[str, list[Row]] = field(init=False)

    def __post_init__(self) -> None:
        self.reset_loaders()

    def signed_in(self) -> Viewer:
        """The viewer; Unauthenticated when the request carries no token."""
        if self.viewer is None:
            raise Unauthenticated("this field needs a bearer token (Authorization: Bearer <token>)")
        return self.viewer

    def operator(self) -> Viewer:
        """The viewer when it has the operator role; Forbidden otherwise."""
        viewer = self.signed_in()
        if not viewer.is_operator:
            raise Forbidden("this field needs the operator role")
        return viewer

    def reset_loaders(self) -> None:
        """Fresh DataLoaders: their caches must not outlive one operation."""
        repo = self.repository
        self.deals = DataLoader(repo.deals)

        async def history(deal_id: int) -> list[Row]:
            return await repo.price_history(deal_id, limit=PRICE_HISTORY_LIMIT)

        self.price_history = DataLoader(_concurrent(history))

        async def sales_today(slug: str) -> list[Row]:
            # one partition per category and request, shared by every merchant of a ranking page
            return await repo.merchant_sales(slug, datetime.now(UTC).strftime("%Y-%m-%d"))

        self.merchant_sales_today = DataLoader(_concurrent(sales_today))
        self._reset_score_loaders()
        self._reset_rating_loaders()

    def _reset_score_loaders(self) -> None:
        repo, limit = self.repository, self.settings.api_scan_limit
        self.scores = DataLoader(repo.scores)

        async def offers(item_key: str) -> list[Row]:
            return await repo.offer_prices(item_key, limit=limit)

        async def honesty(slug: str) -> list[Row]:
            return await repo.merchant_honesty(slug, limit=limit)

        self.offer_prices = DataLoader(_concurrent(offers))
        self.merchant_honesty = DataLoader(_concurrent(honesty))

    def _reset_rating_loaders(self) -> None:
        (self.deal_ratings, self.merchant_ratings, self.rating_priors,
         self.category_merchant_ratings) = _rating_loaders(self.repository, self.settings.api_scan_limit)


def category_counts(repository: Repository, settings: Settings) -> CategoryCounts:
    """The process-wide cache of `Category.dealCount` (one recount per category per TTL)."""

    async def count(slug: str) -> int:
        return await repository.count_category_deals(slug, cap=CATEGORY_COUNT_CAP)

    return TtlCache(count, settings.api_category_count_ttl_s)


def _rating_loaders(repo: Repository, limit: int) -> tuple[DataLoader[int, Row | None], DataLoader[int, Row | None],
                                                          DataLoader[str, Row | None], DataLoader[str, list[Row]]]:
    async def merchants_of(slug: str) -> list[Row]:
        return await repo.category_merchant_ratings(slug, limit=limit)

    return (DataLoader(repo.deal_ratings), DataLoader(repo.merchant_ratings),
            DataLoader(_concurrent(repo.rating_prior)), DataLoader(_concurrent(merchants_of)))
