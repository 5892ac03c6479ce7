"""Running the Async DQE: one round (plan → publish → fetch until drained) or rounds on a schedule.

The first round is a full crawl unless `since` is given; each later round asks only for deals with
`updated_after` = the previous round's snapshot (the API server's clock) minus `refresh_overlap_s`.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from kafka import KafkaProducer

from conf import Settings
from conf.clients import ensure_topics
from ingest.client import DealsClient
from ingest.fetcher import Fetcher
from ingest.kafka_io import ingest_topics, make_producer
from ingest.planner import Plan, make_plan, publish_plan
from ingest.progress import Progress, Reporter

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RoundResult:
    plan: Plan
    elapsed_s: float
    counts: dict[str, int]


def crawl_round(
    settings: Settings,
    client: DealsClient,
    producer: KafkaProducer,
    fetcher: Fetcher,
    stop: threading.Event,
    *,
    categories: list[str] | None = None,
    updated_after: datetime | None = None,
) -> RoundResult:
    """Plan, publish the plan, and fetch until the group has no work left (or `stop`)."""
    began = time.monotonic()
    before = fetcher.progress.snapshot()
    plan = make_plan(settings, client, categories=categories, updated_after=updated_after)
    publish_plan(settings, producer, plan)
    fetcher.run(stop, until_drained=True)
    producer.flush()
    after = fetcher.progress.snapshot()
    counts = {k: v - before.get(k, 0) for k, v in after.items()}
    return RoundResult(plan, time.monotonic() - began, counts)


def crawl(
    settings: Settings,
    stop: threading.Event,
    *,
    every_s: float | None = None,
    categories: list[str] | None = None,
    since: datetime | None = None,
    threads: int | None = None,
    progress_every_s: float = 5.0,
) -> list[RoundResult]:
    """Rounds until `stop`; a single round when `every_s` is None."""
    ensure_topics(settings, ingest_topics(settings))
    results: list[RoundResult] = []
    progress = Progress()
    with DealsClient(settings, pool_size=threads) as client, Reporter(progress, progress_every_s):
        producer = make_producer(settings)
        fetcher = Fetcher(settings, client, producer, progress=progress, threads=threads)
        try:
            updated_after = since
            while not stop.is_set():
                result = crawl_round(
                    settings, client, producer, fetcher, stop, categories=categories, updated_after=updated_after
                )
                results.append(result)
                log.info("round done in %.1f s: %s", result.elapsed_s, progress.line())
                if every_s is None:
                    break
                updated_after = result.plan.snapshot - timedelta(seconds=settings.refresh_overlap_s)
                # keep serving the group between rounds (and stay in it: no max_poll_interval expiry)
                fetcher.run(stop, until=time.monotonic() + max(0.0, every_s - result.elapsed_s))
        finally:
            fetcher.close()
            producer.close(timeout=30)
    return results


def run_fetcher(
    settings: Settings, stop: threading.Event, *, threads: int | None = None, progress_every_s: float = 5.0
) -> None:
    """One long-running fetcher process of the consumer group."""
    ensure_topics(settings, ingest_topics(settings))
    progress = Progress()
    with DealsClient(settings, pool_size=threads) as client, Reporter(progress, progress_every_s):
        producer = make_producer(settings)
        fetcher = Fetcher(settings, client, producer, progress=progress, threads=threads)
        try:
            fetcher.run(stop)
        finally:
            fetcher.close()
            producer.close(timeout=30)
