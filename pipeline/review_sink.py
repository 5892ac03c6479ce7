"""The review sink (issue 18): a batch's valid events in, purchases, reviews and every rating written.

`ActivityEventsSink` calls it once per micro-batch (streaming) or once over the lake (batch). It
reads the keyed rows of the deals the batch touches (reviewed or bought: a late purchase can make
a stored review verified), judges the latest review of each user, and writes:
1. purchases, the changed reviews' feed rows (and the deletes of the feed rows they replace), the
   ratings of the touched deals, and recomputed from the stored deal ratings of the touched
   categories and merchants with the batch's own in their place, the priors of those categories and
   the ratings of those merchants overall and within each category;
2. reviews_by_deal last: it records which review of each user is in the feeds, so a replay after
   a crash anywhere before finds the rows to replace again.
Every write is an idempotent upsert on a deterministic key; no counter anywhere. The merchant and
category ratings come from stored rows overlaid with the batch's (`rt.overlay`), never from reading
back what the batch wrote, so a replay after a partial write computes the same values.

A micro-batch of up to `review_driver_max_rows` reviews and purchases is read into a slot of frames
built once (`_ReviewPlans`, `pipeline.plan_templates`) in a session made for a few rows
(`driver_rows.small_session`): its stored rows are read with prepared statements, and with them the
stored deal ratings of every category and merchant its reviews (new or stored) name, a superset of the
partitions its ratings fall under; the judged reviews are held in a slot (later frames start from
those rows); then the deal tables' rows and the aggregates' are collected as JSON side by side, each
sent with prepared statements as soon as it is in: on two cores a small batch costs Spark's fixed
cost per job and per plan, not its rows. A
larger batch (a catch-up, the batch layer) goes through Spark joins and the connector; same rows.
Measured alone (2026-12-06, local[2]): 2,090 rows took 2.5 s and 4 CPU-seconds from the driver, 3.4 s
and 5.8 through the connector; 8,300 rows 6.0 s and 7.4 against 4.5 s and 7.2: hence 5,000.
"""
from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from conf.settings import Settings
from pipeline import review_schemas as rs
from pipeline import review_transforms as rt
from pipeline.cassandra_io import SinkTables, run_concurrently, run_side_by_side
from pipeline.driver_rows import Held
from pipeline.driver_sink import FRESH, CollectedRows, Statements, stacked, upsert_statements
from pipeline.plan_templates import SessionPlans, Slot, Template
from pipeline.table_rows import to_json_rows

log = logging.getLogger(__name__)
Frames = list[tuple[DataFrame, str]]  # (rows, table) pairs
#: Feed tables and the primary key of a row in each (deletes of replaced reviews bind these columns).
FEED_KEYS = {"review_feed_by_deal": ("deal_id", "occurred_at", "user_id"),
             "review_feed_by_merchant": ("merchant_id", "occurred_at", "deal_id", "user_id")}
REPLACED = "replaced"  # kind of the collected keys of replaced feed rows


@dataclass(frozen=True)
class RatedDeals:
    """A table of deal ratings the aggregates are recomputed from, partitioned by `partition`."""

    table: str
    partition: str
    schema: T.StructType

    @property
    def key(self) -> tuple[str, str]:
        return self.partition, "deal_id"


BY_CATEGORY = RatedDeals("deal_ratings_by_category", "category_slug", rs.DEAL_RATINGS_BY_CATEGORY_SCHEMA)
BY_MERCHANT = RatedDeals("deal_ratings_by_merchant", "merchant_id", rs.DEAL_RATINGS_BY_MERCHANT_SCHEMA)
LISTED = BY_CATEGORY.table  # a deal's rating under each category it is listed in (an explode)


#: The keyed rows a batch's reviews are judged against: (table, schema), read by deal id.
STORED = (("reviews_by_deal", rs.REVIEWS_BY_DEAL_SCHEMA), ("purchases_by_deal", rs.PURCHASES_BY_DEAL_SCHEMA))


