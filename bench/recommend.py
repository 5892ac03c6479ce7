"""Recommendations: popularity vs implicit ALS vs the location-aware blend vs the oracle, and serving.

Run: `.venv/bin/python -m bench.recommend [--quick]` (starts Kafka and Cassandra when they are not running).

1. The deals simulator's seeded catalog (every deal live) and the activity simulator's seeded users
   produce N events over 14 simulated days, in process (full: 1M events; --quick: 150k).
2. Time split: the first 80 % of each user's events train, the rest test. Popularity (area,
   time-decayed), ALS and the blend are trained by the job's own code (pipeline/recommend_training.py:
   grid of ALS parameters x taste weights on a validation split of the training part, then a fit on
   all of it) in one local[2] session.
3. Each model's top 10 per user (never a deal the user bought in training, at most
   EXS_RECOMMEND_PER_MERCHANT per merchant) is scored against the deals each user touched in the
   test part: precision, recall, NDCG at 10 and catalog coverage. The oracle ranks by the simulator's
   truth (ingest/activity/truth.py: interests and distance), with the same exclusions: the ceiling.
4. Serving (bench/recommend_serving.py): the blend's lists are written to Cassandra, the API runs as a
   subprocess, and `viewer { recommendations }` p50/p99 is measured beside `deal(id)` in the same run.
5. `--oracle-frontier`: the oracle again at exploration strengths 0.1-1 (the blend's Gumbel draw on the
   true odds): which precision and coverage can be had together on this catalog.
Writes bench/results/recommend.json.
"""
from __future__ import annotations

import argparse
import dataclasses
import heapq
import logging
import math
import random
import time
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.report import local_stack, table, write_results
from conf.settings import Settings, load_settings

log = logging.getLogger(__name__)
KEYSPACE = "exs_bench_recommend"
START = datetime(2026, 3, 1, tzinfo=UTC)
DAYS = 14
UNEXPLORED = "blend_no_exploration"  # the blend ranked by score alone (EXS_RECOMMEND_EXPLORATION=0)
MODELS = ("popularity", "als", "blend", UNEXPLORED, "oracle")
#: Exploration strengths the oracle is ranked with under --oracle-frontier.
FRONTIER_STRENGTHS = (0.1, 0.2, 0.3, 0.5, 0.7, 1.0)


def catalog(deals: int, seed: int) -> list[Any]:
    """The deals simulator's seeded catalog: every live record."""
    from ingest.simulator import SimConfig, Simulator

    return list(Simulator(SimConfig(seed=seed, deals=deals)).catalog.live.values())


def live_deals(records: Sequence[Any]) -> list[Any]:
    from ingest.activity.behaviour import LiveDeal

    return [LiveDeal(r.id, r.short_title or r.title, r.category, r.merchant.get("id"), r.merchant.get("name"),
                     r.price, round((r.value - r.price) / r.value, 4) if r.value else 0.0, r.lat, r.lng)
            for r in records]


def simulate(users: Sequence[Any], deals: Sequence[Any], count: int, seed: int) -> list[dict[str, Any]]:
    """`count` events of the activity model spread over DAYS simulated days."""
    from ingest.activity.behaviour import ActivityModel

    model, step = ActivityModel(list(users), list(deals), seed=seed), DAYS * 86_400 * 500 / count
    events: list[dict[str, Any]] = []
    moment = START
    while len(events) < count:
        events += model.next_events(moment, min(500, count - len(events)))
        moment += timedelta(seconds=step)
    return events


