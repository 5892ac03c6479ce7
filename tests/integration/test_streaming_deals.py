"""Kafka -> Structured Streaming -> Cassandra over the real stack: content, batch parity, restarts."""
from __future__ import annotations

import random

import pytest

from batch.deals_job import run_deals_batch as run_batch_job
from pipeline.score_sink import DealScoreSink
from pipeline.sink import DealTablesSink
from streaming.archive_job import start_archive
from streaming.deals_job import start_deals_stream, start_scores_stream
from tests import factories
from tests.integration.kafka_io import produce
from tests.integration.tables import assert_deal_tables_match, snapshot
from tests.market_factories import market

pytestmark = pytest.mark.integration


def run_stream(spark, settings, checkpoint: str) -> DealTablesSink:
    """The deals job as the speed layer runs it: the deal tables and the scores, each its own query."""
    sink, scores = DealTablesSink(settings, scores=False), DealScoreSink(settings)
    queries = [start_deals_stream(spark, settings, available_now=True, checkpoint=checkpoint, sink=sink),
               start_scores_stream(spark, settings, available_now=True, checkpoint=f"{checkpoint}-scores",
                                   sink=scores)]
    try:
        # availableNow ends by itself; the bound only turns a hang into a failure that says so
        finished = [query.awaitTermination(timeout=900) for query in queries]
    finally:
        for query in queries:
            query.stop()
        sink.close()
        scores.close()
    assert [query.exception() for query in queries] == [None, None]
    assert finished == [True, True], "a query did not finish within 900 s"
    return sink


@pytest.fixture()
def topic_settings(settings, kafka_bootstrap, request):
    """Settings with a topic of this test's own, so tests never read each other's records."""
    name = f"{settings.topic_deals_raw}_{request.node.name[:40]}"
    return settings.model_copy(update={"topic_deals_raw": name})


def test_stream_lands_every_record_and_batch_over_the_lake_agrees(spark, topic_settings, clean_tables, tmp_path):
    # the market's sellers of one item give the cross-seller scores (street price, area comparables,
    # inflated values) something to compare: stream and batch must agree on those too
    catalog = factories.deals(400, seed=21)
    raws = market(random.Random(21)) + catalog
    newer = [factories.deal(random.Random(i), r["id"],
                            updated_at=factories.BASE_TIME.replace(day=5)) for i, r in enumerate(catalog[:50])]
    produce(topic_settings.kafka_bootstrap, topic_settings.topic_deals_raw, raws + newer)

    sink = run_stream(spark, topic_settings, (tmp_path / "ck-deals").as_uri())
    assert sum(r.rows_in for r in sink.reports) == len(raws) + len(newer)
    assert_deal_tables_match(clean_tables, raws + newer)
    streamed = snapshot(clean_tables)

    archive = start_archive(spark, topic_settings, topic_settings.topic_deals_raw, available_now=True)
    archive.awaitTermination(timeout=300)
    archive.stop()
    for table in streamed:
        clean_tables.execute(f"TRUNCATE {table}")
    run_batch_job(spark, topic_settings)
    assert snapshot(clean_tables) == streamed


def test_restart_from_checkpoint_neither_duplicates_nor_loses(spark, topic_settings, clean_tables, tmp_path):
    raws = factories.deals(300, seed=22)
    checkpoint = (tmp_path / "ck-restart").as_uri()
    produce(topic_settings.kafka_bootstrap, topic_settings.topic_deals_raw, raws[:120])
    first = run_stream(spark, topic_settings, checkpoint)
    produce(topic_settings.kafka_bootstrap, topic_settings.topic_deals_raw, raws[120:])
    second = run_stream(spark, topic_settings, checkpoint)
    assert sum(r.rows_in for r in first.reports) == 120
    assert sum(r.rows_in for r in second.reports) == 180
    assert_deal_tables_match(clean_tables, raws)
