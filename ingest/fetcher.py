"""Stage 2 of the Async DQE: a consumer-group member that fetches work messages' pages concurrently.

Each process polls `deal_pages`, hands every page of a work message to its thread pool, publishes each
deal to `deals_raw` (keyed by id, acks=all, idempotent), and commits a work message's offset only once
all of its pages are settled and every one of its deals is acknowledged; commits advance per partition
over a contiguous prefix of finished messages. A page that still fails after the client's retries is
re-queued as a smaller work message (bounded attempts); a deal Kafka would not take stops the process
before the commit, so the message is redelivered. Delivery is at-least-once; keys make it idempotent.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.consumer.subscription_state import ConsumerRebalanceListener
from kafka.errors import KafkaError
from kafka.structs import OffsetAndMetadata

from conf import Settings
from ingest.api_model import DealsPage, DealsQuery, parse_iso
from ingest.client import DealsClient
from ingest.errors import DealsApiError, InvalidWorkMessage, PublishError
from ingest.kafka_io import deal_record, make_consumer
from ingest.progress import Progress
from ingest.work import WorkMessage

log = logging.getLogger(__name__)


class _Work:
    """One work message in flight: pages still to settle and deals still to be acknowledged."""

    def __init__(self, tp: TopicPartition, offset: int, message: WorkMessage | None) -> None:
        self.tp, self.offset, self.message = tp, offset, message
        self._lock = threading.Lock()
        self._pages_left = len(message.pages) if message else 0
        self._acks_left = 0
        self.acked = 0
        self.failed_pages: list[int] = []
        self.publish_error: BaseException | None = None
        self.done = threading.Event()
        self._check()

    def expect(self, n: int) -> None:
        with self._lock:
            self._acks_left += n

    def ack(self, _metadata: object = None) -> None:
        with self._lock:
            self._acks_left -= 1
            self.acked += 1
            self._check()

    def ack_work(self, _metadata: object = None) -> None:
        """A continuation reached `deal_pages`: awaited like a deal, but not a deal."""
        with self._lock:
            self._acks_left -= 1
            self._check()

    def nack(self, exc: BaseException, n: int = 1) -> None:
        with self._lock:
            self.publish_error = self.publish_error or exc
            self._acks_left -= n
            self._check()

    def page_settled(self, failed_page: int | None) -> None:
        with self._lock:
            self._pages_left -= 1
            if failed_page is not None:
                self.failed_pages.append(failed_page)
            self._check()

    @property
    def pages_left(self) -> int:
        return self._pages_left

    def _check(self) -> None:
        if self._pages_left == 0 and self._acks_left == 0:
            self.done.set()


class Fetcher:
    """A fetcher process's engine; `run()` may be called repeatedly, `close()` once."""

    def __init__(
        self,
        settings: Settings,
        client: DealsClient,
        producer: KafkaProducer,
        *,
        progress: Progress | None = None,
        threads: int | None = None,
        consumer: KafkaConsumer | None = None,
    ) -> None:
        self._settings = settings
        self._client = client
        self._producer = producer
        self.progress = progress or Progress()
        self._threads = threads or settings.fetcher_threads
        self._consumer = consumer or make_consumer(settings)
        self._pool = ThreadPoolExecutor(self._threads, thread_name_prefix="fetch")
        self._inflight: dict[TopicPartition, deque[_Work]] = {}
        self._subscribed = False
        self._fatal: PublishError | None = None  # raised from the main loop, never inside a Kafka callback

    # -- main loop (the consumer is used from this thread only) ----------------------------------------

    def run(self, stop: threading.Event, *, until_drained: bool = False, until: float | None = None) -> None:
        """Fetch until `stop`, until the group has no work left (`until_drained`), or the monotonic `until`."""
        if not self._subscribed:
            self._consumer.subscribe([self._settings.topic_deal_pages], listener=_Rebalance(self))
            self._subscribed = True
        next_check = time.monotonic() + 0.5
        while not stop.is_set() and (until is None or time.monotonic() < until):
            self._poll_once()
            self._commit_finished()
            if self._fatal is not None:
                raise self._fatal
            if until_drained and time.monotonic() >= next_check:
                next_check = time.monotonic() + 0.5
                if self.drained():
                    return

    def _poll_once(self) -> None:
        room = 2 * self._threads - self._pending_pages()  # keep the pool's queue one round deep
        if room <= 0:
            self._consumer.pause(*self._consumer.assignment())
        elif self._consumer.paused():
            self._consumer.resume(*self._consumer.paused())
        max_records = max(1, room // self._settings.pages_per_chunk)
        for records in self._consumer.poll(timeout_ms=50, max_records=max_records).values():
            for record in records:
                self._start(TopicPartition(record.topic, record.partition), record.offset, record.value)

    def _pending_pages(self) -> int:
        return sum(w.pages_left for queue in self._inflight.values() for w in queue)

    def _start(self, tp: TopicPartition, offset: int, raw: bytes | None) -> None:
        try:
            message: WorkMessage | None = WorkMessage.from_bytes(raw)
        except InvalidWorkMessage as exc:
            log.error("skipping %s@%d: %s", tp, offset, exc)
            self.progress.error(exc)
            message = None  # settles at once, so its offset is committed and it is not re-read forever
        work = _Work(tp, offset, message)
        self._inflight.setdefault(tp, deque()).append(work)
        for page in message.pages if message else ():
            self._pool.submit(self._fetch_page, work, page)

    # -- worker threads --------------------------------------------------------------------------------

    def _fetch_page(self, work: _Work, page_no: int) -> None:
        message = work.message
        assert message is not None
        failed: int | None = None
        try:
            page = self._client.deals(_query(message, page_no))
            self._publish(work, page)
            # invalid items were rows too: a page they share with deals was full all the same
            if page_no >= message.last_planned and len(page.deals) + page.invalid_items >= message.per_page:
                self._continue(work, page.total)
        except DealsApiError as exc:
            failed = page_no
            self.progress.error(exc)
            log.warning("page %d of %r failed: %s", page_no, message.category, exc)
        except Exception as exc:  # a bug must not strand the work message: fail the page, keep the worker
            failed = page_no
            self.progress.error(exc)
            log.exception("page %d of %r: unexpected error", page_no, message.category)
        finally:
            work.page_settled(failed)

    def _publish(self, work: _Work, page: DealsPage) -> None:
        secret = self._settings.deals_api_key.get_secret_value()
        records = [deal_record(deal, secret=secret) for deal in page.deals]
        work.expect(len(records))
        for sent, (key, value) in enumerate(records):
            try:
                future = self._producer.send(self._settings.topic_deals_raw, key=key, value=value)
            except KafkaError as exc:
                work.nack(exc, len(records) - sent)
                raise PublishError(f"could not enqueue deal {key.decode()}: {exc}") from exc
            future.add_callback(work.ack)
            future.add_errback(work.nack)
        self.progress.add(
            pages=1, empty_pages=int(not records), deals=len(records), invalid=page.invalid_items, bytes=page.body_bytes
        )

    def _continue(self, work: _Work, total: int) -> None:
        """The last planned page was full: the listing outgrew the plan, so plan what its `total` now implies.

        The continuation's messages are acknowledged like deals, so the work message is not committed
        before they are on `deal_pages`: a crash here redoes the page, it never drops the growth.
        """
        assert work.message is not None
        follows = work.message.continuation(total, self._settings.pages_per_chunk)
        log.info(
            "listing %r outgrew its plan; queueing pages %d-%d",
            work.message.category,
            follows[0].pages[0],
            follows[-1].pages[-1],
        )
        work.expect(len(follows))
        for sent, follow in enumerate(follows):
            try:
                future = self._producer.send(
                    self._settings.topic_deal_pages, key=follow.category.encode(), value=follow.to_bytes()
                )
            except KafkaError as exc:
                work.nack(exc, len(follows) - sent)
                raise PublishError(f"could not queue the continuation of {follow.category!r}: {exc}") from exc
            future.add_callback(work.ack_work)
            future.add_errback(work.nack)
        self.progress.add(continuations=1)

    # -- commits ---------------------------------------------------------------------------------------

    def _commit_finished(self, only: set[TopicPartition] | None = None) -> None:
        offsets: dict[TopicPartition, OffsetAndMetadata] = {}
        for tp, queue in self._inflight.items():
            while (only is None or tp in only) and queue and queue[0].done.is_set():
                if not self._settle(queue[0]):
                    break  # never commit past a message whose deals Kafka refused
                offsets[tp] = OffsetAndMetadata(queue.popleft().offset + 1, "", -1)
        if offsets:
            try:
                self._consumer.commit(offsets)
            except KafkaError as exc:  # e.g. a rebalance took the partition: the next owner redoes it
                log.warning("commit of %d partitions failed (work will be redone): %s", len(offsets), exc)

    def _settle(self, work: _Work) -> bool:
        """Re-queue failed pages; False (and a fatal error for the main loop) if Kafka refused deals."""
        if work.publish_error is not None:
            error = PublishError(f"Kafka did not acknowledge deals of {work.tp}@{work.offset}: {work.publish_error}")
            self._fatal = self._fatal or error
            return False
        if work.failed_pages and work.message is not None:
            try:
                self._requeue(work.message, work.failed_pages)
            except PublishError as exc:
                self._fatal = self._fatal or exc
                return False
        self.progress.add(work_done=1, acked=work.acked)
        return True

    def _requeue(self, message: WorkMessage, pages: list[int]) -> None:
        if message.attempt + 1 >= self._settings.fetch_work_attempts:
            log.error("giving up pages %s of %r after %d attempts", pages, message.category, message.attempt + 1)
            self.progress.add(pages_abandoned=len(pages))
            return
        retry = message.retry(pages)
        try:
            self._producer.send(
                self._settings.topic_deal_pages, key=retry.category.encode(), value=retry.to_bytes()
            ).get(timeout=30)
        except KafkaError as exc:
            raise PublishError(f"could not re-queue pages {pages} of {message.category!r}: {exc}") from exc
        self.progress.add(pages_requeued=len(pages))

    def release(self, partitions: set[TopicPartition], timeout_s: float = 30.0) -> None:
        """Before partitions move to another member: finish and commit what is in flight on them."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and any(
            not w.done.is_set() for tp in partitions for w in self._inflight.get(tp, ())
        ):
            time.sleep(0.02)
        self._commit_finished(only=partitions)
        for tp in partitions:
            dropped = self._inflight.pop(tp, deque())
            if dropped:
                log.warning("%d unfinished work messages on %s left to the next owner", len(dropped), tp)

    def drained(self) -> bool:
        """Nothing in flight here and the group's committed offsets reach the end of every partition."""
        if any(self._inflight.values()):
            return False
        topic = self._settings.topic_deal_pages
        partitions = [TopicPartition(topic, p) for p in self._consumer.partitions_for_topic(topic) or ()]
        ends = self._consumer.end_offsets(partitions)
        return all((self._consumer.committed(tp) or 0) >= ends[tp] for tp in partitions)

    def close(self) -> None:
        """Finish in-flight work (bounded), commit it, leave the group."""
        try:
            self.release(set(self._inflight), timeout_s=30.0)
        finally:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._consumer.close(autocommit=False)


class _Rebalance(ConsumerRebalanceListener):
    def __init__(self, fetcher: Fetcher) -> None:
        self._fetcher = fetcher

    def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        self._fetcher.release(set(revoked))

    def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        log.info("fetcher assigned %d partitions of deal_pages", len(assigned))


def _query(message: WorkMessage, page_no: int) -> DealsQuery:
    after: datetime | None = parse_iso(message.updated_after) if message.updated_after else None
    return DealsQuery(page=page_no, per_page=message.per_page, category_slugs=message.slugs, updated_after=after)
