"""The shared sink over real Cassandra: every table equals the independent expectation,
changed deals leave no stale sort rows, and a late, older replay never overwrites newer data."""
from __future__ import annotations

import random
from datetime import timedelta

import pytest

from tests import factories
from tests.conftest import deals_sink_runner
from tests.integration.tables import assert_deal_tables_match

pytestmark = pytest.mark.integration


def changed_versions(raws: list[dict], *, seed: int) -> list[dict]:
    """Newer versions of some deals: new price, value, category or merchant, later updated_at."""
    rng = random.Random(seed)
    newer = []
    for raw in rng.sample(raws, k=len(raws) // 3):
        version = factories.deal(rng, raw["id"], updated_at=factories.BASE_TIME + timedelta(days=2))
        newer.append(version)
    return newer


def test_sink_writes_every_table_like_the_oracle(run_deals_batch, cassandra_session):
    raws = factories.deals(300, seed=11)
    report = run_deals_batch(raws)
    assert (report.rows_in, report.dead_letters, report.deals_written) == (300, 0, 300)
    assert_deal_tables_match(cassandra_session, raws)


def test_changed_deals_leave_no_stale_sort_rows(run_deals_batch, cassandra_session):
    raws = factories.deals(200, seed=12)
    run_deals_batch(raws)
    newer = changed_versions(raws, seed=13)
    report = run_deals_batch(newer, start_offset=1000)
    assert report.stale_rows_deleted > 0
    assert_deal_tables_match(cassandra_session, raws + newer)


def test_late_older_replay_never_overwrites(run_deals_batch, cassandra_session):
    raws = factories.deals(100, seed=14)
    newer = changed_versions(raws, seed=15)
    run_deals_batch(raws + newer)
    run_deals_batch(raws, start_offset=5000)  # the old versions arrive again, late
    assert_deal_tables_match(cassandra_session, raws + newer)


def test_versions_within_one_batch_keep_the_newest(run_deals_batch, cassandra_session):
    raws = factories.deals(100, seed=16)
    newer = changed_versions(raws, seed=17)
    run_deals_batch(newer + raws)  # newest first in the batch: order must not matter
    assert_deal_tables_match(cassandra_session, raws + newer)


#: The sink's other ways (its default: a small batch written from the driver, pipeline/driver_sink.py):
#: stored rows by direct join (driver-side reads off), and every batch through the connector.
OTHER_WAYS = {"direct-join-reads": {"sink_driver_max_keys": 0}, "connector-writes": {"sink_driver_max_rows": 0}}


@pytest.fixture(params=sorted(OTHER_WAYS))
def run_deals_batch_other_way(request, spark, settings, clean_tables):
    """The same sink, switched to one of its other ways."""
    with deals_sink_runner(spark, settings.model_copy(update=OTHER_WAYS[request.param])) as run:
        yield run


def test_the_other_ways_give_the_same_tables(run_deals_batch_other_way, cassandra_session):
    raws = factories.deals(150, seed=18)
    newer = changed_versions(raws, seed=19)
    run_deals_batch_other_way(raws)
    report = run_deals_batch_other_way(newer, start_offset=1000)
    run_deals_batch_other_way(raws, start_offset=5000)  # late, older replay
    assert report.stale_rows_deleted > 0
    assert_deal_tables_match(cassandra_session, raws + newer)
