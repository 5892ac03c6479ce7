"""Pure DataFrame -> DataFrame transforms of the recommender: history, homes, popularity, place, lists.

Flow: events (ACTIVITY_EVENT_SCHEMA) --with_user_time_split--> train / held-out parts
      events --to_interactions--> (user, deal) confidence (INTERACTION_SCHEMA)
      events --to_user_homes--> where each user lives (USER_HOME_SCHEMA)
      interactions x homes --to_area_popularity--> what the people of an area interact with
      interactions --to_category_affinity--> each user's favourite categories
      deals_by_id rows --to_candidate_deals--> live deals (CANDIDATE_DEAL_SCHEMA)
      scored candidates --top_n_per_user--> a ranked list: nothing bought, at most K per merchant
"""
from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from pipeline import recommend_schemas as s
from pipeline.definitions import AREA_PRECISION, INTERACTION_CONFIDENCE
from pipeline.driver_rows import empty_frame
from pipeline.geo import geohash, haversine_km
from pipeline.records import lookup, select_schema

#: The (user, deal) pairs an area has already seen: none (the popular deals of an area exclude nothing).
NOBODY_SEEN_SCHEMA = T.StructType([T.StructField("user_id", T.StringType()), T.StructField("deal_id", T.LongType())])

def confidence_of(event_type: Column, weights: Mapping[str, float] = INTERACTION_CONFIDENCE) -> Column:
    """The confidence one event adds (0 for a type without a weight)."""
    return F.coalesce(lookup(weights, event_type).cast("double"), F.lit(0.0))


def with_user_time_split(events_df: DataFrame, *, held_out_share: float) -> DataFrame:
    """Add `is_held_out`: the newest `held_out_share` of each user's events (the oldest one always trains)."""
    in_order = Window.partitionBy("user_id").orderBy("occurred_at", "event_id")
    events = F.count(F.lit(1)).over(Window.partitionBy("user_id"))
    kept = F.greatest(F.lit(1), F.ceil(events * F.lit(1.0 - held_out_share)))
    return events_df.withColumn("is_held_out", F.row_number().over(in_order) > kept)


def to_interactions(events_df: DataFrame, *, now: datetime, half_life_s: float) -> DataFrame:
    """One row per (user, deal): summed confidence, the same halved every `half_life_s` before `now`."""
    weight = confidence_of(F.col("event_type"))
    age_s = F.greatest(F.lit(0.0), F.lit(now).cast("double") - F.col("occurred_at").cast("double"))
    decayed = weight * F.pow(F.lit(0.5), age_s / F.lit(half_life_s))
    pairs_df = events_df.groupBy("user_id", "deal_id").agg(
        F.sum(weight).alias("strength"), F.sum(decayed).alias("recent_strength"),
        F.count(F.lit(1)).alias("events"), F.max(F.col("event_type") == "purchase").alias("bought"),
        F.max("occurred_at").alias("last_at"), F.max("deal_title").alias("deal_title"),
        F.max("category_slug").alias("category_slug"))
    return select_schema(pairs_df.filter(F.col("strength") > 0), s.INTERACTION_SCHEMA)


def to_user_homes(events_df: DataFrame) -> DataFrame:
    """Each user's home: the place of their newest event that has one (events carry the user's home)."""
    located_df = events_df.filter(F.col("latitude").isNotNull() & F.col("longitude").isNotNull())
    newest = F.max_by(F.struct("latitude", "longitude"), F.struct("occurred_at", "event_id"))
    homes_df = located_df.groupBy("user_id").agg(newest.alias("home")).select("user_id", "home.*")
    return select_schema(homes_df.withColumn("area", geohash(F.col("latitude"), F.col("longitude"),
                                                             AREA_PRECISION)), s.USER_HOME_SCHEMA)


def to_area_popularity(interactions_df: DataFrame, homes_df: DataFrame) -> DataFrame:
    """(area, deal_id, popularity): the time-decayed confidence of the people living in each area."""
    return (interactions_df.join(homes_df.select("user_id", "area"), "user_id")
            .groupBy("area", "deal_id").agg(F.sum("recent_strength").alias("popularity")))


def to_category_affinity(interactions_df: DataFrame, *, prior_strength: float, top: int) -> DataFrame:
    """(user_id, category_slug, affinity) for each user's `top` categories: the user's share of their
    interaction strength in the category, smoothed toward the whole history's share of it with
    `prior_strength` of pseudo-strength (a single click does not make a favourite)."""
    by_user_df = interactions_df.groupBy("user_id", "category_slug").agg(F.sum("strength").alias("in_category"))
    strengths_df = interactions_df.groupBy("category_slug").agg(F.sum("strength").alias("category_strength"))
    everyone_df = strengths_df.agg(F.sum("category_strength").alias("everyone"))  # one row
    shares_df = strengths_df.crossJoin(F.broadcast(everyone_df)).select(
        "category_slug", (F.col("category_strength") / F.col("everyone")).alias("share"))
    user_total = F.sum("in_category").over(Window.partitionBy("user_id"))
    prior = F.lit(prior_strength)
    smoothed_df = by_user_df.join(F.broadcast(shares_df), "category_slug").withColumn(
        "affinity", (F.col("in_category") + prior * F.col("share")) / (user_total + prior))
    favourite = Window.partitionBy("user_id").orderBy(F.col("affinity").desc(), "category_slug")
    return (smoothed_df.withColumn("_r", F.row_number().over(favourite)).filter(F.col("_r") <= top)
            .select("user_id", "category_slug", "affinity"))


