"""Archive Kafka topics to the data lake, exactly once (Structured Streaming file sink).

Input:  Kafka topic(s) (default `deals_raw`), every record as it arrived.
Output: Parquet under `<lake>/<topic>/` partitioned by UTC `date`, with key, value and position,
        so the batch layer replays exactly what the speed layer saw.
Run:    ./spark-submit.sh streaming/archive_job.py [--topic deals_raw] [--available-now]
"""
from __future__ import annotations

import argparse
import logging

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.streaming import StreamingQuery

from conf.settings import Settings, load_settings
from conf.spark_session import job_session
from streaming.data_loss import stop_clearly_on_data_loss
from streaming.kafka_source import read_topic
from streaming.trigger import trigger

log = logging.getLogger(__name__)


def with_archive_date(raw_df: DataFrame) -> DataFrame:
    return raw_df.withColumn("date", F.date_format("timestamp", "yyyy-MM-dd"))


def start_archive(
    spark: SparkSession, settings: Settings, topic: str, *, available_now: bool = False,
) -> StreamingQuery:
    writer = (
        read_topic(spark, settings, topic).transform(with_archive_date)
        .writeStream.format("parquet")
        .option("path", settings.lake_dir(topic))
        .option("checkpointLocation", f"{settings.checkpoint_root.rstrip('/')}/archive-{topic}")
        .partitionBy("date")
        .queryName(f"archive-{topic}")
    )
    # A micro-batch writes a file per Kafka partition whatever its size: the trigger sets how many small
    # files the lake gets (and the CPU the archive takes), not any freshness a user sees.
    return writer.trigger(**trigger(available_now, settings.archive_trigger_seconds)).start()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--topic", action="append", help="topic to archive (repeatable); default deals_raw")
    parser.add_argument("--available-now", action="store_true", help="archive what is there, then stop")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = load_settings()
    spark = job_session("exstreamly-archive")
    queries = [start_archive(spark, settings, t, available_now=args.available_now)
               for t in args.topic or [settings.topic_deals_raw]]
    with stop_clearly_on_data_loss(settings.checkpoint_root, queries):
        for query in queries:
            query.awaitTermination()


if __name__ == "__main__":
    main()
