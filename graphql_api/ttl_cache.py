"""A small process-wide async cache: one fetch per key per TTL, shared by every concurrent caller."""
from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class TtlCache(Generic[K, V]):
    """`get(key)` answers from a fetch at most `ttl_s` old; concurrent misses share one fetch.

    Failed fetches are not kept, so an outage costs one retry per request, not a TTL of errors.
    Keys must come from a bounded set (the caller validates them): entries are never evicted.
    """

    def __init__(self, fetch: Callable[[K], Awaitable[V]], ttl_s: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._fetch, self._ttl_s, self._clock = fetch, ttl_s, clock
        self._entries: dict[K, tuple[float, asyncio.Future[V]]] = {}
        self.fetches = 0  # how many times `fetch` ran: tests read it

    async def get(self, key: K) -> V:
        now = self._clock()
        entry = self._entries.get(key)
        if entry is None or entry[0] <= now or _failed(entry[1]):
            self.fetches += 1
            entry = (now + self._ttl_s, asyncio.ensure_future(self._fetch(key)))
            self._entries[key] = entry
        # shield: one caller giving up (a cancelled request) must not cancel the fetch others wait on
        return await asyncio.shield(entry[1])


def _failed(future: asyncio.Future[V]) -> bool:
    return future.done() and (future.cancelled() or future.exception() is not None)
