"""A full Async DQE crawl against the churning simulator, measured against its ground truth.

Real Kafka (topics of their own), the simulator in-process on a loopback port. Coverage is computed from
what landed in `deals_raw`, read back with a plain consumer, against the simulator's truth log.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator

import pytest

from conf.clients import delete_topics
from conf.settings import Settings
from ingest.crawl import crawl
from ingest.readback import Landed, read_deals
from ingest.simulator import ManualClock, SimConfig, Simulator, SimulatorServer
from ingest.simulator.config import SQOOT_2016

pytestmark = pytest.mark.integration

DEAL_KEYS = {
    "id",
    "title",
    "short_title",
    "description",
    "fine_print",
    "number_sold",
    "url",
    "untracked_url",
    "price",
    "value",
    "discount_amount",
    "discount_percentage",
    "provider_name",
    "provider_slug",
    "category_name",
    "category_slug",
    "image_url",
    "online",
    "expires_at",
    "created_at",
    "updated_at",
    "merchant",
}


_CREATED: list[Settings] = []


@pytest.fixture(scope="module", autouse=True)
def _drop_topics() -> Iterator[None]:
    yield
    for made in _CREATED:
        delete_topics(made, [made.topic_deals_raw, made.topic_deal_pages])


def ingest_settings(settings: Settings, url: str) -> Settings:
    run = uuid.uuid4().hex[:8]
    made = settings.model_copy(
        update={
            "deals_api_url": url,
            "topic_deals_raw": f"itest_ingest_raw_{run}",
            "topic_deal_pages": f"itest_ingest_pages_{run}",
            "fetcher_group": f"itest_ingest_{run}",
            "deals_api_rate_per_s": 5000.0,
            "fetcher_threads": 8,
        }
    )
    _CREATED.append(made)
    return made


def assert_versions_are_true(sim: Simulator, landed: Landed) -> None:
    """Every captured deal equals a version the simulator really served (no invented or mixed data)."""
    for deal_id, copies in landed.by_id.items():
        truth = {(v.updated_at, v.price, v.value, v.number_sold) for v in sim.versions(deal_id)}
        for deal in copies:
            assert (deal["updated_at"], deal["price"], deal["value"], deal["number_sold"]) in truth, deal_id


@pytest.fixture(scope="module")
def churning() -> Iterator[tuple[Simulator, SimulatorServer]]:
    # 120 simulated seconds per second: during a crawl of a few seconds, dozens of deals appear, change
    # and vanish, so pages shift under the crawler
    sim = Simulator(SimConfig(seed=11, deals=20_000, time_scale=120.0, latency_s=0.005))
    with SimulatorServer(sim) as server:
        yield sim, server


def test_full_crawl_covers_the_live_catalog_while_it_churns(
    kafka_bootstrap: str, settings: Settings, churning: tuple[Simulator, SimulatorServer]
) -> None:
    sim, server = churning
    crawl_settings = ingest_settings(settings, server.url)
    start = sim.now()
    [result] = crawl(crawl_settings, threading.Event())
    end = sim.now()

    landed = read_deals(crawl_settings)
    truth = sim.live_throughout(start, end)
    captured = truth & landed.by_id.keys()
    coverage = len(captured) / len(truth)
    assert coverage >= 0.999, f"coverage {coverage:.5f}: {len(truth) - len(captured)} of {len(truth)} missed"
    assert landed.bad_keys == 0
    assert landed.records == result.counts["acked"]
    assert all(set(deal) == DEAL_KEYS for copies in landed.by_id.values() for deal in copies)
    assert_versions_are_true(sim, landed)


def test_incremental_round_captures_every_change_since_the_snapshot(kafka_bootstrap: str, settings: Settings) -> None:
    clock = ManualClock(SQOOT_2016)
    sim = Simulator(SimConfig(seed=12, deals=5_000), clock=clock)
    with SimulatorServer(sim) as server:
        crawl_settings = ingest_settings(settings, server.url)
        [full] = crawl(crawl_settings, threading.Event())
        clock.advance(3600)  # a simulated hour of churn while nobody crawls
        since = full.plan.snapshot
        [incremental] = crawl(crawl_settings, threading.Event(), since=since)

    assert incremental.plan.updated_after == since
    landed = read_deals(crawl_settings)
    now = clock.now()
    changed = {
        v.deal_id: v
        for v in sim.all_versions()
        if v.valid_from > since.timestamp() and v.valid_to is None  # the current version, made after the snapshot
    }
    assert len(changed) > 100, "the churn should have changed or added many deals"
    assert sim.live_at(now) >= changed.keys()
    for deal_id, version in changed.items():
        assert version.updated_at in {d["updated_at"] for d in landed.by_id.get(deal_id, [])}, deal_id
    # only the changes come back (the clock is frozen during the round, so nothing else moves)
    assert len(changed) <= incremental.counts["deals"] <= len(changed) + 5 < full.counts["deals"] / 2
    assert_versions_are_true(sim, landed)
