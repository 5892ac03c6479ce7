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
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from conf.settings import Settings
from pipeline import review_schemas as rs
from pipeline import review_transforms as rt
from pipeline.cassandra_io import SinkTables, run_concurrently
from pipeline.driver_rows import rows_frame

log = logging.getLogger(__name__)
#: Feed tables and the primary key of a row in each (deletes of replaced reviews bind these columns).
FEED_KEYS = {"review_feed_by_deal": ("deal_id", "occurred_at", "user_id"),
             "review_feed_by_merchant": ("merchant_id", "occurred_at", "deal_id", "user_id")}


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
        batch_df, _ = self._hold(events_df.filter(F.col("event_type").isin("review", "purchase")))
        purchases_df, reviews_df = rt.to_purchase_rows(batch_df), rt.to_review_rows(batch_df)
        touched_df = purchases_df.select("deal_id").union(reviews_df.select("deal_id")).distinct()
        stored_df, stored_purchases_df = run_concurrently([
            lambda: self._tables.read("reviews_by_deal", touched_df, rs.REVIEWS_BY_DEAL_SCHEMA),
            lambda: self._tables.read("purchases_by_deal", touched_df, rs.PURCHASES_BY_DEAL_SCHEMA),
        ])
        judged_df = rt.judge_reviews(rt.latest_reviews(reviews_df.unionByName(stored_df)),
                                     purchases_df.unionByName(stored_purchases_df))
        flagged_df, _ = self._hold(rt.flag_changed_reviews(judged_df, stored_df))
        changed_df, changed = self._hold(rt.changed_reviews(flagged_df))
        counts = {"reviews": changed, "deals": 0}
        writes: list[Callable[[], object]] = [partial(self._tables.append, purchases_df, "purchases_by_deal")]
        if changed:
            rated_df = rt.to_deal_rating_rows(rt.reviews_of_changed_deals(flagged_df))
            deal_ratings_df, counts["deals"] = self._hold(rated_df)
            writes += self._round_one(changed_df, rt.replaced_feed_keys(stored_df, changed_df), deal_ratings_df)
        run_concurrently(writes)
        if changed:
            self._refresh_aggregates(deal_ratings_df)
            self._tables.append(changed_df, "reviews_by_deal")
        log.info("batch %s: %d reviews changed, %d deals rated", batch_id, counts["reviews"], counts["deals"])
        return counts

    def _round_one(self, changed_df: DataFrame, replaced_df: DataFrame,
                   deal_ratings_df: DataFrame) -> list[Callable[[], object]]:
        append = self._tables.append
        return [
            partial(append, rt.to_feed_by_deal_rows(changed_df), "review_feed_by_deal"),
            partial(append, rt.to_feed_by_merchant_rows(changed_df), "review_feed_by_merchant"),
            partial(self._delete_replaced, replaced_df),
            partial(append, deal_ratings_df, "ratings_by_deal"),
            partial(append, rt.to_deal_ratings_by_category_rows(deal_ratings_df), "deal_ratings_by_category"),
            partial(append, rt.to_deal_ratings_by_merchant_rows(deal_ratings_df), "deal_ratings_by_merchant"),
        ]

    def _refresh_aggregates(self, deal_ratings_df: DataFrame) -> None:
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
        run_concurrently([
            partial(self._tables.append, rt.to_rating_prior_rows(by_category_df), "rating_priors_by_category"),
            partial(self._tables.append, in_category_df, "merchant_ratings_by_category"),
            partial(self._tables.append, rt.to_ratings_by_merchant_rows(by_merchant_df), "ratings_by_merchant"),
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

    def _hold(self, df: DataFrame) -> tuple[DataFrame, int]:
        """Materialise now for this batch only (later steps must not recompute it), with its row count.

        A micro-batch's frame is small: one collect brings it to the driver, and later jobs read
        it from there (no checkpoint, no count job). A large one (the batch layer) is checkpointed.
        """
        rows = df.limit(self.settings.sink_driver_max_keys + 1).collect()
        if len(rows) <= self.settings.sink_driver_max_keys:
            return rows_frame(df.sparkSession, rows, df.schema), len(rows)
        held_df = self._tables.hold(df)
        return held_df, held_df.count()

    def close(self) -> None:
        self._tables.close()
