"""The whole speed layer in one Spark application: the archive, the deal and activity tables, the alerts.

Input:  Kafka topics `deals_raw` and `user_events`.
Output: the same as the jobs it starts, with the same checkpoints: the lake archive of both
        topics (archive_job), the deal and score tables (deals_job), the activity tables (activity_job),
        the interest alerts (alerts_job).
Run:    ./spark-submit.sh streaming/speed_layer.py

Why one application on one machine: each Spark driver is a JVM of its own that plans and polls
every trigger even when idle; three of them beside Kafka and Cassandra take most of two cores.
One driver runs the same queries on one JVM, with each query in a scheduler pool of its own so
that a long archive or activity batch never queues the deal tables' jobs behind it (FAIR mode).
On a cluster, submit the three jobs separately: each then scales and restarts on its own.
"""
from __future__ import annotations

import argparse
import logging

from pyspark.sql import SparkSession
from pyspark.sql.streaming import StreamingQuery

from conf.settings import Settings, load_settings
from conf.spark_session import job_session
from streaming.activity_job import start_activity_streams
from streaming.alerts_job import start_alerts_stream
from streaming.archive_job import start_archive
from streaming.data_loss import stop_clearly_on_data_loss
from streaming.deals_job import start_deals_stream, start_scores_stream
from streaming.watchdog import exit_when_stalled

log = logging.getLogger(__name__)


def start_speed_layer(spark: SparkSession, settings: Settings) -> list[StreamingQuery]:
    """Start every streaming query of the speed layer, each in its own scheduler pool."""
    def in_pool(name: str) -> None:
        spark.sparkContext.setLocalProperty("spark.scheduler.pool", name)

    in_pool("deals")
    queries = [start_deals_stream(spark, settings)]
    in_pool("scores")
    queries.append(start_scores_stream(spark, settings))
    in_pool("alerts")
    queries.append(start_alerts_stream(spark, settings))  # issue 14: interest alerts, a stream of its own
    in_pool("activity")
    activity = start_activity_streams(spark, settings)
    queries += [activity.events, activity.windows]
    in_pool("archive")
    queries += [start_archive(spark, settings, topic) for topic in (settings.topic_deals_raw,
                                                                      settings.topic_user_events)]
    in_pool("default")
    return queries


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    spark, settings = job_session("exstreamly-speed-layer", **{"spark.scheduler.mode": "FAIR"}), load_settings()
    queries = start_speed_layer(spark, settings)
    log.info("speed layer running: %s", ", ".join(q.name for q in queries))
    exit_when_stalled(queries, settings.stream_stall_exit_s)
    with stop_clearly_on_data_loss(settings.checkpoint_root, queries):
        spark.streams.awaitAnyTermination()


if __name__ == "__main__":
    main()
