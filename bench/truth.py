"""Is the discount real? The deal score against the simulator's ground truth, beside the baseline that
trusts the advertised discount, and the cost of scoring in the streaming job — all in one run.

Run: `.venv/bin/python -m bench.truth [--quick]` (starts Kafka and Cassandra when they are not running).

1. The simulator (seeded, with its market and dishonest patterns) runs 45 simulated days; a perfect
   crawler takes every deal version it serves each 3 simulated hours, in time order.
2. The versions go through Kafka into the streaming deals job three times, in the same process: a
   warm-up pass (not counted), with the score query beside it, then without. deals/s of the last two;
   goal with/without >= 0.8.
3. Every scored version (deal_score_versions) is compared with `/_truth/discounts` (the same
   simulator in process): precision and recall of the "not a genuine discount" verdict (goals
   0.95 / 0.90), MAE of verifiedDiscountPct against the true discount in points (goal <= 3), and
   the same for the baseline (verdict always "genuine", discount = advertised; its recall is 0).
Writes bench/results/truth.json.
"""
from __future__ import annotations

import logging
import time
from collections import Counter
from typing import Any

from bench.report import bench_main, table
from conf.settings import Settings, load_settings

log = logging.getLogger(__name__)
KEYSPACE = "exs_bench_truth"
DAY = 86_400.0


def crawl(deals: int, days: int, seed: int) -> tuple[list[dict[str, Any]], dict[tuple[int, str], dict[str, Any]]]:
    """Every version a crawler sees every 3 simulated hours, and the truth of every version."""
    from ingest.simulator import ChurnRates, ManualClock, SimConfig, Simulator
    from ingest.simulator.config import SQOOT_2016

    clock = ManualClock(SQOOT_2016)
    churn = ChurnRates(new=0.002, change=0.003, sold=0.01, withdraw=0.0005)
    sim = Simulator(SimConfig(seed=seed, deals=deals, total_jitter=0.0, churn=churn), clock=clock)
    seen: dict[int, int] = {}
    payloads: list[dict[str, Any]] = []
    for _ in range(days * 8):
        sim.now()
        for record in list(sim.catalog.live.values()):
            if seen.get(record.id) != record.version:
                seen[record.id] = record.version
                payloads.append(record.to_deal())
        clock.advance(3 * 3600)
    truth = {(v.deal_id, v.updated_at): v.discount_truth() for v in sim.all_versions()}
    return payloads, truth


class Bench:
    def __init__(self, settings: Settings) -> None:
        from conf.clients import cassandra_cluster
        from stack.cql import apply_schema
        from stack.spark_local import local_session

        self.settings = settings
        self.session = cassandra_cluster(settings).connect()
        apply_schema(self.session, settings)
        self.spark = local_session(settings, app="bench-truth")
        self.run_id = f"{int(time.time())}"
        self.passes = 0

    def truncate(self) -> None:
        for row in self.session.execute(
                "SELECT table_name FROM system_schema.tables WHERE keyspace_name = %s", (KEYSPACE,)):
            self.session.execute(f"TRUNCATE {KEYSPACE}.{row.table_name}", timeout=120)

    def stream(self, topic: str, *, scoring: bool) -> float:
        """Seconds of the streaming deals job over everything in `topic`: the deal tables' query, and
        with `scoring` the score query beside it, as the speed layer runs them."""
        from pipeline.sink import DealTablesSink
        from streaming.deals_job import start_deals_stream, start_scores_stream

        settings = self.settings.model_copy(update={"topic_deals_raw": topic})
        self.truncate()
        sink = DealTablesSink(settings, scores=False)
        self.passes += 1  # each pass reads the topic from the start: a checkpoint of its own
        checkpoint = f"{settings.checkpoint_root}/bench-truth-{self.run_id}-{self.passes}-{scoring}"
        started = time.perf_counter()
        queries = [start_deals_stream(self.spark, settings, available_now=True, checkpoint=checkpoint, sink=sink)]
        if scoring:
            queries.append(start_scores_stream(self.spark, settings, available_now=True,
                                               checkpoint=f"{checkpoint}-scores"))
        for query in queries:
            query.awaitTermination()
        seconds = time.perf_counter() - started
        sink.close()
        return seconds

    def scored_versions(self) -> list[Any]:
        # the bench's own keyspace, a few thousand rows: reading the whole table is the measurement
        return list(self.session.execute(f"SELECT deal_id, updated_at, verified_discount_pct, is_genuine, "
                                         f"advertised_discount_pct FROM {KEYSPACE}.deal_score_versions"))


