"""kill -9 a fetcher process mid-crawl, start another: no deal of the catalog is missing from deals_raw.

The fetchers are real `exstreamly fetcher` processes of one consumer group; the simulator runs in this
process with a frozen clock, so the ground truth is exact: every live deal must land at least once.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from conf.clients import ensure_topics
from conf.settings import Settings
from ingest.client import DealsClient
from ingest.kafka_io import ingest_topics, make_producer
from ingest.planner import make_plan, publish_plan
from ingest.simulator import ManualClock, SimConfig, Simulator, SimulatorServer
from ingest.simulator.config import SQOOT_2016
from tests.integration.ingest_fixtures import (
    crawl_settings,
    ingest_process,
    landed,
    plan_lag,
    read_and_drop,
    wait_until,
)

pytestmark = pytest.mark.integration


def test_kill_9_a_fetcher_mid_crawl_and_restart_loses_no_deal(
    kafka_bootstrap: str, settings: Settings, tmp_path: Path
) -> None:
    # 40 ms a page and 2 threads a process: the crawl takes long enough to be killed in the middle
    sim = Simulator(SimConfig(seed=13, deals=20_000, latency_s=0.04), clock=ManualClock(SQOOT_2016))
    with SimulatorServer(sim) as server:
        crawl = crawl_settings(settings, server.url, "itest_ingest_kill")
        ensure_topics(crawl, ingest_topics(crawl))
        with DealsClient(crawl) as client:
            plan = make_plan(crawl, client)
        producer = make_producer(crawl)
        publish_plan(crawl, producer, plan)
        producer.close()

        log_path = tmp_path / "fetchers.log"
        victim = ingest_process(crawl, log_path, "fetcher", "--threads", "2")
        survivor = ingest_process(crawl, log_path, "fetcher", "--threads", "2")
        try:
            wait_until(lambda: landed(crawl) >= 4_000, 60, "the first deals to land")
            os.kill(victim.pid, signal.SIGKILL)
            victim.wait(10)
            assert plan_lag(crawl) > 0, "the crawl finished before the kill: nothing was tested"
            replacement = ingest_process(crawl, log_path, "fetcher", "--threads", "2")
            try:
                wait_until(lambda: plan_lag(crawl) == 0, 120, "the group to finish the plan")
            finally:
                replacement.send_signal(signal.SIGTERM)
                assert replacement.wait(60) == 0, log_path.read_text()[-3000:]
        finally:
            survivor.send_signal(signal.SIGTERM)
            survivor.wait(60)

        live = sim.live_at(sim.now())
    stored = read_and_drop(crawl)
    missing = live - stored.by_id.keys()
    assert not missing, f"{len(missing)} of {len(live)} live deals missing, e.g. {sorted(missing)[:5]}"
    assert stored.by_id.keys() == live  # and nothing that was not live
    assert stored.bad_keys == 0
