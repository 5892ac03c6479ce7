"""Speed layer for interest alerts: Kafka `deals_raw` -> the shared deal transforms -> matching -> alerts.

Input:  Kafka topic `deals_raw` (the same records as the deals stream, read by a query of its own);
        the saved interests in Cassandra (`interests_by_key`, re-read when `interest_index_version` moves).
Output: `alerts_by_user`, `alerts_by_interest_day`, `alert_state_by_deal` and Kafka `deal_alerts`
        (keyed by user id) via `AlertSink` in foreachBatch, checkpointed under `<checkpoints>/alerts`.
Run:    ./spark-submit.sh streaming/alerts_job.py [--available-now]

A stream of its own (not a step of the deals sink): its checkpoint, its retries and its cost are its
own, so a slow match never holds the deal tables back, and the deal tables' code stays untouched.
"""
from __future__ import annotations

import argparse
import logging
from collections.abc import Callable

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.streaming import StreamingQuery

from conf.clients import ensure_topics
from conf.settings import Settings, load_settings
from conf.spark_session import job_session
from pipeline.alert_sink import AlertReport, alert_sink
from streaming.data_loss import stop_clearly_on_data_loss
from streaming.foreach_batch import foreach_batch
from streaming.kafka_source import read_topic
from streaming.trigger import trigger

log = logging.getLogger(__name__)


def start_alerts_stream(
    spark: SparkSession, settings: Settings, *, available_now: bool = False, checkpoint: str | None = None,
    sink: Callable[[DataFrame, int | None], AlertReport] | None = None,
) -> StreamingQuery:
    spark.conf.set("spark.sql.adaptive.enabled", "false")  # small micro-batches: see deals_job
    ensure_topics(settings, {settings.topic_deal_alerts: settings.deal_alerts_partitions})
    writer = (
        read_topic(spark, settings, settings.topic_deals_raw)
        .writeStream.foreachBatch(foreach_batch(sink or alert_sink(settings), retry_for_s=settings.sink_retry_s))
        .option("checkpointLocation", checkpoint or f"{settings.checkpoint_root.rstrip('/')}/alerts")
        .queryName("alerts")
    )
    return writer.trigger(**trigger(available_now, settings.trigger_seconds)).start()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--available-now", action="store_true", help="process what is in Kafka, then stop")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    spark, settings = job_session("exstreamly-alerts-stream"), load_settings()
    query = start_alerts_stream(spark, settings, available_now=args.available_now)
    with stop_clearly_on_data_loss(settings.checkpoint_root, [query]):
        query.awaitTermination()


if __name__ == "__main__":
    main()
