"""The recommender interface and its implementations: popularity, implicit-feedback ALS, and the
location-aware blend of both that falls back to trending-near-you for what the model does not know.

A recommender is fitted on a `History` (interactions and homes) and then scores candidates: given
users (with homes) and the live deals, it returns a bounded set of (user, deal, score, reason) rows,
at most `candidates` per user; `recommend_features.top_n_per_user` turns them into a list.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Protocol

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from conf.settings import Settings
from pipeline import recommend_features as rf
from pipeline import recommend_schemas as s
from pipeline.records import lookup, select_schema
from pipeline.taxonomy import CATEGORY_NAMES

#: Weight of the country-wide popularity beside the area's: it only breaks ties and fills thin areas.
GLOBAL_TIEBREAK = 0.01
POPULAR_NEAR_YOU = "popular near you"
POPULAR_NOW = "popular right now"
PEOPLE_LIKE_YOU = "popular with people like you"


@dataclass(frozen=True)
class History:
    """What a recommender learns from."""

    interactions: DataFrame  # INTERACTION_SCHEMA
    homes: DataFrame  # USER_HOME_SCHEMA


@dataclass(frozen=True)
class AlsParams:
    rank: int
    reg_param: float
    alpha: float
    iterations: int
    seed: int = 13


@dataclass(frozen=True)
class BlendParams:
    candidates: int
    distance_km: float
    online_penalty: float
    als_weight: float
    new_deal_prior: float
    taste_weight: float
    top_categories: int
    category_prior: float
    exploration: float

    @classmethod
    def of(cls, settings: Settings, *, taste_weight: float) -> BlendParams:
        return cls(settings.recommend_candidates, settings.recommend_distance_km, settings.recommend_online_penalty,
                   settings.recommend_als_weight, settings.recommend_new_deal_prior, taste_weight,
                   settings.recommend_top_categories, settings.recommend_category_prior,
                   settings.recommend_exploration)


class Recommender(Protocol):
    name: str

    def fit(self, history: History) -> None:
        """Learn from the history (Spark jobs run here)."""

    def score(self, users_df: DataFrame, deals_df: DataFrame) -> DataFrame:
        """SCORED_SCHEMA rows for `users_df` (USER_HOME_SCHEMA) over `deals_df` (CANDIDATE_DEAL_SCHEMA)."""
        ...


def _best_per(df: DataFrame, key: str, order: Column, limit: int) -> DataFrame:
    return df.withColumn("_r", F.row_number().over(Window.partitionBy(key).orderBy(order, "deal_id"))) \
        .filter(F.col("_r") <= limit).drop("_r")


class Popularity:
    """Time-decayed popularity among the people of the user's area, ties broken country-wide."""

    name = "popularity"

    def __init__(self, candidates: int) -> None:
        self.candidates = candidates
        self.by_area: DataFrame | None = None
        self.overall: DataFrame | None = None

    def fit(self, history: History) -> None:
        self.by_area = rf.to_area_popularity(history.interactions, history.homes).cache()
        self.overall = history.interactions.groupBy("deal_id").agg(F.sum("recent_strength").alias("popularity")) \
            .cache()

    def area_scores(self, users_df: DataFrame, deals_df: DataFrame) -> DataFrame:
        """(user_id, deal_id, popularity in 0..1 of the area's best) for the area's top candidates."""
        assert self.by_area is not None, "fit() first"
        live_df = self.by_area.join(deals_df.select("deal_id"), "deal_id")
        top_df = _best_per(live_df, "area", F.col("popularity").desc(), self.candidates)
        normed_df = top_df.withColumn("pop", F.col("popularity") / F.max("popularity").over(Window.partitionBy("area")))
        return users_df.select("user_id", "area").join(normed_df, "area").select("user_id", "deal_id", "pop")

    def score(self, users_df: DataFrame, deals_df: DataFrame) -> DataFrame:
        assert self.overall is not None, "fit() first"
        live_df = self.overall.join(deals_df.select("deal_id"), "deal_id")
        top_df = live_df.orderBy(F.col("popularity").desc(), "deal_id").limit(self.candidates)
        best = top_df.agg(F.max("popularity")).first()
        scale = float(best[0]) if best is not None and best[0] else 1.0
        overall_df = users_df.select("user_id").crossJoin(F.broadcast(
            top_df.select("deal_id", (F.col("popularity") / F.lit(scale)).alias("overall"))))
        pairs_df = (self.area_scores(users_df, deals_df).join(overall_df, ["user_id", "deal_id"], "full")
                    .fillna(0.0, ["pop", "overall"]))
        scored_df = pairs_df.select(
            "user_id", "deal_id", (F.col("pop") + F.lit(GLOBAL_TIEBREAK) * F.col("overall")).alias("score"),
            F.when(F.col("pop") > 0, F.lit(POPULAR_NEAR_YOU)).otherwise(F.lit(POPULAR_NOW)).alias("reason"))
        return select_schema(_best_per(scored_df, "user_id", F.col("score").desc(), self.candidates), s.SCORED_SCHEMA)


