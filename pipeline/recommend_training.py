"""Training and evaluating recommenders: the time split, the hyper-parameter grid, the final fit.

Used by batch/recommend_job.py (grid on a validation split of the history, then a fit on all of it)
and by bench/recommend.py (the same, on the first 80 % of each user's history, tested on the rest).
Each evaluation collects one top-k list per user to the driver (k x users rows) for the metrics.
"""
from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass, field
from datetime import datetime
from itertools import product

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from conf.settings import Settings
from pipeline import recommend_features as rf
from pipeline.recommend_metrics import Evaluation, Rankings, Relevant, evaluate
from pipeline.recommenders import Als, AlsParams, BlendParams, History, LocationAwareBlend, Popularity, Recommender

log = logging.getLogger(__name__)
K = 10


def history_of(events_df: DataFrame, settings: Settings, *, now: datetime) -> History:
    """Interactions and homes of the events, cached (every model of a run reads them)."""
    interactions = rf.to_interactions(events_df, now=now, half_life_s=settings.recommend_half_life_days * 86_400)
    return History(interactions.cache(), rf.to_user_homes(events_df).cache())


def split_events(events_df: DataFrame, held_out_share: float) -> tuple[DataFrame, DataFrame]:
    """(older part, newest part) of every user's events."""
    split_df = rf.with_user_time_split(events_df, held_out_share=held_out_share).cache()
    return split_df.filter(~F.col("is_held_out")).drop("is_held_out"), \
        split_df.filter(F.col("is_held_out")).drop("is_held_out")


def relevant_of(held_out_df: DataFrame) -> dict[int, set[int]]:
    """user -> the deals they interacted with in the held-out part."""
    relevant: dict[int, set[int]] = {}
    for row in held_out_df.select("user_id", "deal_id").distinct().collect():
        relevant.setdefault(row["user_id"], set()).add(row["deal_id"])
    return relevant


def sample_users(relevant: dict[int, set[int]], most: int, seed: int) -> dict[int, set[int]]:
    """At most `most` users of `relevant`, a seeded sample (the same users for every grid point)."""
    if len(relevant) <= most:
        return relevant
    chosen = random.Random(seed).sample(sorted(relevant), most)
    return {user: relevant[user] for user in chosen}


def rankings_of(ranked_df: DataFrame) -> dict[int, list[int]]:
    """user -> deal ids by rank, from top_n_per_user output."""
    rows = sorted(ranked_df.select("user_id", "rank", "deal_id").collect(), key=lambda r: (r["user_id"], r["rank"]))
    rankings: dict[int, list[int]] = {}
    for row in rows:
        rankings.setdefault(row["user_id"], []).append(row["deal_id"])
    return rankings


def bought_pairs(history: History) -> DataFrame:
    return history.interactions.filter(F.col("bought")).select("user_id", "deal_id")


def rank_for(model: Recommender, history: History, users_df: DataFrame, deals_df: DataFrame, *, n: int,
             per_merchant: int) -> DataFrame:
    """The model's top `n` per user: live, never bought, at most `per_merchant` per merchant."""
    scored_df = model.score(users_df, deals_df)
    return rf.top_n_per_user(scored_df, deals_df, bought_pairs(history), n=n, per_merchant=per_merchant)


def measure(model: Recommender, history: History, relevant: Relevant, deals_df: DataFrame, *,
            catalog_size: int, per_merchant: int) -> tuple[Evaluation, Rankings]:
    users_df = history.homes.filter(F.col("user_id").isin(list(relevant)))
    rankings = rankings_of(rank_for(model, history, users_df, deals_df, n=K, per_merchant=per_merchant))
    return evaluate(rankings, relevant, catalog_size=catalog_size, k=K), rankings


@dataclass
class Trained:
    """The fitted blend (with its ALS and popularity), the chosen parameters and the grid's scores."""

    blend: LocationAwareBlend
    history: History
    params: AlsParams
    taste_weight: float
    grid: list[dict[str, float]] = field(default_factory=list)
    seconds: float = 0.0


def als_grid(settings: Settings) -> list[AlsParams]:
    return [AlsParams(rank, reg, settings.recommend_als_alpha, settings.recommend_als_iterations)
            for rank, reg in product(settings.recommend_als_ranks, settings.recommend_als_reg_params)]


def choose_params(events_df: DataFrame, deals_df: DataFrame, settings: Settings, *, now: datetime
                  ) -> tuple[AlsParams, float, list[dict[str, float]]]:
    """The ALS parameters and taste weight whose blend has the best NDCG@10 on the newest part of each
    user's history (ALS is fitted once per rank and regParam on every user's older part; each taste
    weight only re-scores, for a sample of `recommend_validation_users` users)."""
    grid, tastes = als_grid(settings), settings.recommend_taste_weights
    if len(grid) == 1 and len(tastes) == 1:
        return grid[0], tastes[0], []
    fit_df, validation_df = split_events(events_df, settings.recommend_test_share)
    history = history_of(fit_df, settings, now=now)
    relevant = sample_users(relevant_of(validation_df), settings.recommend_validation_users, seed=grid[0].seed)
    popularity = Popularity(settings.recommend_candidates)
    popularity.fit(history)
    size, scores = deals_df.count(), []
    users_df = history.homes.filter(F.col("user_id").isin(list(relevant)))
    for params in grid:
        als = Als(params, settings.recommend_candidates)
        als.fit(history)
        fitted = LocationAwareBlend(als, popularity, BlendParams.of(settings, taste_weight=tastes[0]))
        fitted.fit(history, fit_parts=False)
        # the candidates and their parts are the same for every taste weight: built once, re-scored per weight
        components_df = fitted.components(users_df, deals_df).persist()
        for taste in tastes:
            scored_df = fitted.with_taste_weight(taste).score_components(components_df)
            ranked_df = rf.top_n_per_user(scored_df, deals_df, bought_pairs(history), n=K,
                                          per_merchant=settings.recommend_per_merchant)
            result = evaluate(rankings_of(ranked_df), relevant, catalog_size=size, k=K)
            scores.append({"rank": params.rank, "reg_param": params.reg_param, "taste_weight": taste,
                           "ndcg_at_10": result.ndcg, "precision_at_10": result.precision})
            log.info("grid: rank %d, regParam %g, taste %g -> validation NDCG@10 %.4f, precision@10 %.4f",
                     params.rank, params.reg_param, taste, result.ndcg, result.precision)
        components_df.unpersist()
    best = max(range(len(scores)), key=lambda i: (scores[i]["ndcg_at_10"], -i))
    return grid[best // len(tastes)], tastes[best % len(tastes)], scores


def train(events_df: DataFrame, deals_df: DataFrame, settings: Settings, *, now: datetime) -> Trained:
    """Grid on a validation split, then the blend fitted on the whole history with the best parameters."""
    started = time.monotonic()
    params, taste, grid = choose_params(events_df, deals_df, settings, now=now)
    history = history_of(events_df, settings, now=now)
    blend = LocationAwareBlend(Als(params, settings.recommend_candidates),
                               Popularity(settings.recommend_candidates), BlendParams.of(settings, taste_weight=taste))
    blend.fit(history)
    return Trained(blend, history, params, taste, grid, time.monotonic() - started)