def quality(scored: list[Any], truth: dict[tuple[int, str], dict[str, Any]]) -> dict[str, float]:
    """Precision/recall of 'not genuine' and MAE in points, for the score and for the baseline."""
    pairs = [(row, truth[key]) for row in scored
             if (key := (row.deal_id, row.updated_at.strftime("%Y-%m-%dT%H:%M:%SZ"))) in truth]
    tp = sum(1 for r, t in pairs if not r.is_genuine and not t["genuine"])
    fp = sum(1 for r, t in pairs if not r.is_genuine and t["genuine"])
    fn = sum(1 for r, t in pairs if r.is_genuine and not t["genuine"])
    n = max(1, len(pairs))
    missed = Counter(t["pattern"] for r, t in pairs if r.is_genuine and not t["genuine"])
    wrong = Counter(t["pattern"] for r, t in pairs if not r.is_genuine and t["genuine"])
    log.info("missed dishonest by pattern: %s; false alarms by pattern: %s", dict(missed), dict(wrong))
    return {
        "versions_scored": float(len(pairs)),
        "dishonest_versions": float(tp + fn),
        "dishonest_precision": tp / max(1, tp + fp),
        "dishonest_recall": tp / max(1, tp + fn),
        "verified_discount_mae_points": 100 * sum(abs(r.verified_discount_pct - t["true_discount_pct"])
                                                  for r, t in pairs) / n,
        "baseline_dishonest_precision": 0.0,  # it never says "not genuine"
        "baseline_dishonest_recall": 0.0,
        "baseline_discount_mae_points": 100 * sum(abs(t["advertised_discount_pct"] - t["true_discount_pct"])
                                                  for _, t in pairs) / n,
    }


def run(quick: bool) -> dict[str, float]:
    from tests.integration.kafka_io import produce

    deals, days = (1500, 45) if quick else (6000, 45)
    payloads, truth = crawl(deals, days, seed=2016)
    log.info("%d deals, %d versions crawled over %d simulated days", deals, len(payloads), days)
    settings = load_settings(keyspace=KEYSPACE, max_offsets_per_trigger=2000 if quick else 5000)
    bench = Bench(settings)
    topic = f"bench_truth_{bench.run_id}"
    produce(settings.kafka_bootstrap, topic, payloads)
    # A first pass warms the process up (JIT, caches, the connector's sessions) and is not counted: the
    # first of two passes ran about 1.5x slower than the second whichever of them scored.
    warm_up = bench.stream(topic, scoring=False)
    with_scores = bench.stream(topic, scoring=True)
    metrics = quality(bench.scored_versions(), truth)
    without = bench.stream(topic, scoring=False)
    log.info("warm-up pass %.1fs, with scoring %.1fs, without %.1fs", warm_up, with_scores, without)
    metrics |= {
        "deals_crawled": float(len(payloads)),
        "streaming_deals_per_s_with_scoring": len(payloads) / with_scores,
        "streaming_deals_per_s_without_scoring": len(payloads) / without,
        "streaming_with_scoring_vs_without": without / with_scores,
    }
    return metrics


def report(m: dict[str, float]) -> str:
    def ratio(a: float, b: float) -> str:
        return "n/a" if not b else f"{a / b:.2f}x"

    rows = [
        ("dishonest precision (goal >= 0.95)", m["dishonest_precision"], m["baseline_dishonest_precision"],
         ratio(m["dishonest_precision"], m["baseline_dishonest_precision"])),
        ("dishonest recall (goal >= 0.90)", m["dishonest_recall"], m["baseline_dishonest_recall"],
         ratio(m["dishonest_recall"], m["baseline_dishonest_recall"])),
        ("discount MAE, points (goal <= 3)", m["verified_discount_mae_points"], m["baseline_discount_mae_points"],
         ratio(m["verified_discount_mae_points"], m["baseline_discount_mae_points"])),
        ("streaming deals/s (goal >= 0.8x)", m["streaming_deals_per_s_with_scoring"],
         m["streaming_deals_per_s_without_scoring"], f"{m['streaming_with_scoring_vs_without']:.2f}x"),
    ]
    head = f"{int(m['versions_scored'])} versions scored, {int(m['dishonest_versions'])} not genuine by the truth"
    return head + "\n" + table(("metric", "score", "baseline / without scoring", "ratio"), rows)


def main() -> None:
    bench_main("truth", __doc__, "1,500 deals over 45 simulated days (a few minutes)", run, report)


if __name__ == "__main__":
    main()
