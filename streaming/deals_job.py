"""Speed layer for deals: Kafka `deals_raw` -> the shared transforms -> every deal table.

Input:  Kafka topic `deals_raw` (one raw Sqoot deal JSON per record, keyed by deal id).
Output: the Cassandra deal tables (conf/cassandra/schema.cql) via `DealTablesSink` in foreachBatch,
        checkpointed under `<checkpoints>/deals`, bounded by `maxOffsetsPerTrigger`.
Run:    ./spark-submit.sh streaming/deals_job.py [--available-now]
"""
from __future__ import annotations

import argparse
import logging
from collections.abc import Callable

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.streaming import StreamingQuery

from conf.settings import Settings, load_settings
from pipeline.sink import BatchReport, deal_tables_sink
from streaming.foreach_batch import foreach_batch
from streaming.kafka_source import read_topic

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
        .writeStream.foreachBatch(foreach_batch(sink or deal_tables_sink(settings)))
        .option("checkpointLocation", checkpoint or f"{settings.checkpoint_root.rstrip('/')}/deals")
        .queryName("deals")
    )
    trigger = {"availableNow": True} if available_now else {"processingTime": f"{settings.trigger_seconds} seconds"}
    return writer.trigger(**trigger).start()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--available-now", action="store_true", help="process what is in Kafka, then stop")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    spark = SparkSession.builder.appName("exstreamly-deals-stream").getOrCreate()
    start_deals_stream(spark, load_settings(), available_now=args.available_now).awaitTermination()


if __name__ == "__main__":
    main()
