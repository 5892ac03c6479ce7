"""Pure DataFrame -> DataFrame transforms of reviews (issue 18), shared by streaming and batch.

Flow (the review sink runs it on the touched deals' keyed rows, stored and new alike):
    events --to_review_rows--> reviews      events --to_purchase_rows--> purchases_by_deal
    reviews (batch + stored) --latest_reviews--> one per (deal, user) --judge_reviews(purchases)--> judged
    judged --flag_changed_reviews(stored)--> is_changed (rows to write), deal_changed (deals to rate again)
    stored --replaced_feed_keys(changed)--> feed rows to delete
    judged --to_deal_rating_rows--> ratings_by_deal --to_deal_ratings_by_<category|merchant>_rows-->
    stored deal ratings of a category --overlay(the batch's)--> --to_rating_prior_rows-->
                                                               --to_merchant_ratings_by_category_rows-->
    stored deal ratings of a merchant --overlay(the batch's)--> --to_ratings_by_merchant_rows-->

Only verified reviews count in a rating: their author bought that deal at or before the review's
time. One review per user and deal counts, the latest (ties: the larger event id). Every rating
is recomputed from keyed rows (no counters), so replaying events rewrites the same values.
"""
from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from pipeline import review_schemas as rs
from pipeline.column_cache import reused
from pipeline.records import select_schema
from pipeline.review_rules import STARS
from pipeline.table_rows import explode_listing_categories

REVIEW_KEY = ("deal_id", "user_id")


def to_review_rows(events_df: DataFrame) -> DataFrame:
    """Review events (ACTIVITY_EVENT_SCHEMA) as reviews_by_deal rows, not judged yet."""
    reviews_df = events_df.filter(F.col("event_type") == "review").withColumn("verified", F.lit(None))
    return select_schema(reviews_df, rs.REVIEWS_BY_DEAL_SCHEMA)


def to_purchase_rows(events_df: DataFrame) -> DataFrame:
    return select_schema(events_df.filter(F.col("event_type") == "purchase"), rs.PURCHASES_BY_DEAL_SCHEMA)


def latest_reviews(reviews_df: DataFrame) -> DataFrame:
    """The latest review of each (deal, user): a user's new review replaces the earlier one."""
    newest_first = Window.partitionBy(*REVIEW_KEY).orderBy(F.col("occurred_at").desc(), F.col("event_id").desc())
    return (reviews_df.withColumn("_n", F.row_number().over(newest_first))
            .filter(F.col("_n") == 1).drop("_n"))


def judge_reviews(reviews_df: DataFrame, purchases_df: DataFrame) -> DataFrame:
    """`verified`: the author bought the deal at or before the time of the review."""
    first_df = purchases_df.groupBy(*REVIEW_KEY).agg(F.min("occurred_at").alias("first_purchase_at"))
    judged_df = reviews_df.drop("verified").join(first_df, on=list(REVIEW_KEY), how="left")
    verified = F.coalesce(F.col("first_purchase_at") <= F.col("occurred_at"), F.lit(False))
    return select_schema(judged_df.withColumn("verified", verified), rs.REVIEWS_BY_DEAL_SCHEMA)


def flag_changed_reviews(judged_df: DataFrame, stored_df: DataFrame) -> DataFrame:
    """`is_changed`: the judged review differs from what is stored (new, replaced, or now verified);
    `deal_changed`: some review of its deal did. One frame, so the sink splits it by filters alone
    (joining a held frame with a frame derived from it confuses Spark's analyser)."""
    same = [*REVIEW_KEY, "occurred_at", "event_id", "verified"]
    stored_keys_df = stored_df.select(*same).withColumn("_stored", F.lit(True))
    flagged_df = (judged_df.join(stored_keys_df, on=same, how="left")
                  .withColumn("is_changed", F.col("_stored").isNull()).drop("_stored"))
    deal_changed = F.max(F.col("is_changed").cast("int")).over(Window.partitionBy("deal_id")) == 1
    return flagged_df.withColumn("deal_changed", deal_changed)


def changed_reviews(flagged_df: DataFrame) -> DataFrame:
    return select_schema(flagged_df.filter(F.col("is_changed")), rs.REVIEWS_BY_DEAL_SCHEMA)


def reviews_of_changed_deals(flagged_df: DataFrame) -> DataFrame:
    return select_schema(flagged_df.filter(F.col("deal_changed")), rs.REVIEWS_BY_DEAL_SCHEMA)


def replaced_feed_keys(stored_df: DataFrame, changed_df: DataFrame) -> DataFrame:
    """Stored reviews whose place in the newest-first feeds a changed review of the same user takes."""
    newer_df = changed_df.select(*REVIEW_KEY, F.col("occurred_at").alias("new_occurred_at"))
    return (stored_df.join(newer_df, on=list(REVIEW_KEY))
            .filter(F.col("occurred_at") != F.col("new_occurred_at"))
            .select("deal_id", "user_id", "occurred_at", "merchant_id"))


