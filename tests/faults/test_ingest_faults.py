"""Faults in the crawl (the Async DQE's planner and fetchers, real `exstreamly` processes of one consumer
group) against a simulator with a frozen clock, so the truth is exact: afterwards deals_raw holds every
live deal of the catalog and nothing else. The topic is at-least-once (a page whose commit a fault
interrupted is fetched again), so duplicated records are counted and reported, not failed: every store
after it is keyed by deal id and version, which the speed-layer cases (test_faults.py) check exactly.
Each case writes its tally and recovery time to `.runtime/faults/<case>.json`."""
from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from conf.clients import ensure_topics
from conf.settings import Settings
from ingest.kafka_io import ingest_topics
from ingest.simulator import ManualClock, SimConfig, Simulator, SimulatorServer
from ingest.simulator.config import SQOOT_2016
from tests.faults.checker import write_result
from tests.faults.faults import freeze
from tests.integration.ingest_fixtures import (
    crawl_settings,
    ingest_process,
    landed,
    plan_lag,
    read_and_drop,
    wait_until,
)

pytestmark = [pytest.mark.integration, pytest.mark.faults, pytest.mark.faults_full]
#: 300 ms a page and one page in flight a process: the crawl outlasts a pause (about 30 s for 200 pages)
SIM = SimConfig(seed=17, deals=20_000, latency_s=0.3)
STRIKE_AT_RECORDS = 2_000
PAUSE_S = 20  # twice the fetchers' 10 s group session: the group gives a paused member's work away


def crawler(crawl: Settings, log: Path) -> subprocess.Popen[bytes]:
    """The planner: plans one full round, publishes it and fetches with the group until it is drained."""
    return ingest_process(crawl, log, "crawl", "--threads", "1")


def fetcher(crawl: Settings, log: Path) -> subprocess.Popen[bytes]:
    return ingest_process(crawl, log, "fetcher", "--threads", "1")


def kill9_and_restart(proc: subprocess.Popen[bytes], restart: Callable[[], subprocess.Popen[bytes]]
                      ) -> subprocess.Popen[bytes]:
    proc.kill()
    proc.wait(10)
    return restart()


def pause(proc: subprocess.Popen[bytes]) -> subprocess.Popen[bytes]:
    freeze(proc.pid, PAUSE_S)
    return proc


@pytest.mark.parametrize("case", ["planner-kill9", "planner-pause", "fetcher-pause"])
def test_after_a_crawl_fault_deals_raw_holds_every_live_deal(case, settings, kafka_bootstrap, tmp_path):
    sim = Simulator(SIM, clock=ManualClock(SQOOT_2016))
    log = tmp_path / "crawl.log"
    with SimulatorServer(sim) as server:
        crawl = crawl_settings(settings, server.url, f"fault_{case.replace('-', '_')}")
        ensure_topics(crawl, ingest_topics(crawl))
        planner, helper = crawler(crawl, log), fetcher(crawl, log)
        try:
            wait_until(lambda: landed(crawl) >= STRIKE_AT_RECORDS, 120, "the first deals to land")
            struck = time.monotonic()
            if case == "planner-kill9":
                planner = kill9_and_restart(planner, lambda: crawler(crawl, log))
            elif case == "planner-pause":
                planner = pause(planner)
            else:
                helper = pause(helper)
            fault_s = time.monotonic() - struck
            assert plan_lag(crawl) > 0, "the crawl finished before the fault ended: nothing was tested"
            recovered = time.monotonic()
            assert planner.wait(300) == 0, log.read_text()[-3000:]  # the round ends once the group drained
            recovery_s = time.monotonic() - recovered
            assert plan_lag(crawl) == 0
            assert helper.poll() is None, f"the fetcher stopped: {log.read_text()[-3000:]}"  # nobody restarts it
        finally:
            for proc in (planner, helper):
                proc.send_signal(signal.SIGTERM)
            for proc in (planner, helper):
                proc.wait(60)
        live = sim.live_at(sim.now())
    stored = read_and_drop(crawl)
    lost, extra = live - stored.by_id.keys(), stored.by_id.keys() - live
    write_result(settings, case, {
        "fault_s": round(fault_s, 1), "recovery_s": round(recovery_s, 1),  # here: until the round ended
        "tallies": {"deals_raw": {"truth": len(live), "stored": len(stored.by_id), "lost": len(lost),
                                  "unacknowledged": len(extra), "duplicated_records": stored.duplicates,
                                  "bad_keys": stored.bad_keys}}})
    assert not lost, f"{len(lost)} of {len(live)} live deals missing, e.g. {sorted(lost)[:5]}"
    assert not extra, f"{len(extra)} deals that were not live, e.g. {sorted(extra)[:5]}"
    assert stored.bad_keys == 0
