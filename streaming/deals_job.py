"""Speed layer for deals: Kafka `deals_raw` -> the shared transforms -> every deal and score table.

Input:  Kafka topic `deals_raw` (one raw Sqoot deal JSON per record, keyed by deal id).
Output: two queries over the topic, each bounded by `maxOffsetsPerTrigger`:
        `deals`, the deal tables via `DealTablesSink` (checkpoint `<checkpoints>/deals`, trigger
        EXS_TRIGGER_SECONDS), and `deal-scores`, the score tables via `DealScoreSink` (checkpoint
        `<checkpoints>/deal-scores`, trigger EXS_SCORE_TRIGGER_SECONDS).
Run:    ./spark-submit.sh streaming/deals_job.py [--available-now]

Why two queries: scoring reads each deal's and each item's history and writes seven tables, about as
many Spark jobs as the deal tables themselves. Inline, it doubled every micro-batch and so the time
from a produced deal to a readable `deals_by_id` row. On its own, slower trigger it runs over larger
batches (a fixed cost per batch, paid less often) and never delays the deal tables. Both sinks are
idempotent upserts on deterministic keys with checkpoints of their own, so each query replays
independently after a crash; the batch layer still scores in the same pass as it writes.
"""
from __future__ import annotations

import argparse
import logging
from collections.abc import Callable

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.streaming import StreamingQuery

from conf.settings import Settings, load_settings
from conf.spark_session import job_session
from pipeline.score_sink import DealScoreSink
from pipeline.sink import BatchReport, deal_tables_sink
from streaming.data_loss import stop_clearly_on_data_loss
from streaming.foreach_batch import foreach_batch
from streaming.kafka_source import read_topic
from streaming.trigger import trigger

log = logging.getLogger(__name__)


def start_deals_stream(
    spark: SparkSession, settings: Settings, *, available_now: bool = False, checkpoint: str | None = None,
    sink: Callable[[DataFrame, int | None], BatchReport] | None = None,
) -> StreamingQuery:
    # A micro-batch is a few thousand rows at most and its sink runs many small jobs: adaptive
    # re-planning adds a job per stage and buys nothing at that size. (The batch layer keeps it.)
    spark.conf.set("spark.sql.adaptive.enabled", "false")
    writer = (
        read_topic(spark, settings, settings.topic_deals_raw)
        .writeStream.foreachBatch(foreach_batch(sink or deal_tables_sink(settings, scores=False),
                                                 retry_for_s=settings.sink_retry_s))
        .option("checkpointLocation", checkpoint or f"{settings.checkpoint_root.rstrip('/')}/deals")
        .queryName("deals")
    )
    return writer.trigger(**trigger(available_now, settings.trigger_seconds)).start()


def start_scores_stream(
    spark: SparkSession, settings: Settings, *, available_now: bool = False, checkpoint: str | None = None,
    sink: DealScoreSink | None = None,
) -> StreamingQuery:
    """The score tables from the same topic, on their own (slower) trigger; see the module docstring."""
    spark.conf.set("spark.sql.adaptive.enabled", "false")
    writer = (
        read_topic(spark, settings, settings.topic_deals_raw, max_offsets=settings.score_max_offsets_per_trigger)
        .writeStream.foreachBatch(foreach_batch((sink or DealScoreSink(settings)).from_raw,
                                                 retry_for_s=settings.sink_retry_s))
        .option("checkpointLocation", checkpoint or f"{settings.checkpoint_root.rstrip('/')}/deal-scores")
        .queryName("deal-scores")
    )
    return writer.trigger(**trigger(available_now, settings.score_trigger_seconds)).start()


def start_deal_streams(spark: SparkSession, settings: Settings, *, available_now: bool = False) -> list[StreamingQuery]:
    """Both queries of the deals speed layer."""
    return [start_deals_stream(spark, settings, available_now=available_now),
            start_scores_stream(spark, settings, available_now=available_now)]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--available-now", action="store_true", help="process what is in Kafka, then stop")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    spark, settings = job_session("exstreamly-deals-stream"), load_settings()
    queries = start_deal_streams(spark, settings, available_now=args.available_now)
    with stop_clearly_on_data_loss(settings.checkpoint_root, queries):
        if args.available_now:
            for query in queries:
                query.awaitTermination()
        else:
            spark.streams.awaitAnyTermination()  # the first query to fail ends the job


if __name__ == "__main__":
    main()
