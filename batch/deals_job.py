"""Batch layer for deals: the lake archive of `deals_raw` -> the same transforms -> the same sink.

Input:  Parquet under `<lake>/deals_raw/` written by streaming/archive_job.py (or any files with
        RAW_RECORD_SCHEMA's columns).
Output: every Cassandra deal table, recomputed from the full history.
Run:    ./spark-submit.sh batch/deals_job.py [--path <lake dir>]
"""
from __future__ import annotations

import argparse
import logging

from pyspark.sql import DataFrame, SparkSession

from conf.settings import Settings, load_settings
from conf.spark_session import job_session
from pipeline.schemas import RAW_RECORD_SCHEMA
from pipeline.sink import BatchReport, deal_tables_sink

log = logging.getLogger(__name__)


def read_lake(spark: SparkSession, path: str) -> DataFrame:
    return spark.read.schema(RAW_RECORD_SCHEMA).parquet(path).select(*RAW_RECORD_SCHEMA.fieldNames())


def run_deals_batch(spark: SparkSession, settings: Settings, path: str | None = None) -> BatchReport:
    sink = deal_tables_sink(settings)
    return sink(read_lake(spark, path or settings.lake_dir(settings.topic_deals_raw)), None)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--path", help="lake directory to read (default <lake>/deals_raw)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    spark = job_session("exstreamly-deals-batch")
    report = run_deals_batch(spark, load_settings(), args.path)
    log.info("batch done: %s", report)
    spark.stop()


if __name__ == "__main__":
    main()