def overlay(stored_df: DataFrame, fresh_df: DataFrame, key: tuple[str, ...]) -> DataFrame:
    """Stored rows with the fresh ones in their place (same `key`, a table's primary key) and beside them:
    what the table holds once the fresh rows are written, without reading it back."""
    return stored_df.join(fresh_df.select(*key), on=list(key), how="left_anti").unionByName(fresh_df)


def to_feed_by_deal_rows(reviews_df: DataFrame) -> DataFrame:
    return select_schema(reviews_df, rs.REVIEW_FEED_BY_DEAL_SCHEMA)


def to_feed_by_merchant_rows(reviews_df: DataFrame) -> DataFrame:
    return select_schema(reviews_df.filter(F.col("merchant_id").isNotNull()), rs.REVIEW_FEED_BY_MERCHANT_SCHEMA)


def _with_mean(ratings_df: DataFrame) -> DataFrame:
    return ratings_df.withColumn("mean", F.when(F.col("reviews") > 0, F.col("stars") / F.col("reviews")))


@reused
def _review_sums() -> tuple[Column, ...]:
    """Verified reviews, their stars, each star's count, and the unverified reviews left out."""
    verified = F.col("verified")
    stars = [F.count(F.when(verified & (F.col("rating") == s), 1)).cast("int") for s in STARS]
    return (F.count(F.when(verified, 1)).cast("int").alias("reviews"),
            F.coalesce(F.sum(F.when(verified, F.col("rating"))), F.lit(0)).cast("long").alias("stars"),
            F.array(*stars).alias("distribution"),
            F.count(F.when(~verified, 1)).cast("int").alias("unverified_reviews"))


def to_deal_rating_rows(judged_df: DataFrame) -> DataFrame:
    """Per deal: the rating of its latest verified reviews, under the category and merchant of its newest review."""
    listing = [F.max_by(c, "occurred_at").alias(c)
               for c in ("category_slug", "parent_category", "merchant_id", "merchant_name")]
    ratings_df = judged_df.groupBy("deal_id").agg(*_review_sums(), *listing)
    return select_schema(_with_mean(ratings_df), rs.RATINGS_BY_DEAL_SCHEMA)


def to_deal_ratings_by_category_rows(deal_ratings_df: DataFrame) -> DataFrame:
    """A deal's rating under its own category and its parent (a parent's ranking includes its children)."""
    own_df = deal_ratings_df.withColumn("deal_category", F.col("category_slug"))
    listed_df = explode_listing_categories(own_df).drop("category_slug")
    return select_schema(listed_df.withColumnRenamed("listing_category", "category_slug"),
                         rs.DEAL_RATINGS_BY_CATEGORY_SCHEMA)


def to_deal_ratings_by_merchant_rows(deal_ratings_df: DataFrame) -> DataFrame:
    return select_schema(deal_ratings_df.filter(F.col("merchant_id").isNotNull()), rs.DEAL_RATINGS_BY_MERCHANT_SCHEMA)


def _merged(deal_ratings_df: DataFrame, *keys: str) -> DataFrame:
    """Deal ratings summed per `keys`: counts, stars and each star's count add up exactly."""
    return _with_mean(deal_ratings_df.groupBy(*keys).agg(*_merged_sums()))


@reused
def _merged_sums() -> tuple[Column, ...]:
    stars = [F.sum(F.col("distribution")[i]).cast("int") for i in range(len(STARS))]
    return (F.sum("reviews").cast("int").alias("reviews"), F.sum("stars").cast("long").alias("stars"),
            F.array(*stars).alias("distribution"), F.sum("unverified_reviews").cast("int").alias("unverified_reviews"),
            F.max("merchant_name").alias("merchant_name"),
            F.count(F.when(F.col("reviews") > 0, 1)).cast("int").alias("rated_deals"))


def to_ratings_by_merchant_rows(merchant_deal_ratings_df: DataFrame) -> DataFrame:
    """Per merchant, from every rated deal of the merchant (deal_ratings_by_merchant partitions)."""
    return select_schema(_merged(merchant_deal_ratings_df, "merchant_id"), rs.RATINGS_BY_MERCHANT_SCHEMA)


def to_merchant_ratings_by_category_rows(category_deal_ratings_df: DataFrame) -> DataFrame:
    """Per (category, merchant), from every rated deal of the category (deal_ratings_by_category partitions)."""
    with_merchant_df = category_deal_ratings_df.filter(F.col("merchant_id").isNotNull())
    return select_schema(_merged(with_merchant_df, "category_slug", "merchant_id"),
                         rs.MERCHANT_RATINGS_BY_CATEGORY_SCHEMA)


def to_rating_prior_rows(category_deal_ratings_df: DataFrame) -> DataFrame:
    """Per category: every verified review of its deals, the prior of the adjusted ratings."""
    priors_df = category_deal_ratings_df.groupBy("category_slug").agg(
        F.sum("reviews").cast("long").alias("reviews"), F.sum("stars").cast("long").alias("stars"))
    return select_schema(_with_mean(priors_df), rs.RATING_PRIORS_BY_CATEGORY_SCHEMA)