class Als:
    """Spark MLlib ALS with implicit feedback: confidence 1 + alpha x summed interaction weights."""

    name = "als"

    def __init__(self, params: AlsParams, candidates: int) -> None:
        self.params = params
        self.candidates = candidates
        self.model: Any = None  # pyspark.ml.recommendation.ALSModel

    def fit(self, history: History) -> None:
        from pyspark.ml.recommendation import ALS

        p = self.params
        als = ALS(rank=p.rank, regParam=p.reg_param, alpha=p.alpha, maxIter=p.iterations, implicitPrefs=True,
                  userCol="user", itemCol="item", ratingCol="strength", coldStartStrategy="nan", seed=p.seed)
        self.model = als.fit(_als_ids(history.interactions).select("user", "item", "strength"))

    def predict(self, pairs_df: DataFrame) -> DataFrame:
        """`pairs_df` (user_id, deal_id, …) with `als`: the predicted preference clipped to 0..1, 0 when unknown."""
        predicted_df = self.model.transform(_als_ids(pairs_df)).drop("user", "item")
        known = F.when(F.isnan("prediction") | F.col("prediction").isNull(), F.lit(0.0)).otherwise(F.col("prediction"))
        return predicted_df.withColumn("als", F.least(F.lit(1.0), F.greatest(F.lit(0.0), known))).drop("prediction")

    def score(self, users_df: DataFrame, deals_df: DataFrame) -> DataFrame:
        users = _als_ids(users_df.select("user_id")).select("user")
        recs_df = self.model.recommendForUserSubset(users, self.candidates)
        exploded_df = recs_df.select(F.col("user").cast("long").alias("user_id"),
                                     F.explode("recommendations").alias("r"))
        scored_df = exploded_df.select("user_id", F.col("r.item").cast("long").alias("deal_id"),
                                       F.col("r.rating").cast("double").alias("score"))
        live_df = scored_df.join(deals_df.select("deal_id"), "deal_id")
        return select_schema(live_df.withColumn("reason", F.lit(PEOPLE_LIKE_YOU)), s.SCORED_SCHEMA)


def _als_ids(df: DataFrame) -> DataFrame:
    """ALS wants int ids: user and deal ids are cast (both far below 2^31 in this platform)."""
    out = df.withColumn("user", F.col("user_id").cast("int"))
    return out.withColumn("item", F.col("deal_id").cast("int")) if "deal_id" in df.columns else out


