"""Speed layer for user activity: Kafka `user_events` -> the shared activity transforms -> Cassandra.

Input:  Kafka topic `user_events` (one JSON interaction per record, keyed by user id).
Output: two queries over the same topic, checkpointed under `<checkpoints>/activity-events` and
        `<checkpoints>/activity-windows-v<WINDOWS_STATE_VERSION>`:
        - events (stateless): dead_letters_by_day, late_events_by_day, purchases_by_minute,
          purchases_by_user, via `ActivityEventsSink` in foreachBatch; with EXS_ACTIVITY_REVIEWS
          (default on) also the review and rating tables (`pipeline/review_sink.py`);
        - windows (stateful, update mode, watermarked on event time): trending_categories_by_bucket,
          sales_by_second, activity_by_cell, merchant_sales_by_category (and ratings_by_cell), via
          `ActivityWindowsSink`.
Run:    ./spark-submit.sh streaming/activity_job.py [--available-now]
"""
from __future__ import annotations

import argparse
import logging
from dataclasses import dataclass

from pyspark.sql import SparkSession
from pyspark.sql.streaming import StreamingQuery

from conf.settings import Settings, load_settings
from conf.spark_session import job_session
from pipeline.activity_sink import ActivityEventsSink, ActivityWindowsSink, activity_windows
from streaming.data_loss import stop_clearly_on_data_loss
from streaming.foreach_batch import foreach_batch
from streaming.kafka_source import read_topic
from streaming.trigger import trigger

log = logging.getLogger(__name__)


#: Part of the windows query's checkpoint path; bump it when the aggregation's state schema changes
#: (2: the review stars). Spark refuses to restore state of another schema, so a checkpoint written
#: by the previous version would stop the query at its first batch. A new checkpoint re-reads the
#: topic from the earliest offset and rewrites the same window rows (upserts of whole counts).
WINDOWS_STATE_VERSION = 2

@dataclass
class ActivityQueries:
    events: StreamingQuery
    windows: StreamingQuery
    events_sink: ActivityEventsSink
    windows_sink: ActivityWindowsSink

    def await_both(self, timeout_s: int | None = None) -> None:
        for query in (self.events, self.windows):
            query.awaitTermination(timeout_s)

    def stop(self) -> None:
        for query in (self.events, self.windows):
            query.stop()
        self.events_sink.close()
        self.windows_sink.close()


def start_activity_streams(spark: SparkSession, settings: Settings, *, available_now: bool = False,
                           checkpoint_root: str | None = None) -> ActivityQueries:
    root = (checkpoint_root or settings.checkpoint_root).rstrip("/")
    every = trigger(available_now, settings.activity_trigger_seconds)
    events_sink, windows_sink = ActivityEventsSink(settings), ActivityWindowsSink(settings)
    events = (
        read_topic(spark, settings, settings.topic_user_events)
        .writeStream.foreachBatch(foreach_batch(events_sink, retry_for_s=settings.sink_retry_s))
        .option("checkpointLocation", f"{root}/activity-events")
        .queryName("activity-events")
        .trigger(**every).start()
    )
    windows = (
        activity_windows(read_topic(spark, settings, settings.topic_user_events), settings)
        .writeStream.outputMode("update")
        .foreachBatch(foreach_batch(windows_sink, retry_for_s=settings.sink_retry_s))
        .option("checkpointLocation", f"{root}/activity-windows-v{WINDOWS_STATE_VERSION}")
        .queryName("activity-windows")
        .trigger(**every).start()
    )
    return ActivityQueries(events, windows, events_sink, windows_sink)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--available-now", action="store_true", help="process what is in Kafka, then stop")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    spark, settings = job_session("exstreamly-activity-stream"), load_settings()
    queries = start_activity_streams(spark, settings, available_now=args.available_now)
    with stop_clearly_on_data_loss(settings.checkpoint_root, [queries.events, queries.windows]):
        if args.available_now:
            queries.await_both()
        else:
            spark.streams.awaitAnyTermination()


if __name__ == "__main__":
    main()
