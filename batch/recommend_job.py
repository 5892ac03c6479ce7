"""Batch training of the recommender: the lake's `user_events` -> ALS + popularity -> lists in Cassandra.

Input:  Parquet under `<lake>/user_events/` (streaming/archive_job.py), and the live deals of
        Cassandra's deals_by_id (candidates: only deals not expired now).
Output: recommendations_by_user (the location-aware blend's top EXS_RECOMMEND_TOP_N per user, none
        bought, at most EXS_RECOMMEND_PER_MERCHANT per merchant, a reason each) and
        popular_deals_by_area, both under this training's time; the ALS model and the grid's
        validation scores under `<lake>/models/als/<time>/` (an HDFS-compatible path).
Run:    ./spark-submit.sh batch/recommend_job.py [--path <lake dir>] [--now <ISO time>]
        (--now trains as of that time: a rerun of a past training, or a reproducible one)
"""
from __future__ import annotations

import argparse
import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from pyspark.sql import DataFrame, Row, SparkSession

from batch.deals_job import read_lake
from conf.settings import Settings, load_settings
from conf.spark_session import job_session
from pipeline import activity_transforms as at
from pipeline import recommend_features as rf
from pipeline.activity_sink import activity_events
from pipeline.cassandra_io import CASSANDRA_FORMAT
from pipeline.recommend_sink import recommendation_frames, write_recommendations
from pipeline.recommend_training import Trained, train

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RecommendReport:
    trained_at: datetime
    rank: int
    reg_param: float
    taste_weight: float
    grid: list[dict[str, float]]
    rows: dict[str, int]
    model_path: str
    training_s: float


def read_live_deals(spark: SparkSession, settings: Settings, *, now: datetime) -> DataFrame:
    """The candidates: deals_by_id rows (a full read: this is a batch job) not expired at `now`."""
    deals_df = spark.read.format(CASSANDRA_FORMAT).options(keyspace=settings.keyspace, table="deals_by_id").load()
    return rf.to_candidate_deals(deals_df, now=now).cache()


def save_model(spark: SparkSession, trained: Trained, path: str) -> None:
    trained.blend.als.model.write().overwrite().save(f"{path}/model")
    if trained.grid:
        grid_df = spark.createDataFrame([Row(**point) for point in trained.grid])
        grid_df.coalesce(1).write.mode("overwrite").json(f"{path}/grid")


def run_recommend_batch(spark: SparkSession, settings: Settings, path: str | None = None,
                        now: datetime | None = None) -> RecommendReport:
    trained_at = (now or datetime.now(UTC)).replace(microsecond=0)
    raw_df = read_lake(spark, path or settings.lake_dir(settings.topic_user_events))
    events_df = activity_events(raw_df, settings).transform(at.drop_duplicate_events).cache()
    deals_df = read_live_deals(spark, settings, now=trained_at)
    trained = train(events_df, deals_df, settings, now=trained_at)
    model_path = f"{settings.model_dir('als')}/{trained_at.strftime('%Y%m%dT%H%M%SZ')}"
    save_model(spark, trained, model_path)
    rows = write_recommendations(recommendation_frames(trained, deals_df, settings, trained_at=trained_at), settings)
    return RecommendReport(trained_at, trained.params.rank, trained.params.reg_param, trained.taste_weight,
                           trained.grid, rows, model_path, trained.seconds)


def utc_time(text: str) -> datetime:
    """An ISO 8601 time for --now; without an offset it is read as UTC."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {text!r} (e.g. 2026-12-05T01:00:00Z)") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--path", help="lake directory to read (default <lake>/user_events)")
    parser.add_argument("--now", type=utc_time, help="train as of this time, e.g. 2026-12-05T01:00:00Z "
                        "(default: now); interaction ages, deal expiry and the stored training time are "
                        "measured from it")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    spark = job_session("exstreamly-recommend")
    report = run_recommend_batch(spark, load_settings(), args.path, now=args.now)
    log.info("recommendations trained: %s", report)
    spark.stop()


if __name__ == "__main__":
    main()
