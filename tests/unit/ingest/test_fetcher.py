"""The fetcher's commit protocol with fake Kafka clients: a work message is committed only after every
page is settled and every deal acknowledged; failures are re-queued; Kafka refusals stop the commit."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import orjson
import pytest
from kafka import TopicPartition
from kafka.errors import KafkaTimeoutError

from conf.settings import load_settings
from ingest.api_model import DealsPage, DealsQuery
from ingest.errors import PublishError, ServerError
from ingest.fetcher import Fetcher
from ingest.work import WorkMessage

SETTINGS = load_settings(topic_deals_raw="raw", topic_deal_pages="pages", pages_per_chunk=2, fetcher_threads=2)
TP = TopicPartition("pages", 0)


class FakeFuture:
    def __init__(self) -> None:
        self.callbacks: list[Callable[..., Any]] = []
        self.errbacks: list[Callable[..., Any]] = []

    def add_callback(self, fn: Callable[..., Any]) -> FakeFuture:
        self.callbacks.append(fn)
        return self

    def add_errback(self, fn: Callable[..., Any]) -> FakeFuture:
        self.errbacks.append(fn)
        return self

    def get(self, timeout: float | None = None) -> None:
        return None


class FakeProducer:
    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes, bytes, FakeFuture]] = []
        self._lock = threading.Lock()

    def send(self, topic: str, key: bytes, value: bytes) -> FakeFuture:
        future = FakeFuture()
        with self._lock:
            self.sent.append((topic, key, value, future))
        return future

    def settle(self, fail: Exception | None = None) -> None:
        for *_, future in self.sent:
            for fn in future.errbacks if fail else future.callbacks:
                fn(fail) if fail else fn(None)


class FakeRecord:
    def __init__(self, offset: int, value: bytes) -> None:
        self.topic, self.partition, self.offset, self.value = TP.topic, TP.partition, offset, value


class FakeConsumer:
    def __init__(self, messages: list[WorkMessage]) -> None:
        self._pending = [FakeRecord(i, m.to_bytes()) for i, m in enumerate(messages)]
        self.commits: list[int] = []

    def subscribe(self, topics: list[str], listener: object = None) -> None: ...
    def assignment(self) -> set[TopicPartition]:
        return {TP}

    def pause(self, *tps: TopicPartition) -> None: ...
    def resume(self, *tps: TopicPartition) -> None: ...
    def paused(self) -> set[TopicPartition]:
        return set()

    def close(self, autocommit: bool = False) -> None: ...

    def feed(self, messages: list[WorkMessage]) -> None:
        """More work messages on the topic (continuations), after the ones given at the start."""
        self._offsets = getattr(self, "_offsets", 1_000)
        self._pending += [FakeRecord(self._offsets + i, m.to_bytes()) for i, m in enumerate(messages)]
        self._offsets += len(messages)

    def poll(self, timeout_ms: int = 0, max_records: int | None = None) -> dict[TopicPartition, list[FakeRecord]]:
        batch, self._pending = self._pending, []
        return {TP: batch} if batch else {}

    def commit(self, offsets: dict[TopicPartition, Any]) -> None:
        self.commits.append(offsets[TP].offset)


class FakeClient:
    """Pages of `sizes[page]` deals, each reporting `total`; pages listed in `failing` raise a ServerError."""

    def __init__(self, sizes: dict[int, int], failing: frozenset[int] = frozenset(), total: int = 0) -> None:
        self.sizes, self.failing, self.total = sizes, failing, total
        self.queries: list[DealsQuery] = []

    def deals(self, query: DealsQuery) -> DealsPage:
        self.queries.append(query)
        if query.page in self.failing:
            raise ServerError("boom", url="http://x/v2/deals", status=503)
        deals = [{"id": query.page * 1000 + i, "title": "t"} for i in range(self.sizes.get(query.page, 0))]
        return DealsPage(url="u", total=self.total, page=query.page, per_page=query.per_page, deals=deals, query={})


def message(pages: tuple[int, ...], last_planned: int = 5) -> WorkMessage:
    return WorkMessage(
        run="r",
        category="restaurants",
        pages=pages,
        per_page=100,
        snapshot="2016-02-01T00:00:00Z",
        updated_after=None,
        last_planned=last_planned,
    )


def fetcher_for(client: FakeClient, *messages: WorkMessage) -> tuple[Fetcher, FakeProducer, FakeConsumer]:
    producer, consumer = FakeProducer(), FakeConsumer(list(messages))
    fetcher = Fetcher(SETTINGS, client, producer, consumer=consumer)  # type: ignore[arg-type]
    fetcher._consumer.subscribe(["pages"])
    return fetcher, producer, consumer


def step_until(fetcher: Fetcher, condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 5
    while not condition():
        assert time.monotonic() < deadline, "condition never became true"
        fetcher._poll_once()
        fetcher._commit_finished()
        time.sleep(0.01)


def test_commit_waits_for_every_deal_to_be_acknowledged() -> None:
    fetcher, producer, consumer = fetcher_for(FakeClient({1: 100, 2: 40}), message((1, 2)))
    step_until(fetcher, lambda: len(producer.sent) == 140)
    fetcher._commit_finished()
    assert consumer.commits == []
    producer.settle()
    step_until(fetcher, lambda: consumer.commits == [1])
    sent = {orjson.loads(v)["id"]: k for _, k, v, _ in producer.sent}
    assert all(key == str(deal_id).encode() for deal_id, key in sent.items())
    assert {t for t, *_ in producer.sent} == {"raw"}


def test_a_failed_page_is_requeued_as_its_own_work_message() -> None:
    fetcher, producer, consumer = fetcher_for(FakeClient({1: 100}, failing=frozenset({2})), message((1, 2)))
    step_until(fetcher, lambda: len(producer.sent) == 100)
    producer.settle()
    step_until(fetcher, lambda: consumer.commits == [1])
    [(topic, key, value, _)] = [s for s in producer.sent if s[0] == "pages"]
    retry = WorkMessage.from_bytes(value)
    assert key == b"restaurants" and retry.pages == (2,) and retry.attempt == 1


def test_a_full_last_planned_page_queues_a_continuation_before_the_commit() -> None:
    fetcher, producer, consumer = fetcher_for(FakeClient({4: 100, 5: 100}), message((4, 5), last_planned=5))
    step_until(fetcher, lambda: len(producer.sent) == 201)
    [(_, _, value, _)] = [s for s in producer.sent if s[0] == "pages"]
    assert WorkMessage.from_bytes(value).pages == (6,)  # the page reports no growth: one page, not a chunk
    assert consumer.commits == []
    producer.settle()
    step_until(fetcher, lambda: consumer.commits == [1])


def test_a_continuation_covers_the_growth_the_full_page_reports_in_chunks() -> None:
    client = FakeClient({5: 100}, total=940)  # planned 5 pages, the listing now needs 10
    fetcher, producer, consumer = fetcher_for(client, message((5,), last_planned=5))
    step_until(fetcher, lambda: len(producer.sent) == 103)
    follows = [WorkMessage.from_bytes(v) for t, _, v, _ in producer.sent if t == "pages"]
    assert [f.pages for f in follows] == [(6, 7), (8, 9), (10,)] and {f.last_planned for f in follows} == {10}
    producer.settle()
    step_until(fetcher, lambda: consumer.commits == [1])
    assert fetcher.progress.snapshot()["acked"] == 100  # deals only: the continuations are not deals


@pytest.mark.parametrize(
    "sizes, pages, last_planned",
    [({3: 99}, (3,), 3), ({3: 0}, (3,), 3), ({2: 100, 3: 40}, (2, 3), 3), ({2: 100}, (2,), 3)],
    ids=["short last page", "empty last page", "full page before a short last one", "full page not the last"],
)
def test_only_a_full_last_planned_page_continues(
    sizes: dict[int, int], pages: tuple[int, ...], last_planned: int
) -> None:
    fetcher, producer, consumer = fetcher_for(FakeClient(sizes, total=5_000), message(pages, last_planned))
    step_until(fetcher, lambda: len(producer.sent) == sum(sizes.values()) and fetcher._pending_pages() == 0)
    producer.settle()
    step_until(fetcher, lambda: consumer.commits == [1])
    assert [s for s in producer.sent if s[0] == "pages"] == []


def test_a_listing_of_several_categories_is_one_query() -> None:
    client = FakeClient({1: 7})
    listing = replace(message((1,)), category="gym,yoga")
    fetcher, producer, _ = fetcher_for(client, listing)
    step_until(fetcher, lambda: len(producer.sent) == 7)
    assert [q.category_slugs for q in client.queries] == [("gym", "yoga")]


class GrowingListing(FakeClient):
    """The ground truth of a crawl: a listing that gains a deal with every request (new ids sort last)."""

    def __init__(self, deals: int) -> None:
        super().__init__({})
        self.size = deals
        self.seen_at: dict[int, list[int]] = {}  # page -> the listing's size when it was requested
        self.lock = threading.Lock()

    def deals(self, query: DealsQuery) -> DealsPage:
        with self.lock:
            self.size += 1
            self.seen_at.setdefault(query.page, []).append(self.size)
            window = range((query.page - 1) * query.per_page, min(self.size, query.page * query.per_page))
            deals = [{"id": i, "title": "t"} for i in window]
            return DealsPage(url="u", total=self.size, page=query.page, per_page=query.per_page, deals=deals, query={})


def crawl_to_the_end(fetcher: Fetcher, producer: FakeProducer, consumer: FakeConsumer) -> None:
    """Poll, feeding every continuation back to the consumer, until no page is left anywhere."""
    fed, deadline = 0, time.monotonic() + 10
    while True:
        assert time.monotonic() < deadline, "the crawl never ended"
        idle = fetcher._pending_pages() == 0 and not consumer._pending  # before reading what was sent
        follows = [WorkMessage.from_bytes(v) for t, _, v, _ in list(producer.sent) if t == "pages"]
        if idle and len(follows) == fed:
            return
        consumer.feed(follows[fed:])
        fed = len(follows)
        fetcher._poll_once()
        time.sleep(0.005)


@pytest.mark.parametrize("deals", [250, 300, 1_000, 1_999])
def test_a_crawl_planned_from_a_stale_total_ends_complete_without_empty_or_repeated_pages(deals: int) -> None:
    client = GrowingListing(deals)
    stale = max(1, deals // 200)  # the plan saw half the deals
    fetcher, producer, consumer = fetcher_for(client, message(tuple(range(1, stale + 1)), last_planned=stale))
    crawl_to_the_end(fetcher, producer, consumer)
    last = max(client.seen_at)
    assert sorted(client.seen_at) == list(range(1, last + 1))  # every page up to the end, none beyond
    assert all(len(sizes) == 1 for sizes in client.seen_at.values())  # none fetched twice
    [size_at_end] = client.seen_at[last]
    assert (last - 1) * 100 < size_at_end < last * 100  # the end came with a short page, never an empty one
    captured = {orjson.loads(v)["id"] for t, _, v, _ in producer.sent if t == "raw"}
    assert captured == set(range(size_at_end))  # every deal that existed when the listing ended


def test_a_deal_kafka_refuses_stops_the_fetcher_without_committing() -> None:
    fetcher, producer, consumer = fetcher_for(FakeClient({1: 10}), message((1,)))
    step_until(fetcher, lambda: len(producer.sent) == 10)
    producer.settle(fail=KafkaTimeoutError("no ack"))
    stop = threading.Event()
    with pytest.raises(PublishError, match="did not acknowledge"):
        fetcher.run(stop)
    assert consumer.commits == []


def test_commits_advance_only_over_a_contiguous_prefix() -> None:
    fetcher, producer, consumer = fetcher_for(FakeClient({1: 3, 2: 3}), message((1,)), message((2,)))
    step_until(fetcher, lambda: len(producer.sent) == 6)

    def ack(prefix: bytes) -> None:
        for _, key, _, future in producer.sent:
            if key.startswith(prefix):
                for fn in future.callbacks:
                    fn(None)

    ack(b"2")  # the second message finishes first
    fetcher._commit_finished()
    assert consumer.commits == []  # offset 0 is still open, so nothing may be committed
    ack(b"1")
    step_until(fetcher, lambda: consumer.commits == [2])
