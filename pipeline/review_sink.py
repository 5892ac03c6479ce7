"""The review sink (issue 18): a batch's valid events in, purchases, reviews and every rating written.

`ActivityEventsSink` calls it once per micro-batch (streaming) or once over the lake (batch). It
reads the keyed rows of the deals the batch touches (reviewed or bought: a late purchase can make
a stored review verified), judges the latest review of each user, and writes in three rounds:
1. purchases, the changed reviews' feed rows (and the deletes of the feed rows they replace), the
   ratings of the touched deals;
2. recomputed from those rows: the priors of the touched categories, the ratings of the touched
   merchants overall and within each category;
3. reviews_by_deal last: it records which review of each user is in the feeds, so a replay after
   a crash anywhere before finds the rows to replace again.
Every write is an idempotent upsert on a deterministic key; no counter anywhere.

A micro-batch small enough to be held on the driver (`sink_driver_max_keys` rows of reviews and
purchases) is also written from it: each round's rows are collected as JSON in one Spark job and sent
with prepared statements (`driver_sink.upsert_from_driver`), instead of one connector job per table —
on two cores the jobs' fixed cost, not the rows, was what a review batch cost. A larger one (a
catch-up, the batch layer over the lake) goes through the connector. Same rows, same rounds.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from pyspark.sql import DataFrame, Row
from pyspark.sql import functions as F
from pyspark.sql import types as T

from conf.settings import Settings
from pipeline import review_schemas as rs
from pipeline import review_transforms as rt
from pipeline.cassandra_io import SinkTables, run_concurrently
from pipeline.driver_rows import rows_frame
from pipeline.driver_sink import upsert_from_driver

log = logging.getLogger(__name__)
Frames = list[tuple[DataFrame, str]]  # (rows, table) pairs written in one round
#: Feed tables and the primary key of a row in each (deletes of replaced reviews bind these columns).
FEED_KEYS = {"review_feed_by_deal": ("deal_id", "occurred_at", "user_id"),
             "review_feed_by_merchant": ("merchant_id", "occurred_at", "deal_id", "user_id")}


@dataclass(frozen=True)
class Held:
    """A frame materialised for the current batch: its rows too when they are held on the driver."""

    df: DataFrame
    count: int
    rows: list[Row] | None


class ReviewSink:
    """Judges a batch's reviews against purchase history and writes the review and rating tables."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._tables = SinkTables(settings)

    def __call__(self, events_df: DataFrame, batch_id: int | None = None) -> dict[str, int]:
        """Write; returns rows written per kind (purchases, reviews changed, deals rated)."""
        try:
            return self._write(events_df, batch_id)
        finally:
            self._tables.release()

    def _write(self, events_df: DataFrame, batch_id: int | None) -> dict[str, int]:
        batch = self._hold(events_df.filter(F.col("event_type").isin("review", "purchase")))
        if not batch.count:
            return {"reviews": 0, "deals": 0}
        upsert = self._upsert_by_connector if batch.rows is None else self._upsert_from_driver
        purchases_df, reviews_df = rt.to_purchase_rows(batch.df), rt.to_review_rows(batch.df)
        stored_df, stored_purchases_df = self._stored(purchases_df, reviews_df, batch.rows)
        judged_df = rt.judge_reviews(rt.latest_reviews(reviews_df.unionByName(stored_df)),
                                     purchases_df.unionByName(stored_purchases_df))
        flagged_df = self._hold(rt.flag_changed_reviews(judged_df, stored_df)).df
        changed = self._hold(rt.changed_reviews(flagged_df))
        changed_df = changed.df
        counts = {"reviews": changed.count, "deals": 0}
        if not changed.count:
            upsert([(purchases_df, "purchases_by_deal")])
        else:
            rated_df = rt.to_deal_rating_rows(rt.reviews_of_changed_deals(flagged_df))
            deal_ratings = self._hold(rated_df)
            deal_ratings_df, counts["deals"] = deal_ratings.df, deal_ratings.count
            round_one = [(purchases_df, "purchases_by_deal"), *self._round_one(changed_df, deal_ratings_df)]
            writes: list[Callable[[], object]] = [
                partial(upsert, round_one),
                partial(self._delete_replaced, rt.replaced_feed_keys(stored_df, changed_df)),
            ]
            run_concurrently(writes)
            self._refresh_aggregates(deal_ratings_df, upsert)
            upsert([(changed_df, "reviews_by_deal")])
        log.info("batch %s: %d reviews changed, %d deals rated", batch_id, counts["reviews"], counts["deals"])
        return counts

    def _stored(self, purchases_df: DataFrame, reviews_df: DataFrame,
                batch_rows: list[Row] | None) -> list[DataFrame]:
        """The stored reviews and purchases of the deals the batch reviews or buys. A batch held on the
        driver names its deals there (no Spark job to find them); a large one joins in Spark."""
        reads = (("reviews_by_deal", rs.REVIEWS_BY_DEAL_SCHEMA), ("purchases_by_deal", rs.PURCHASES_BY_DEAL_SCHEMA))
        spark = purchases_df.sparkSession
        if batch_rows is not None:
            deals = sorted({row["deal_id"] for row in batch_rows if row["deal_id"] is not None})

            def read(table: str, schema: T.StructType) -> DataFrame:
                return rows_frame(spark, self._tables.read_keys(table, "deal_id", deals, schema), schema)

            return run_concurrently([partial(read, table, schema) for table, schema in reads])
        touched_df = purchases_df.select("deal_id").union(reviews_df.select("deal_id")).distinct()
        return run_concurrently([partial(self._tables.read, table, touched_df, schema) for table, schema in reads])

    @staticmethod
    def _round_one(changed_df: DataFrame, deal_ratings_df: DataFrame) -> Frames:
        return [
            (rt.to_feed_by_deal_rows(changed_df), "review_feed_by_deal"),
            (rt.to_feed_by_merchant_rows(changed_df), "review_feed_by_merchant"),
            (deal_ratings_df, "ratings_by_deal"),
            (rt.to_deal_ratings_by_category_rows(deal_ratings_df), "deal_ratings_by_category"),
            (rt.to_deal_ratings_by_merchant_rows(deal_ratings_df), "deal_ratings_by_merchant"),
        ]

    def _refresh_aggregates(self, deal_ratings_df: DataFrame, upsert: Callable[[Frames], None]) -> None:
        """Recompute the priors and merchant ratings the touched deals feed, from the stored deal ratings."""
        listed_df = rt.to_deal_ratings_by_category_rows(deal_ratings_df)
        categories_df = listed_df.select("category_slug").distinct()
        merchants_df = deal_ratings_df.select("merchant_id").distinct().dropna()
        by_category_df, by_merchant_df = run_concurrently([
            lambda: self._tables.read("deal_ratings_by_category", categories_df, rs.DEAL_RATINGS_BY_CATEGORY_SCHEMA),
            lambda: self._tables.read("deal_ratings_by_merchant", merchants_df, rs.DEAL_RATINGS_BY_MERCHANT_SCHEMA),
        ])
        touched_df = listed_df.select("category_slug", "merchant_id").distinct()
        in_category_df = rt.to_merchant_ratings_by_category_rows(by_category_df).join(
            touched_df, on=["category_slug", "merchant_id"], how="left_semi")
        upsert([
            (rt.to_rating_prior_rows(by_category_df), "rating_priors_by_category"),
            (in_category_df, "merchant_ratings_by_category"),
            (rt.to_ratings_by_merchant_rows(by_merchant_df), "ratings_by_merchant"),
        ])

    def _delete_replaced(self, replaced_df: DataFrame) -> int:
        """Delete the feed rows of reviews a newer review of the same user and deal replaced."""
        rows = replaced_df.collect()
        deleted = 0
        for table, keys in FEED_KEYS.items():
            values = [tuple(row[k] for k in keys) for row in rows if all(row[k] is not None for k in keys)]
            deleted += self._tables.delete(table, keys, values)
        return deleted

    # -- I/O helpers ---------------------------------------------------------------------------

    def _upsert_by_connector(self, frames: Frames) -> None:
        run_concurrently([partial(self._tables.append, rows_df, table) for rows_df, table in frames])

    def _upsert_from_driver(self, frames: Frames) -> None:
        upsert_from_driver(self._tables, frames)

    def _hold(self, df: DataFrame) -> Held:
        """Materialise now for this batch only (later steps must not recompute it), with its row count.

        A micro-batch's frame is small: one collect brings it to the driver, and later jobs read
        it from there (no checkpoint, no count job). A large one (the batch layer) is checkpointed.
        """
        rows = df.limit(self.settings.sink_driver_max_keys + 1).collect()
        if len(rows) <= self.settings.sink_driver_max_keys:
            return Held(rows_frame(df.sparkSession, rows, df.schema), len(rows), rows)
        held_df = self._tables.hold(df)
        return Held(held_df, held_df.count(), None)

    def close(self) -> None:
        self._tables.close()
