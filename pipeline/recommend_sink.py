"""Writes a training's lists: every user's top-N and every area's most popular deals.

Rows are upserts under the training's `trained_at`, so a rerun of one training rewrites its own rows
and a new training never mixes with an old one (the API reads the newest `trained_at` only).
"""
from __future__ import annotations

import logging
from datetime import datetime
from functools import partial

from pyspark.sql import DataFrame

from conf.settings import Settings
from pipeline import recommend_features as rf
from pipeline.cassandra_io import append_rows, run_concurrently
from pipeline.recommend_training import Trained, rank_for

log = logging.getLogger(__name__)


def recommendation_frames(trained: Trained, deals_df: DataFrame, settings: Settings, *,
                          trained_at: datetime) -> dict[str, DataFrame]:
    """table -> rows of this training (the blend's top-N per user; the top-N per area)."""
    n, per_merchant, homes = settings.recommend_top_n, settings.recommend_per_merchant, trained.history.homes
    ranked_df = rank_for(trained.blend, trained.history, homes, deals_df, n=n, per_merchant=per_merchant)
    assert trained.blend.popularity.by_area is not None
    return {
        "recommendations_by_user": rf.to_recommendation_rows(ranked_df, deals_df, homes, trained_at=trained_at),
        "popular_deals_by_area": rf.to_popular_area_rows(trained.blend.popularity.by_area, deals_df, n=n,
                                                         per_merchant=per_merchant, trained_at=trained_at),
    }


def write_recommendations(frames: dict[str, DataFrame], settings: Settings) -> dict[str, int]:
    """Upsert each frame into its table; returns rows written per table."""
    held = {table: rows_df.cache() for table, rows_df in frames.items()}
    try:
        counts = {table: rows_df.count() for table, rows_df in held.items()}
        run_concurrently([partial(append_rows, rows_df, keyspace=settings.keyspace, table=table)
                          for table, rows_df in held.items() if counts[table]])
    finally:
        for rows_df in held.values():
            rows_df.unpersist()
    log.info("recommendations written: %s", counts)
    return counts