def event_rows(events: Sequence[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """ACTIVITY_EVENT_SCHEMA tuples (what the pipeline's parser makes of the same JSON)."""
    from pipeline.taxonomy import PARENT_OF

    return [(e["event_id"], e["event_type"], datetime.fromisoformat(e["occurred_at"].replace("Z", "+00:00")),
             datetime.fromisoformat(e["occurred_at"].replace("Z", "+00:00")), e["user_id"], e["user_name"],
             e["user_city"], e["lat"], e["lon"], e["deal_id"], e["deal_title"], e["category_slug"],
             PARENT_OF.get(e["category_slug"]), e["merchant_id"], e["merchant_name"], e["price"], e.get("quantity"),
             e.get("rating"), e.get("review_text")) for e in events]


def candidate_rows(deals: Sequence[Any]) -> list[tuple[Any, ...]]:
    from pipeline.cells import geohash
    from pipeline.definitions import AREA_PRECISION

    return [(d.deal_id, d.title, d.category_slug, d.merchant_id, d.merchant_name, d.price, d.latitude, d.longitude,
             None if d.latitude is None else geohash(d.latitude, d.longitude, AREA_PRECISION)) for d in deals]


def oracle_rankings(users: Sequence[Any], deals: Sequence[Any], relevant: dict[int, set[int]],
                    bought: dict[int, set[int]], per_merchant: int, k: int = 10, exploration: float = 0.0
                    ) -> dict[int, list[int]]:
    """Top k by the true view odds, with the exclusions every model gets. With `exploration`, the odds
    are ranked like the blend's scores are (odds x exp(exploration x G), G a seeded Gumbel draw per user
    and deal): the ceiling of what that exploration can reach."""
    from ingest.activity.truth import ViewOdds

    odds, merchant_of = ViewOdds(deals), {d.deal_id: d.merchant_id or -d.deal_id for d in deals}
    by_id = {u.user_id: u for u in users}
    rankings: dict[int, list[int]] = {}
    for user_id in relevant:
        scores = odds.of(by_id[user_id])
        best = heapq.nlargest(k * (30 if exploration else 10), scores, key=lambda d: (scores[d], -d))
        if exploration:
            rng = random.Random(user_id)  # the same draw for a user at every strength
            noise = {d: -math.log(-math.log(rng.random() or 0.5)) for d in sorted(best)}
            best.sort(key=lambda d: (-(math.log(scores[d]) + exploration * noise[d]), d))
        ranked: list[int] = []
        per: dict[int, int] = defaultdict(int)
        for deal_id in best:
            if deal_id in bought.get(user_id, ()) or per[merchant_of[deal_id]] >= per_merchant:
                continue
            per[merchant_of[deal_id]] += 1
            ranked.append(deal_id)
            if len(ranked) == k:
                break
        rankings[user_id] = ranked
    return rankings


def oracle_frontier(users: Sequence[Any], deals: Sequence[Any], relevant: dict[int, set[int]],
                    bought: dict[int, set[int]], per_merchant: int) -> dict[str, float]:
    """The oracle's precision@10 and coverage at each of FRONTIER_STRENGTHS of exploration: how much
    coverage the blend's kind of exploration buys on the true odds, and at what cost in precision."""
    from pipeline.recommend_metrics import evaluate

    frontier: dict[str, float] = {}
    for strength in FRONTIER_STRENGTHS:
        result = evaluate(oracle_rankings(users, deals, relevant, bought, per_merchant, exploration=strength),
                          relevant, catalog_size=len(deals), k=10)
        frontier |= {f"oracle_exploration_{strength:g}_precision_at_10": result.precision,
                     f"oracle_exploration_{strength:g}_coverage": result.coverage}
        log.info("oracle, exploration %g: precision@10 %.4f, coverage %.3f", strength, result.precision,
                 result.coverage)
    return frontier


def run_quality(spark: Any, settings: Settings, users: Sequence[Any], deals: Sequence[Any],
                events: Sequence[dict[str, Any]], work: str, *, frontier: bool = False
                ) -> tuple[dict[str, float], Any, Any]:
    from pyspark.sql import functions as F

    from pipeline import recommend_schemas as s
    from pipeline.activity_schemas import ACTIVITY_EVENT_SCHEMA
    from pipeline.recommend_metrics import evaluate
    from pipeline.recommend_training import history_of, measure, relevant_of, split_events, train
    from pipeline.recommenders import LocationAwareBlend, Popularity

    spark.createDataFrame(event_rows(events), ACTIVITY_EVENT_SCHEMA).write.mode("overwrite").parquet(f"{work}/ev")
    events_df = spark.read.parquet(f"{work}/ev")
    deals_df = spark.createDataFrame(candidate_rows(deals), s.CANDIDATE_DEAL_SCHEMA).cache()
    train_df, test_df = split_events(events_df, settings.recommend_test_share)
    newest = train_df.agg(F.max("occurred_at")).first()
    now = newest[0].replace(tzinfo=UTC) if newest is not None else START
    relevant, size, per = relevant_of(test_df), len(deals), settings.recommend_per_merchant
    metrics: dict[str, float] = {"events": float(len(events)), "users": float(len(users)),
                                 "catalog_deals": float(size), "test_users": float(len(relevant))}
    started = time.monotonic()
    trained = train(train_df, deals_df, settings, now=now)
    metrics |= {"training_s": time.monotonic() - started, "training_events": float(train_df.count()),
                "als_rank": float(trained.params.rank), "als_reg_param": trained.params.reg_param,
                "blend_taste_weight": trained.taste_weight, "blend_exploration": trained.blend.params.exploration}
    started = time.monotonic()
    popularity = Popularity(settings.recommend_candidates)
    history = history_of(train_df, settings, now=now)
    popularity.fit(history)
    popularity_result, _ = measure(popularity, history, relevant, deals_df, catalog_size=size, per_merchant=per)
    metrics["popularity_training_s"] = time.monotonic() - started
    results = {"popularity": popularity_result}
    # the same blend ranked by its score alone: what the exploration costs and what it buys
    unexplored = LocationAwareBlend(trained.blend.als, trained.blend.popularity,
                                    dataclasses.replace(trained.blend.params, exploration=0.0))
    unexplored.fit(trained.history, fit_parts=False)
    for name, model in (("als", trained.blend.als), ("blend", trained.blend), (UNEXPLORED, unexplored)):
        results[name], _ = measure(model, trained.history, relevant, deals_df, catalog_size=size, per_merchant=per)
        log.info("%s: %s", name, results[name])
    bought: dict[int, set[int]] = defaultdict(set)
    for row in trained.history.interactions.filter("bought").select("user_id", "deal_id").collect():
        bought[row["user_id"]].add(row["deal_id"])
    oracle = oracle_rankings(users, deals, relevant, bought, per)
    results["oracle"] = evaluate(oracle, relevant, catalog_size=size, k=10)
    if frontier:
        metrics |= oracle_frontier(users, deals, relevant, bought, per)
    # what the job costs on every event (the goal's figure): the same training over the whole history
    newest_all = events_df.agg(F.max("occurred_at")).first()
    started = time.monotonic()
    train(events_df, deals_df, settings, now=newest_all[0].replace(tzinfo=UTC) if newest_all is not None else START)
    metrics["training_all_events_s"] = time.monotonic() - started
    for name, result in results.items():
        metrics |= result.as_metrics(name, 10)
    return metrics, trained, deals_df


def ratios(m: dict[str, float]) -> dict[str, float]:
    def over(a: str, b: str) -> float:
        return m[a] / m[b] if m[b] else float("nan")

    return {"blend_vs_popularity_precision_at_10": over("blend_precision_at_10", "popularity_precision_at_10"),
            "blend_vs_oracle_precision_at_10": over("blend_precision_at_10", "oracle_precision_at_10"),
            "blend_vs_popularity_coverage": over("blend_coverage", "popularity_coverage"),
            "als_vs_popularity_precision_at_10": over("als_precision_at_10", "popularity_precision_at_10")}


def report(m: dict[str, float]) -> str:
    rows = [[name, m[f"{name}_precision_at_10"], m[f"{name}_recall_at_10"], m[f"{name}_ndcg_at_10"],
             m[f"{name}_coverage"], m[f"{name}_precision_at_10"] / m["popularity_precision_at_10"]
             if m["popularity_precision_at_10"] else float("nan")] for name in MODELS]
    fmt = [[r[0], *(f"{v:.4f}" for v in r[1:5]), f"{r[5]:.2f}x"] for r in rows]
    quality = table(["model", "precision@10", "recall@10", "NDCG@10", "coverage", "precision vs popularity"], fmt)
    goals = [["blend precision@10 vs popularity", f"{m['blend_vs_popularity_precision_at_10']:.2f}x", ">= 2x"],
             ["blend precision@10 vs oracle", f"{m['blend_vs_oracle_precision_at_10']:.2f}x", ">= 0.6x"],
             ["blend coverage vs popularity", f"{m['blend_vs_popularity_coverage']:.2f}x", ">= 3x"],
             [f"training (grid + fit) on all {m['events']:,.0f} events", f"{m['training_all_events_s']:.1f} s",
              "1M events <= 300 s"],
             [f"training on the {m['training_events']:,.0f} events of the training part", f"{m['training_s']:.1f} s",
              "reported"]]
    if "viewer_recommendations_p50_ms" in m:
        goals += [["viewer { recommendations } p50 / p99 ms",
                   f"{m['viewer_recommendations_p50_ms']:.1f} / {m['viewer_recommendations_p99_ms']:.1f}",
                   "reported"],
                  ["deal(id) p50 / p99 ms", f"{m['deal_p50_ms']:.1f} / {m['deal_p99_ms']:.1f}", "baseline"],
                  ["recommendations vs deal(id), p50 / p99",
                   f"{m['recommendations_vs_deal_p50']:.2f}x / {m['recommendations_vs_deal_p99']:.2f}x", "reported"]]
    if f"oracle_exploration_{FRONTIER_STRENGTHS[0]:g}_coverage" in m:
        pop_p, pop_c = m["popularity_precision_at_10"], m["popularity_coverage"]
        points = [[f"{x:g}", f"{m[f'oracle_exploration_{x:g}_precision_at_10']:.4f}",
                   f"{m[f'oracle_exploration_{x:g}_coverage']:.3f}",
                   f"{m[f'oracle_exploration_{x:g}_precision_at_10'] / pop_p:.2f}x" if pop_p else "-",
                   f"{m[f'oracle_exploration_{x:g}_coverage'] / pop_c:.2f}x" if pop_c else "-"]
                  for x in FRONTIER_STRENGTHS]
        goals.append(["oracle with exploration (--oracle-frontier)", "see below", "reported"])
        frontier_table = "\n" + table(["oracle exploration", "precision@10", "coverage", "precision vs popularity",
                                       "coverage vs popularity"], points)
    else:
        frontier_table = ""
    head = (f"{m['events']:,.0f} events of {m['users']:,.0f} users on {m['catalog_deals']:,.0f} deals; "
            f"{m['test_users']:,.0f} users tested; ALS rank {m['als_rank']:.0f}, regParam {m['als_reg_param']:g}, "
            f"taste weight {m['blend_taste_weight']:g}, exploration {m['blend_exploration']:g}")
    return "\n".join([head, quality, table(["goal", "measured", "target"], goals)]) + frontier_table


def main() -> None:
    """Brings up Kafka and Cassandra first when they are not running (and stops them afterwards)."""
    with local_stack():
        _main()


def _main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="150k events, 3,000 deals, 5,000 users, a 2-point grid, 100 candidates per user")
    parser.add_argument("--no-serving", action="store_true", help="skip the serving part (no Cassandra needed)")
    parser.add_argument("--oracle-frontier", action="store_true",
                        help="also rank the oracle with exploration 0.1-1: the precision and coverage the "
                             "true odds reach together with the blend's kind of exploration")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("cassandra", "kafka", "py4j"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    import tempfile

    from ingest.activity.population import make_users
    from stack.spark_local import local_session

    count, deal_count, user_count = (150_000, 3000, 5000) if args.quick else (1_000_000, 10_000, 20_000)
    # --quick: a 2-point grid and 100 candidates per user, to stay within a few minutes on 2 cores
    quick = {"recommend_als_reg_params": (0.1,), "recommend_candidates": 100} if args.quick else {}
    settings = load_settings(keyspace=KEYSPACE, **quick)
    records = catalog(deal_count, seed=2016)
    deals, users = live_deals(records), make_users(user_count, seed=2016)
    started = time.monotonic()
    events = simulate(users, deals, count, seed=2016)
    log.info("%d events simulated in %.1fs", len(events), time.monotonic() - started)
    spark = local_session(settings, app="bench-recommend", **{"spark.sql.shuffle.partitions": "4"})
    with tempfile.TemporaryDirectory(prefix="bench-recommend-") as work:
        spark.sparkContext.setCheckpointDir(f"{work}/checkpoints")
        metrics, trained, deals_df = run_quality(spark, settings, users, deals, events, work,
                                                 frontier=args.oracle_frontier)
        if not args.no_serving:
            from bench.recommend_serving import measure_serving

            try:
                metrics |= measure_serving(spark, settings, records, trained, deals_df,
                                           seconds=3.0 if args.quick else 10.0)
            except Exception:  # the quality figures still get written; the report says serving is missing
                log.exception("serving measurement failed")
    spark.stop()
    metrics |= ratios(metrics)
    print(report(metrics))
    print(f"results: {write_results('recommend', metrics)}")


if __name__ == "__main__":
    main()
