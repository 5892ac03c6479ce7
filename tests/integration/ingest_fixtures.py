"""Crawl processes and what they did, for the tests that kill or pause them mid-crawl
(tests/integration/test_ingest_kill.py, tests/faults/test_ingest_faults.py): real `exstreamly`
processes against a simulator served by the test, their progress read from Kafka."""
from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition

from conf.clients import delete_topics
from conf.settings import Settings
from ingest.readback import Landed, read_deals

EXSTREAMLY = Path(sys.executable).with_name("exstreamly")


def crawl_settings(settings: Settings, api_url: str, name: str) -> Settings:
    """Topics and a fetcher group of this crawl's own, against the simulator at `api_url`."""
    run = uuid.uuid4().hex[:8]
    return settings.model_copy(update={"deals_api_url": api_url, "topic_deals_raw": f"{name}_raw_{run}",
                                       "topic_deal_pages": f"{name}_pages_{run}", "fetcher_group": f"{name}_{run}"})


def ingest_process(settings: Settings, log_path: Path, *args: str) -> subprocess.Popen[bytes]:
    """`exstreamly <args>` (fetcher, crawl) with `settings`' API, topics and group, its output in `log_path`."""
    env = os.environ | {
        "EXS_DEALS_API_URL": settings.deals_api_url,
        "EXS_TOPIC_DEALS_RAW": settings.topic_deals_raw,
        "EXS_TOPIC_DEAL_PAGES": settings.topic_deal_pages,
        "EXS_FETCHER_GROUP": settings.fetcher_group,
        "EXS_DEALS_API_RATE_PER_S": "5000",
        "EXS_KAFKA_HOST": settings.kafka_host,
        "EXS_KAFKA_PORT": str(settings.kafka_port),
    }
    with log_path.open("ab") as log:
        return subprocess.Popen([str(EXSTREAMLY), *args], env=env, stdout=log, stderr=log)


def read_and_drop(crawl: Settings) -> Landed:
    """Every deal record the crawl landed in deals_raw; then the crawl's topics are deleted."""
    try:
        return read_deals(crawl)
    finally:
        delete_topics(crawl, [crawl.topic_deals_raw, crawl.topic_deal_pages])


def landed(settings: Settings) -> int:
    """Records in deals_raw so far."""
    consumer = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap)
    try:
        parts = [TopicPartition(settings.topic_deals_raw, p)
                 for p in consumer.partitions_for_topic(settings.topic_deals_raw) or ()]
        return sum(consumer.end_offsets(parts).values())
    finally:
        consumer.close()


def plan_lag(settings: Settings) -> int:
    """Work messages of deal_pages the fetcher group has not committed yet."""
    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    consumer = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap)
    try:
        committed = admin.list_consumer_group_offsets(settings.fetcher_group)
        parts = [TopicPartition(settings.topic_deal_pages, p)
                 for p in consumer.partitions_for_topic(settings.topic_deal_pages) or ()]
        ends = consumer.end_offsets(parts)
        return sum(ends[tp] - (committed[tp].offset if tp in committed else 0) for tp in parts)
    finally:
        admin.close()
        consumer.close()


def wait_until(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(0.2)