@dataclass(frozen=True)
class Stored:
    """What is stored for the deals a large batch touches (its stored deal ratings are read later)."""

    reviews_df: DataFrame
    purchases_df: DataFrame


@dataclass(frozen=True)
class Judged:
    """A batch's rows for the review tables, before any is written (lazy frames)."""

    purchases_df: DataFrame
    stored_df: DataFrame  # the stored reviews of the touched deals
    flagged_df: DataFrame  # the latest reviews of the touched deals, judged and flagged as changed or not


class ReviewSink:
    """Judges a batch's reviews against purchase history and writes the review and rating tables."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._tables = SinkTables(settings)
        self._plans: SessionPlans[_ReviewPlans] | None = None  # the small batches' frames

    def __call__(self, events_df: DataFrame, batch_id: int | None = None) -> dict[str, int]:
        """Write; returns rows written per kind (purchases, reviews changed, deals rated)."""
        try:
            return self._write(events_df, batch_id)
        finally:
            self._tables.release()

    def _write(self, events_df: DataFrame, batch_id: int | None) -> dict[str, int]:
        batch_df = events_df.filter(F.col("event_type").isin("review", "purchase"))
        if self._plans is None:  # the slot takes the events' schema, the same every batch
            self._plans = SessionPlans(partial(_ReviewPlans, events_schema=batch_df.schema))
        plans = self._plans.of(batch_df.sparkSession)
        try:
            count = plans.batch.fill_at_most(batch_df, self.settings.review_driver_max_rows)
            if count is None:
                counts = self._write_large(self._tables.held(batch_df))
            else:
                counts = self._write_from_driver(plans) if count else {"reviews": 0, "deals": 0}
        finally:
            plans.clear()
        log.info("batch %s: %d reviews changed, %d deals rated", batch_id, counts["reviews"], counts["deals"])
        return counts

    def _write_large(self, batch: Held) -> dict[str, int]:
        """A batch too large for the driver: Spark joins and the connector."""
        if not batch.count:
            return {"reviews": 0, "deals": 0}
        purchases_df, reviews_df = rt.to_purchase_rows(batch.df), rt.to_review_rows(batch.df)
        stored = self._stored_by_join(purchases_df, reviews_df)
        judged_df = rt.judge_reviews(rt.latest_reviews(reviews_df.unionByName(stored.reviews_df)),
                                     purchases_df.unionByName(stored.purchases_df))
        judged = Judged(purchases_df, stored.reviews_df, rt.flag_changed_reviews(judged_df, stored.reviews_df))
        return self._write_by_connector(judged)

    def _stored_by_join(self, purchases_df: DataFrame, reviews_df: DataFrame) -> Stored:
        """The stored reviews and purchases of the deals a large batch reviews or buys, joined in Spark."""
        touched_df = purchases_df.select("deal_id").union(reviews_df.select("deal_id")).distinct()
        reviews, purchases = run_concurrently([partial(self._tables.read, table, touched_df, schema)
                                               for table, schema in STORED])
        return Stored(reviews, purchases)

    def _read_stored(self, plans: _ReviewPlans) -> bool:
        """The stored reviews and purchases of the deals the batch in `plans.batch` names, read by those
        ids; then the stored deal ratings of every category and merchant a rating of those deals can
        fall under (each review's, stored or new, names one), so the aggregates need no read later;
        each into its slot. Returns whether any judgement can change: the batch holds a review, or a
        purchase by a user whose stored review of that deal it may verify (if not, no rating is read)."""
        named: list[Any] = [row.asDict() for row in plans.names.frame().collect()]
        batch_reviews = any(row["event_type"] == "review" for row in named)
        bought = {(row["deal_id"], row["user_id"]) for row in named if row["event_type"] == "purchase"}
        deals = sorted({row["deal_id"] for row in named if row["deal_id"] is not None})
        reviews, purchases = run_concurrently([partial(self._tables.read_keys, table, "deal_id", deals, schema)
                                               for table, schema in STORED])
        stored = [dict(zip(rs.REVIEWS_BY_DEAL_SCHEMA.fieldNames(), row, strict=True)) for row in reviews]
        plans.stored_reviews.fill_rows(reviews)
        plans.stored_purchases.fill_rows(purchases)
        if not batch_reviews and not any((review["deal_id"], review["user_id"]) in bought for review in stored):
            return False  # no rating can change: none is read
        named += stored
        partitions = {BY_CATEGORY: {row[c] for row in named for c in ("category_slug", "parent_category")},
                      BY_MERCHANT: {row["merchant_id"] for row in named}}
        ratings = run_concurrently([
            partial(self._tables.read_keys, rated.table, rated.partition,
                    sorted(key for key in keys if key is not None), rated.schema)
            for rated, keys in partitions.items()])
        for rated, rows in zip(partitions, ratings, strict=True):
            plans.rated[rated].fill_rows(rows)
        return True

    # -- a batch held on the driver --------------------------------------------------------------

    def _write_from_driver(self, plans: _ReviewPlans) -> dict[str, int]:
        """The batch's stored rows read into slots; the judged reviews held in one, and the ratings of
        the deals they change in another (later frames start from their rows, not their plans); the
        batch's own rows and the aggregates' side by side, each sent as soon as it is in (a deal's
        rating is readable first); then reviews_by_deal."""
        if not self._read_stored(plans):
            # Purchases alone, none by the author of a stored review of that deal: a review is verified
            # by its own author's purchase only, so no judgement changes, and the one row that changes
            # is the purchase's (a projection of the batch: no Spark job).
            rows = CollectedRows([plans.own["purchases_by_deal"].frame()], stack=False)
            self._tables.execute(upsert_statements(self._tables, rows, ["purchases_by_deal"]))
            return {"reviews": 0, "deals": 0}
        plans.flagged.fill(plans.flag.frame())
        if plans.any_deal_changed.frame().collect():
            plans.deal_ratings.fill(plans.rate.frame())
            rows, _ = run_side_by_side(partial(self._send_own, plans), partial(self._send_aggregates, plans))
        else:  # purchases that change no review: no rating to recompute
            rows = self._send_own(plans)
        self._tables.execute(upsert_statements(self._tables, rows, ["reviews_by_deal"]))
        return {"reviews": len(rows.json(FRESH, "reviews_by_deal")), "deals": len(rows.json(FRESH, "ratings_by_deal"))}

    def _send_own(self, plans: _ReviewPlans) -> CollectedRows:
        """The batch's own rows collected and sent, but for reviews_by_deal (sent last, by the caller):
        first the projections of its slots (no Spark job: the deal ratings among them), then in one job
        the rows of the deals' listing categories and the keys of the feed rows the changed reviews
        replace, sent with the deletes of those rows."""
        rows = CollectedRows([template.frame() for template in plans.own.values()], stack=False)
        sent_now = [table for table in plans.own if table != "reviews_by_deal"]
        self._tables.execute(upsert_statements(self._tables, rows, sent_now))
        joined = CollectedRows(plans.own_joined.frame())
        self._tables.execute(upsert_statements(self._tables, joined, [LISTED])
                             + self._feed_deletes(joined.records(REPLACED, "review_feeds")))
        return rows

    def _send_aggregates(self, plans: _ReviewPlans) -> int:
        """The aggregates' rows in one collect, sent at once."""
        rows = CollectedRows(plans.aggregates.frame())
        return self._tables.execute(upsert_statements(self._tables, rows, plans.aggregate_tables))

    # -- a large batch: Spark joins and the connector --------------------------------------------

    def _write_by_connector(self, judged: Judged) -> dict[str, int]:
        flagged_df = self._tables.materialise(judged.flagged_df).df
        changed = self._tables.materialise(rt.changed_reviews(flagged_df))
        if not changed.count:
            self._upsert_by_connector([(judged.purchases_df, "purchases_by_deal")])
            return {"reviews": 0, "deals": 0}
        deal_ratings = self._tables.materialise(rt.to_deal_rating_rows(rt.reviews_of_changed_deals(flagged_df)))
        partitions = {BY_CATEGORY: rt.to_deal_ratings_by_category_rows(deal_ratings.df),
                      BY_MERCHANT: rt.to_deal_ratings_by_merchant_rows(deal_ratings.df)}
        stored = run_concurrently([
            partial(self._tables.read, rated.table, rows_df.select(rated.partition).distinct(), rated.schema)
            for rated, rows_df in partitions.items()])
        frames = [(judged.purchases_df, "purchases_by_deal"), *self.round_one(changed.df, deal_ratings.df),
                  *self.aggregates(deal_ratings.df, *stored)]
        replaced = partial(rt.replaced_feed_keys, judged.stored_df, changed.df)
        run_side_by_side(partial(self._upsert_by_connector, frames),
                         lambda: self._tables.execute(self._feed_deletes([r.asDict() for r in replaced().collect()])))
        self._upsert_by_connector([(changed.df, "reviews_by_deal")])
        return {"reviews": changed.count, "deals": deal_ratings.count}

    def _upsert_by_connector(self, frames: Frames) -> None:
        run_concurrently([partial(self._tables.append, rows_df, table) for rows_df, table in frames])

    # -- the rows both ways write ------------------------------------------------------------------

    @staticmethod
    def round_one(changed_df: DataFrame, deal_ratings_df: DataFrame) -> Frames:
        return [
            (rt.to_feed_by_deal_rows(changed_df), "review_feed_by_deal"),
            (rt.to_feed_by_merchant_rows(changed_df), "review_feed_by_merchant"),
            (deal_ratings_df, "ratings_by_deal"),
            (rt.to_deal_ratings_by_category_rows(deal_ratings_df), "deal_ratings_by_category"),
            (rt.to_deal_ratings_by_merchant_rows(deal_ratings_df), "deal_ratings_by_merchant"),
        ]

    @staticmethod
    def aggregates(deal_ratings_df: DataFrame, stored_by_category_df: DataFrame,
                    stored_by_merchant_df: DataFrame) -> Frames:
        """The priors and merchant ratings the touched deals feed: recomputed from the stored deal
        ratings of their categories and merchants, the batch's own ratings in place of stored ones.
        Stored partitions no rating of the batch falls under (the driver reads every one it may) are
        left out."""
        listed_df = rt.to_deal_ratings_by_category_rows(deal_ratings_df)
        merchant_rows_df = rt.to_deal_ratings_by_merchant_rows(deal_ratings_df)
        by_category_df = _touched(rt.overlay(stored_by_category_df, listed_df, BY_CATEGORY.key), listed_df,
                                  ["category_slug"])
        by_merchant_df = _touched(rt.overlay(stored_by_merchant_df, merchant_rows_df, BY_MERCHANT.key),
                                  merchant_rows_df, ["merchant_id"])
        in_category_df = _touched(rt.to_merchant_ratings_by_category_rows(by_category_df), listed_df,
                                  ["category_slug", "merchant_id"])
        return [
            (rt.to_rating_prior_rows(by_category_df), "rating_priors_by_category"),
            (in_category_df, "merchant_ratings_by_category"),
            (rt.to_ratings_by_merchant_rows(by_merchant_df), "ratings_by_merchant"),
        ]

    def _feed_deletes(self, replaced: Sequence[Mapping[str, Any]]) -> Statements:
        """Deletes of the feed rows of reviews a newer review of the same user and deal replaced (a key
        left out or null: that review has no row in that feed)."""
        return [(self._tables.delete_statement(table, keys), tuple(row[k] for k in keys))
                for table, keys in FEED_KEYS.items() for row in replaced
                if all(row.get(k) is not None for k in keys)]

    def close(self) -> None:
        self._tables.close()


def _touched(rows_df: DataFrame, fresh_df: DataFrame, keys: list[str]) -> DataFrame:
    """The rows of `rows_df` whose `keys` some fresh row has."""
    return rows_df.join(fresh_df.select(*keys), on=keys, how="left_semi")


class _ReviewPlans:
    """`ReviewSink`'s frames for a batch held on the driver, built once per session over slots
    (`plan_templates`): the batch's reviews and purchases, what is stored for their deals, the judged
    reviews (held in a slot: every later frame reads them), the batch's own rows and the aggregates'."""

    def __init__(self, spark: SparkSession, events_schema: T.StructType) -> None:
        self.batch = Slot(spark, events_schema)
        batch_df = self.batch.df
        self.names = Template(batch_df.select("event_type", "deal_id", "user_id", "category_slug",
                                              "parent_category", "merchant_id"))
        self.stored_reviews = Slot(spark, rs.REVIEWS_BY_DEAL_SCHEMA)
        self.stored_purchases = Slot(spark, rs.PURCHASES_BY_DEAL_SCHEMA)
        self.rated = {rated: Slot(spark, rated.schema) for rated in (BY_CATEGORY, BY_MERCHANT)}
        stored_reviews_df = self.stored_reviews.df
        purchases_df, reviews_df = rt.to_purchase_rows(batch_df), rt.to_review_rows(batch_df)
        judged_df = rt.judge_reviews(rt.latest_reviews(reviews_df.unionByName(stored_reviews_df)),
                                     purchases_df.unionByName(self.stored_purchases.df))
        self.flag = Template(rt.flag_changed_reviews(judged_df, stored_reviews_df))
        self.flagged = Slot(spark, self.flag.schema)
        flagged_df = self.flagged.df
        self.any_deal_changed = Template(flagged_df.filter(F.col("deal_changed")).select("deal_id").limit(1))
        changed_df = rt.changed_reviews(flagged_df)
        self.rate = Template(rt.to_deal_rating_rows(rt.reviews_of_changed_deals(flagged_df)))
        self.deal_ratings = Slot(spark, self.rate.schema)  # an aggregate: once, not once per frame below
        deal_ratings_df = self.deal_ratings.df
        own = [(purchases_df, "purchases_by_deal"), *ReviewSink.round_one(changed_df, deal_ratings_df),
               (changed_df, "reviews_by_deal")]
        # epoch milliseconds: the JSON's timestamps are text, and a delete binds the driver's own types
        replaced_df = rt.replaced_feed_keys(stored_reviews_df, changed_df).withColumn(
            "occurred_at", F.unix_millis("occurred_at"))
        # Filters and projections of the slots, which Spark computes on the driver, each collected on its
        # own; the listing categories (an explode) and the replaced keys (a join) need a job: one, stacked.
        self.own = {table: Template(to_json_rows(df, FRESH, table)) for df, table in own if table != LISTED}
        listed_df = next(df for df, table in own if table == LISTED)
        self.own_joined = Template(stacked([to_json_rows(listed_df, FRESH, LISTED),
                                            to_json_rows(replaced_df, REPLACED, "review_feeds")]))
        aggregates = ReviewSink.aggregates(deal_ratings_df, self.rated[BY_CATEGORY].df, self.rated[BY_MERCHANT].df)
        self.aggregate_tables = [table for _, table in aggregates]
        self.aggregates = Template(stacked([to_json_rows(df, FRESH, table) for df, table in aggregates]))

    def clear(self) -> None:
        for slot in (self.batch, self.stored_reviews, self.stored_purchases, *self.rated.values(), self.flagged,
                     self.deal_ratings):
            slot.clear()