class LocationAwareBlend:
    """(1 - t) x (w x ALS + (1 - w) x area popularity) x distance penalty from home (LARS-style)
    + t x taste, where taste is how likely the user is to pick the deal among their favourite
    categories' deals: the category's affinity (their history, smoothed) x the deal's share of the
    category's nearness from home, scaled so the user's best is 1. The score is then multiplied by
    `recommend_features.exploration_factor`, which spreads the lists of users with the same tastes over
    the near-best deals (catalog coverage) at a small cost in precision.

    Why taste beside ALS: a user's clicks are spread thin over thousands of deals, and ALS learns from
    deal-level co-occurrence; which categories a user keeps coming back to, and that people pick the
    nearer of similar deals, is learned from a few dozen events and carries over to deals nobody has
    touched. The weights are chosen on a validation split (recommend_training.choose_params).

    Candidates: ALS's best, the popular deals of the user's area, the best-fitting deals of their
    favourite categories, and deals of the area nobody has touched yet (new: they get `new_deal_prior`
    as popularity). A user or deal ALS does not know scores 0 from ALS, so cold-start users get
    trending-near-you and new deals still reach people nearby."""

    name = "blend"

    def __init__(self, als: Als, popularity: Popularity, params: BlendParams) -> None:
        self.als, self.popularity, self.params = als, popularity, params
        self.anchors: DataFrame | None = None
        self.known_deals: DataFrame | None = None
        self.affinity: DataFrame | None = None

    def fit(self, history: History, *, fit_parts: bool = True) -> None:
        if fit_parts:
            self.als.fit(history)
            self.popularity.fit(history)
        strongest = Window.partitionBy("user_id", "category_slug").orderBy(F.col("strength").desc(), "deal_id")
        self.anchors = (history.interactions.withColumn("_r", F.row_number().over(strongest))
                        .filter(F.col("_r") == 1)
                        .select("user_id", "category_slug", F.col("deal_title").alias("anchor_title"),
                                F.col("bought").alias("anchor_bought")).cache())
        self.known_deals = history.interactions.select("deal_id").distinct().cache()
        self.affinity = rf.to_category_affinity(history.interactions, prior_strength=self.params.category_prior,
                                                top=self.params.top_categories).cache()

    def _candidates(self, users_df: DataFrame, deals_df: DataFrame) -> DataFrame:
        assert self.known_deals is not None, "fit() first"
        none = {"pop": F.lit(0.0), "is_new": F.lit(False), "taste": F.lit(0.0)}
        from_als = self.als.score(users_df, deals_df).select("user_id", "deal_id").withColumns(none)
        from_area = self.popularity.area_scores(users_df, deals_df).withColumns(
            {"is_new": none["is_new"], "taste": none["taste"]})
        from_taste = self._taste(users_df, deals_df).withColumns({"pop": none["pop"], "is_new": none["is_new"]})
        new_df = _best_per(deals_df.join(self.known_deals, "deal_id", "left_anti").filter(F.col("area").isNotNull()),
                           "area", F.col("deal_id").desc(), self.params.candidates)  # newest ids first
        from_new = users_df.select("user_id", "area").join(new_df.select("deal_id", "area"), "area").select(
            "user_id", "deal_id", F.lit(self.params.new_deal_prior).alias("pop"), F.lit(True).alias("is_new"),
            none["taste"].alias("taste"))
        return (from_als.unionByName(from_area).unionByName(from_taste).unionByName(from_new)
                .groupBy("user_id", "deal_id").agg(F.max("pop").alias("pop"), F.max("is_new").alias("is_new"),
                                                   F.max("taste").alias("taste")))

    def _taste(self, users_df: DataFrame, deals_df: DataFrame) -> DataFrame:
        """(user_id, deal_id, taste in 0..1) for the best-fitting deals of each user's favourite categories."""
        assert self.affinity is not None, "fit() first"
        p = self.params
        homes = users_df.select("user_id", F.col("latitude").alias("home_lat"), F.col("longitude").alias("home_lon"))
        pairs_df = homes.join(self.affinity, "user_id").join(
            deals_df.select("deal_id", "category_slug", "latitude", "longitude"), "category_slug")
        nearness = rf.distance_penalty(F.col("home_lat"), F.col("home_lon"), F.col("latitude"), F.col("longitude"),
                                       scale_km=p.distance_km, online_penalty=p.online_penalty)
        share = F.col("nearness") / F.sum("nearness").over(Window.partitionBy("user_id", "category_slug"))
        fitted_df = pairs_df.withColumn("nearness", nearness).withColumn("fit", F.col("affinity") * share)
        best_df = _best_per(fitted_df, "user_id", F.col("fit").desc(), p.candidates)
        return best_df.select("user_id", "deal_id",
                              (F.col("fit") / F.max("fit").over(Window.partitionBy("user_id"))).alias("taste"))

    def with_taste_weight(self, taste_weight: float) -> LocationAwareBlend:
        """The same fitted blend with another taste weight (the grid re-scores its `components`)."""
        params = dataclasses.replace(self.params, taste_weight=taste_weight)
        other = LocationAwareBlend(self.als, self.popularity, params)
        other.anchors, other.known_deals, other.affinity = self.anchors, self.known_deals, self.affinity
        return other

    def score(self, users_df: DataFrame, deals_df: DataFrame) -> DataFrame:
        return self.score_components(self.components(users_df, deals_df))

    def components(self, users_df: DataFrame, deals_df: DataFrame) -> DataFrame:
        """Every candidate with the parts of its score that do not depend on the weights: `als`, `pop`,
        `taste`, `is_new`, the distance `penalty` and `category_slug`."""
        p = self.params
        pairs_df = self.als.predict(self._candidates(users_df, deals_df))
        homes = users_df.select("user_id", F.col("latitude").alias("home_lat"), F.col("longitude").alias("home_lon"))
        placed_df = pairs_df.join(homes, "user_id").join(
            deals_df.select("deal_id", "latitude", "longitude", "category_slug"), "deal_id")
        penalty = rf.distance_penalty(F.col("home_lat"), F.col("home_lon"), F.col("latitude"), F.col("longitude"),
                                      scale_km=p.distance_km, online_penalty=p.online_penalty)
        return placed_df.withColumn("penalty", penalty).select(
            "user_id", "deal_id", "category_slug", "als", "pop", "taste", "is_new", "penalty")

    def score_components(self, components_df: DataFrame) -> DataFrame:
        """SCORED_SCHEMA rows: the best `candidates` of each user by the weighted score, with reasons."""
        p = self.params
        als_part, pop_part = F.lit(p.als_weight) * F.col("als"), F.lit(1 - p.als_weight) * F.col("pop")
        model_part = F.lit(1 - p.taste_weight) * (als_part + pop_part) * F.col("penalty")
        taste_part = F.lit(p.taste_weight) * F.col("taste")
        explore = rf.exploration_factor(F.col("user_id"), F.col("deal_id"), strength=p.exploration,
                                        seed=self.als.params.seed)
        scored_df = components_df.withColumns({
            "score": (model_part + taste_part) * explore,
            # what the reason names: the user's own history (ALS or their taste) or the area's
            "history_led": (als_part >= pop_part) | ((taste_part > 0) & (taste_part >= model_part)),
        })
        return _best_per(self._explained(scored_df), "user_id", F.col("score").desc(), p.candidates)

    def _explained(self, scored_df: DataFrame) -> DataFrame:
        """A short reason per item: what the user did in its category, or why it is shown anyway."""
        assert self.anchors is not None, "fit() first"
        with_anchor_df = scored_df.join(self.anchors, ["user_id", "category_slug"], "left")
        verb = F.when(F.col("anchor_bought"), F.lit("bought")).otherwise(F.lit("looked at"))
        reason = (F.when(F.col("is_new") & (F.col("als") == 0),
                         F.concat(F.lit("new in "), F.lower(lookup(CATEGORY_NAMES, F.col("category_slug")))))
                  .when(F.col("history_led") & F.col("anchor_title").isNotNull(),
                        F.concat(F.lit("because you "), verb, F.lit(" "), F.col("anchor_title")))
                  .when(F.col("history_led") & (F.col("als") > 0), F.lit(PEOPLE_LIKE_YOU))
                  .otherwise(F.lit(POPULAR_NEAR_YOU)))
        return select_schema(with_anchor_df.withColumn("reason", reason), s.SCORED_SCHEMA)
