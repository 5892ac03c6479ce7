"""Batch layer for user activity: the lake archive of `user_events` -> the same transforms -> the same sinks.

Input:  Parquet under `<lake>/user_events/` written by `streaming/archive_job.py --topic user_events`
        (or any files with RAW_RECORD_SCHEMA's columns).
Output: every activity table (reviews and ratings included), recomputed from the full log (same keys
        as the speed layer, so the batch rows replace the streaming ones).
Run:    ./spark-submit.sh batch/activity_job.py [--path <lake dir>]
"""
from __future__ import annotations

import argparse
import logging

from pyspark.sql import SparkSession

from batch.deals_job import read_lake
from conf.settings import Settings, load_settings
from conf.spark_session import job_session
from pipeline.activity_sink import ActivityEventsSink, ActivityReport, ActivityWindowsSink, activity_windows

log = logging.getLogger(__name__)


def run_activity_batch(spark: SparkSession, settings: Settings, path: str | None = None
                       ) -> tuple[ActivityReport, ActivityReport]:
    raw_df = read_lake(spark, path or settings.lake_dir(settings.topic_user_events)).persist()
    events_sink, windows_sink = ActivityEventsSink(settings), ActivityWindowsSink(settings)
    try:
        events = events_sink(raw_df, None)
        windows = windows_sink(activity_windows(raw_df, settings), None)
    finally:
        events_sink.close()
        windows_sink.close()
        raw_df.unpersist()
    return events, windows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--path", help="lake directory to read (default <lake>/user_events)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    spark = job_session("exstreamly-activity-batch")
    events, windows = run_activity_batch(spark, load_settings(), args.path)
    log.info("batch done: %s; %s", events, windows)
    spark.stop()


if __name__ == "__main__":
    main()
