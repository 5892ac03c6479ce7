"""Shared subscription feeds: one polling loop per distinct argument set, however many subscribers.

A subscriber of `trending(window, first, everySeconds)` does not read Cassandra itself: the first
subscriber of an argument set starts a loop that loads once per tick and wakes every subscriber of
that set; the last one to leave stops it. The hub also caps subscriptions across the process.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Hashable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from graphql_api.errors import TooManySubscriptions

log = logging.getLogger(__name__)
Load = Callable[[], Awaitable[Any]]


@dataclass
class _Feed:
    """The latest value of one argument set, its version and who waits for the next one."""

    value: Any = None
    error: BaseException | None = None
    version: int = 0
    subscribers: int = 0
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None

    def publish(self, value: Any, error: BaseException | None) -> None:
        self.value, self.error, self.version = value, error, self.version + 1
        changed, self.changed = self.changed, asyncio.Event()
        changed.set()  # wakes everyone waiting on the previous tick


class FeedHub:
    """Every feed of one API process, and the process-wide subscription cap."""

    def __init__(self, max_subscriptions: int) -> None:
        self.max_subscriptions = max_subscriptions
        self.active = 0
        self._feeds: dict[Hashable, _Feed] = {}

    @property
    def feeds(self) -> int:
        return len(self._feeds)

    async def updates(self, key: Hashable, load: Load, every_s: float) -> AsyncGenerator[Any, None]:
        """Each new value of the feed `key` (started on first use), until the subscriber leaves."""
        if self.active >= self.max_subscriptions:
            raise TooManySubscriptions(f"this server already serves {self.active} subscriptions (its maximum); "
                                       "retry later")
        feed = self._feeds.get(key) or self._start(key, load, every_s)
        feed.subscribers += 1
        self.active += 1
        try:
            # A subscriber joining a running feed gets its latest value at once, not a tick later
            # (a tick may be a minute): version 0 means nothing was loaded yet.
            seen = 0
            while True:
                if feed.version == seen:
                    await feed.changed.wait()
                seen = feed.version
                if feed.error is not None:
                    raise feed.error
                yield feed.value
        finally:
            self._leave(key, feed)

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Count a subscription that reads on its own (per-user data: `dealAlerts`) against the cap."""
        if self.active >= self.max_subscriptions:
            raise TooManySubscriptions(f"this server already serves {self.active} subscriptions (its maximum); "
                                       "retry later")
        self.active += 1
        try:
            yield
        finally:
            self.active -= 1

    def _start(self, key: Hashable, load: Load, every_s: float) -> _Feed:
        feed = _Feed()
        feed.task = asyncio.create_task(_poll(feed, load, every_s), name=f"feed-{key!r}")
        self._feeds[key] = feed
        return feed

    def _leave(self, key: Hashable, feed: _Feed) -> None:
        feed.subscribers -= 1
        self.active -= 1
        if feed.subscribers == 0 and self._feeds.get(key) is feed:
            del self._feeds[key]
            if feed.task is not None:
                feed.task.cancel()


async def _poll(feed: _Feed, load: Load, every_s: float) -> None:
    while True:
        try:
            feed.publish(await load(), None)
        except Exception as exc:  # handed to every subscriber, which ends with it (masked if a bug)
            feed.publish(None, exc)
        await asyncio.sleep(every_s)