def to_candidate_deals(deals_df: DataFrame, *, now: datetime) -> DataFrame:
    """Live deals (not expired at `now`, with a price and a category) of deals_by_id rows."""
    is_live = F.col("expires_at").isNull() | (F.col("expires_at") > F.lit(now))
    live_df = deals_df.filter(is_live & F.col("price").isNotNull() & F.col("category_slug").isNotNull())
    with_area_df = live_df.withColumn("area", geohash(F.col("latitude"), F.col("longitude"), AREA_PRECISION))
    return select_schema(with_area_df.withColumn("title", F.coalesce("short_title", "title")),
                         s.CANDIDATE_DEAL_SCHEMA)


def distance_penalty(home_lat: Column, home_lon: Column, deal_lat: Column, deal_lon: Column, *,
                     scale_km: float, online_penalty: float) -> Column:
    """1 / (1 + (km / scale_km)^2) from the user's home; `online_penalty` for an online deal; 1 without a home."""
    km = haversine_km(home_lat, home_lon, deal_lat, deal_lon)
    near = F.lit(1.0) / (F.lit(1.0) + F.pow(km / F.lit(scale_km), 2))
    return (F.when(deal_lat.isNull() | deal_lon.isNull(), F.lit(online_penalty))
            .when(home_lat.isNull() | home_lon.isNull(), F.lit(1.0)).otherwise(near))


def exploration_factor(user_id: Column, deal_id: Column, *, strength: float, seed: int) -> Column:
    """exp(`strength` x G), G a standard Gumbel variate drawn from a hash of (user, deal, seed).

    Why: users of one town with the same tastes get the same scores, so ranking by score alone shows
    them one identical list and leaves most of the catalog unseen. Ranking by score x this factor
    draws each user's list without replacement in proportion to score^(1/strength) (the Gumbel-max
    trick, Plackett-Luce): near-best deals are spread over those users, a far worse one rarely gets
    in. Deterministic per user, deal and seed (a user's list does not reshuffle on every read);
    1 at strength 0."""
    if strength == 0:
        return F.lit(1.0)
    uniform = (F.pmod(F.xxhash64(user_id, deal_id, F.lit(seed)), F.lit(2**32)) + F.lit(0.5)) / F.lit(float(2**32))
    gumbel = -F.log(-F.log(uniform))
    return F.exp(F.lit(strength) * gumbel)


def top_n_per_user(scored_df: DataFrame, deals_df: DataFrame, bought_df: DataFrame, *, n: int,
                   per_merchant: int) -> DataFrame:
    """The best `n` scored live deals per user with `rank` 1..n: none in `bought_df` (user_id, deal_id),
    at most `per_merchant` of one merchant (an online deal without a merchant is its own)."""
    live_df = scored_df.join(deals_df.select("deal_id", "merchant_id"), "deal_id")
    fresh_df = live_df.join(bought_df.select("user_id", "deal_id"), ["user_id", "deal_id"], "left_anti")
    best_first = [F.col("score").desc(), F.col("deal_id")]
    merchant = F.coalesce(F.col("merchant_id"), -F.col("deal_id"))
    by_merchant = Window.partitionBy("user_id", merchant).orderBy(*best_first)
    diverse_df = fresh_df.withColumn("_m", F.row_number().over(by_merchant)).filter(F.col("_m") <= per_merchant)
    ranked_df = diverse_df.withColumn("rank", F.row_number().over(Window.partitionBy("user_id").orderBy(*best_first)))
    return ranked_df.filter(F.col("rank") <= n).drop("_m")


def to_recommendation_rows(ranked_df: DataFrame, deals_df: DataFrame, homes_df: DataFrame, *,
                           trained_at: datetime) -> DataFrame:
    """Ranked lists as recommendations_by_user rows (the deal as trained, the user's home)."""
    homes = homes_df.select("user_id", F.col("latitude").alias("home_latitude"),
                            F.col("longitude").alias("home_longitude"))
    rows_df = (ranked_df.drop("merchant_id").join(deals_df, "deal_id").join(homes, "user_id", "left")
               .withColumn("trained_at", F.lit(trained_at)))
    return select_schema(rows_df, s.RECOMMENDATIONS_BY_USER_SCHEMA)


def to_popular_area_rows(popularity_df: DataFrame, deals_df: DataFrame, *, n: int, per_merchant: int,
                         trained_at: datetime) -> DataFrame:
    """The `n` most popular live deals of each area (at most `per_merchant` per merchant), best first."""
    scored_df = popularity_df.select(F.col("area").alias("user_id"), "deal_id", F.col("popularity").alias("score"))
    nobody_df = empty_frame(scored_df.sparkSession, NOBODY_SEEN_SCHEMA)  # no pickled RDD: see `empty_frame`
    ranked_df = top_n_per_user(scored_df, deals_df, nobody_df, n=n, per_merchant=per_merchant)
    rows_df = (ranked_df.drop("merchant_id").withColumnRenamed("user_id", "area").join(deals_df.drop("area"), "deal_id")
               .withColumn("trained_at", F.lit(trained_at)))
    return select_schema(rows_df, s.POPULAR_DEALS_BY_AREA_SCHEMA)
