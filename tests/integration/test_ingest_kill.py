"""kill -9 a fetcher process mid-crawl, start another: no deal of the catalog is missing from deals_raw.

The fetchers are real `exstreamly fetcher` processes of one consumer group; the simulator runs in this
process with a frozen clock, so the ground truth is exact: every live deal must land at least once.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition

from conf.clients import delete_topics, ensure_topics
from conf.settings import Settings
from ingest.client import DealsClient
from ingest.kafka_io import ingest_topics, make_producer
from ingest.planner import make_plan, publish_plan
from ingest.readback import read_deals
from ingest.simulator import ManualClock, SimConfig, Simulator, SimulatorServer
from ingest.simulator.config import SQOOT_2016

pytestmark = pytest.mark.integration
EXSTREAMLY = Path(sys.executable).with_name("exstreamly")


def _fetcher(settings: Settings, log_path: Path) -> subprocess.Popen[bytes]:
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
        return subprocess.Popen([str(EXSTREAMLY), "fetcher", "--threads", "2"], env=env, stdout=log, stderr=log)


def _landed(settings: Settings) -> int:
    consumer = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap)
    try:
        parts = [
            TopicPartition(settings.topic_deals_raw, p)
            for p in consumer.partitions_for_topic(settings.topic_deals_raw) or ()
        ]
        return sum(consumer.end_offsets(parts).values())
    finally:
        consumer.close()


def _lag(settings: Settings) -> int:
    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    consumer = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap)
    try:
        committed = admin.list_consumer_group_offsets(settings.fetcher_group)
        parts = [
            TopicPartition(settings.topic_deal_pages, p)
            for p in consumer.partitions_for_topic(settings.topic_deal_pages) or ()
        ]
        ends = consumer.end_offsets(parts)
        return sum(ends[tp] - (committed[tp].offset if tp in committed else 0) for tp in parts)
    finally:
        admin.close()
        consumer.close()


def _wait(condition: object, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(0.2)


def test_kill_9_a_fetcher_mid_crawl_and_restart_loses_no_deal(
    kafka_bootstrap: str, settings: Settings, tmp_path: Path
) -> None:
    # 40 ms a page and 2 threads a process: the crawl takes long enough to be killed in the middle
    sim = Simulator(SimConfig(seed=13, deals=20_000, latency_s=0.04), clock=ManualClock(SQOOT_2016))
    with SimulatorServer(sim) as server:
        run = uuid.uuid4().hex[:8]
        crawl_settings = settings.model_copy(
            update={
                "deals_api_url": server.url,
                "topic_deals_raw": f"itest_ingest_kill_raw_{run}",
                "topic_deal_pages": f"itest_ingest_kill_pages_{run}",
                "fetcher_group": f"itest_ingest_kill_{run}",
            }
        )
        ensure_topics(crawl_settings, ingest_topics(crawl_settings))
        with DealsClient(crawl_settings) as client:
            plan = make_plan(crawl_settings, client)
        producer = make_producer(crawl_settings)
        publish_plan(crawl_settings, producer, plan)
        producer.close()

        log_path = tmp_path / "fetchers.log"
        victim = _fetcher(crawl_settings, log_path)
        survivor = _fetcher(crawl_settings, log_path)
        try:
            _wait(lambda: _landed(crawl_settings) >= 4_000, 60, "the first deals to land")
            os.kill(victim.pid, signal.SIGKILL)
            victim.wait(10)
            assert _lag(crawl_settings) > 0, "the crawl finished before the kill: nothing was tested"
            replacement = _fetcher(crawl_settings, log_path)
            try:
                _wait(lambda: _lag(crawl_settings) == 0, 120, "the group to finish the plan")
            finally:
                replacement.send_signal(signal.SIGTERM)
                assert replacement.wait(60) == 0, log_path.read_text()[-3000:]
        finally:
            survivor.send_signal(signal.SIGTERM)
            survivor.wait(60)

        live = sim.live_at(sim.now())
    try:
        landed = read_deals(crawl_settings)
    finally:
        delete_topics(crawl_settings, [crawl_settings.topic_deals_raw, crawl_settings.topic_deal_pages])
    missing = live - landed.by_id.keys()
    assert not missing, f"{len(missing)} of {len(live)} live deals missing, e.g. {sorted(missing)[:5]}"
    assert landed.by_id.keys() == live  # and nothing that was not live
    assert landed.bad_keys == 0
