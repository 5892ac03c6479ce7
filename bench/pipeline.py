"""Deals pipeline throughput and latency, each figure beside a baseline measured in the same run.

Run: `.venv/bin/python -m bench.pipeline [--quick]` (starts the local stack if it is not running).

1. Streaming deals/s, Kafka -> transforms -> every Cassandra table (local[2]), and batch deals/s,
   lake -> the same transforms and sink; each against the sink alone writing the same,
   already-transformed rows to the same tables (goal >= 0.7x), with a Python
   `execute_concurrent` writer's rows/s printed as a second reference. Timed on a second pass, after
   a first on other deals (the JIT's; its ratios are printed beside).
2. The transforms against the same query with its two heavy column functions (HTML to text,
   geohash) as row-at-a-time Python UDFs, and a check that the real plan has no Python UDF.
3. End-to-end latency at a steady rate below saturation (trigger 500 ms): produce -> the row
   readable in deals_by_id, p50 / p99 (goals 1.5 s / 3 s), timed after `LATENCY_WARM_UP_S` of the
   same traffic; the first 10 s of it printed beside (the driver's JIT still compiling).
Writes bench/results/pipeline.json.
"""
from __future__ import annotations

import logging
import math
import multiprocessing
import random
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import orjson

from bench.report import LATENCY_WARM_UP_S, bench_main, remove_local_dir, table
from conf.settings import Settings, load_settings

log = logging.getLogger(__name__)
KEYSPACE = "exs_bench_pipeline"


def catalog_deals(count: int, seed: int) -> list[dict[str, Any]]:
    """Realistic raw deals from the simulator's catalog (its quirks included)."""
    from ingest.simulator.catalog import Catalog
    from ingest.simulator.config import SimConfig

    catalog = Catalog(SimConfig(seed=seed, deals=count))
    catalog.build(random.Random(seed))
    return [record.to_deal() for record in catalog.live.values()]


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


@dataclass(frozen=True)
class Latency:
    """Produce -> readable seconds of every deal in the order they were produced (NaN: never seen), and
    the sink's reports of the batches after the warm-up (they held only steady deals)."""

    in_order: list[float]
    steady_reports: list[Any]

    def sample(self, start: int, stop: int | None = None) -> list[float]:
        """The latencies of deals `start` to `stop` (in production order), seen ones only, sorted."""
        return sorted(x for x in self.in_order[start:stop] if not math.isnan(x))


@dataclass(frozen=True)
class Throughput:
    """One throughput pass: its input and table frames (cached) and the three timings."""

    raw_df: Any
    frames: dict[str, Any]
    table_rows: int
    stream_s: float
    batch_s: float
    sink_s: float


def table_frames(raw_df: Any) -> dict[str, Any]:
    """The rows the sink writes for `raw_df`, already transformed: what the sink alone writes."""
    from pipeline import deal_transforms as dt
    from pipeline import table_rows as tr

    latest_df = (raw_df.transform(dt.parse_deal_records).transform(dt.filter_valid_deals)
                 .transform(dt.clean_deals).transform(dt.latest_deal_versions).transform(tr.with_sort_flags))
    frames = {"deals_by_id": tr.to_deals_by_id_rows(latest_df), "deal_versions": tr.to_deal_versions_rows(latest_df),
              "price_history_by_deal": dt.to_price_history_rows(latest_df)}
    return frames | {t.name: tr.to_sorted_table_rows(latest_df, t) for t in tr.SORTED_DEAL_TABLES}


class Bench:
    def __init__(self, settings: Settings, quick: bool) -> None:
        from conf.clients import cassandra_cluster
        from stack.cql import apply_schema
        from stack.spark_local import local_session

        self.settings = settings
        self.quick = quick
        self.session = cassandra_cluster(settings).connect()
        apply_schema(self.session, settings)
        # FAIR, with each query in a pool of its own in the latency run, as the speed layer runs them
        self.spark = local_session(settings, app="bench-pipeline", **{"spark.scheduler.mode": "FAIR"})
        self.run_id = f"{int(time.time())}"

    def truncate(self) -> None:
        for row in self.session.execute(
            "SELECT table_name FROM system_schema.tables WHERE keyspace_name = %s", (KEYSPACE,)
        ):
            self.session.execute(f"TRUNCATE {KEYSPACE}.{row.table_name}", timeout=120)

    def topic(self, name: str) -> Settings:
        return self.settings.model_copy(update={"topic_deals_raw": f"bench_{name}_{self.run_id}"})

    # -- 1. throughput -------------------------------------------------------------------------

    def throughput(self, payloads: list[dict[str, Any]], label: str) -> Throughput:
        """Streaming, batch and the sink alone over the same deals (`label` names the run's topic)."""
        from pipeline.schemas import RAW_RECORD_SCHEMA
        from tests.conftest import raw_records

        raw_df = self.spark.createDataFrame(raw_records(payloads, topic="bench"), RAW_RECORD_SCHEMA).cache()
        raw_df.count()
        log.info("%s: streaming %d deals…", label, len(payloads))
        stream_s = self.streaming_seconds(payloads, label)
        log.info("%s: batch %d deals…", label, len(payloads))
        batch_s = self.batch_seconds(raw_df)
        frames = {name: df.cache() for name, df in table_frames(raw_df).items()}
        table_rows = sum(df.count() for df in frames.values())
        log.info("%s: sink alone, %d rows…", label, table_rows)
        return Throughput(raw_df, frames, table_rows, stream_s, batch_s, self.sink_alone(frames))

    def streaming_seconds(self, payloads: list[dict[str, Any]], label: str) -> float:
        from pipeline.sink import DealTablesSink
        from streaming.deals_job import start_deals_stream
        from tests.integration.kafka_io import produce

        # The product's own maxOffsetsPerTrigger (EXS_MAX_OFFSETS_PER_TRIGGER): what a catch-up does.
        settings = self.topic(f"stream_{label}")
        produce(settings.kafka_bootstrap, settings.topic_deals_raw, payloads)
        self.truncate()
        sink = DealTablesSink(settings, scores=False)  # the deal tables, as sink_alone writes them
        checkpoint = f"{settings.checkpoint_root}/bench-{label}-{self.run_id}"
        query = start_deals_stream(self.spark, settings, available_now=True, checkpoint=checkpoint, sink=sink)
        seconds = timed(lambda: query.awaitTermination())
        sink.close()
        remove_local_dir(checkpoint)
        return seconds

    def batch_seconds(self, raw_df: Any) -> float:
        from pipeline.sink import DealTablesSink

        self.truncate()
        sink = DealTablesSink(self.settings, scores=False)  # bench.truth measures what scoring costs
        seconds = timed(lambda: sink(raw_df, None))
        sink.close()
        return seconds

    def sink_alone(self, table_frames: dict[str, Any]) -> float:
        """Write the already-transformed rows of every table with the connector, nothing else."""
        from pipeline.cassandra_io import append_rows

        self.truncate()

        def append_all() -> None:
            for name, df in table_frames.items():
                append_rows(df, keyspace=self.settings.keyspace, table=name)

        return timed(append_all)

    def python_writer_rows_per_s(self, table_frames: dict[str, Any]) -> tuple[float, int]:
        """The same rows through cassandra-driver's execute_concurrent_with_args (from the driver)."""
        from cassandra.concurrent import execute_concurrent_with_args

        self.truncate()
        batches = []
        for name, df in table_frames.items():
            columns = df.columns
            cql = f"INSERT INTO {KEYSPACE}.{name} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
            batches.append((self.session.prepare(cql), [tuple(row) for row in df.collect()]))
        rows = sum(len(values) for _, values in batches)
        seconds = timed(lambda: [execute_concurrent_with_args(self.session, stmt, values, concurrency=100)
                                 for stmt, values in batches])
        return rows / seconds, rows

    # -- 2. transforms vs Python UDFs ------------------------------------------------------------

    def transform_seconds(self, raw_df: Any, *, with_udfs: bool) -> float:
        from pipeline import deal_transforms as dt
        from pipeline import table_rows as tr

        clean_df = raw_df.transform(dt.parse_deal_records).transform(dt.filter_valid_deals).transform(dt.clean_deals)
        if with_udfs:
            clean_df = with_python_udf_columns(clean_df)
        out_df = clean_df.transform(dt.latest_deal_versions).transform(tr.to_deals_by_id_rows)
        out_df.write.format("noop").mode("overwrite").save()  # warm-up: codegen, JIT
        return min(timed(lambda: out_df.write.format("noop").mode("overwrite").save()) for _ in range(3))

    # -- 3. latency --------------------------------------------------------------------------------

    def latency(self, payloads: list[dict[str, Any]], rate_per_s: float, warm_up: int) -> Latency:
        """Every payload produced at `rate_per_s` and timed until readable; the batches after the first
        `warm_up` payloads are the steady state's (see `bench.report.LATENCY_WARM_UP_S`)."""
        from kafka import KafkaProducer

        from conf.clients import ensure_topics
        from pipeline.sink import DealTablesSink
        from streaming.deals_job import start_deals_stream, start_scores_stream

        settings = self.topic("latency")
        ensure_topics(settings, {settings.topic_deals_raw: 1})  # the stream must find it at start
        self.truncate()
        # As the speed layer runs them: the deal tables, and the scores in a query of their own beside.
        sink = DealTablesSink(settings, scores=False)
        pool = partial(self.spark.sparkContext.setLocalProperty, "spark.scheduler.pool")
        pool("deals")
        query = start_deals_stream(self.spark, settings, checkpoint=f"{settings.checkpoint_root}/lat-{self.run_id}",
                                   sink=sink)
        pool("scores")
        scores = start_scores_stream(self.spark, settings,
                                     checkpoint=f"{settings.checkpoint_root}/lat-scores-{self.run_id}")
        pool("default")
        producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all", linger_ms=0)
        # The watcher runs in a process of its own: polling from this one would compete for the GIL
        # with the driver's own threads and measure itself.
        spawn = multiprocessing.get_context("spawn")  # never fork a process that runs a JVM gateway
        produced_queue, seen_queue = spawn.Queue(), spawn.Queue()
        watcher = spawn.Process(target=watch_deals, args=(settings, produced_queue, seen_queue))
        time.sleep(8)  # let the first (empty) micro-batches run
        watcher.start()
        produced: dict[int, float] = {}
        last_warm_batch = -1
        try:
            for n, payload in enumerate(payloads):
                if n == warm_up:  # the batches after the one running now hold only steady deals
                    last_warm_batch = max((r.batch_id or 0 for r in list(sink.reports)), default=0) + 1
                producer.send(settings.topic_deals_raw, key=str(payload["id"]).encode(), value=orjson.dumps(payload))
                producer.flush()
                produced[payload["id"]] = time.time()
                produced_queue.put(payload["id"])
                time.sleep(1.0 / rate_per_s)
            produced_queue.put(None)
            seen: dict[int, float] = seen_queue.get(timeout=120)
            query.processAllAvailable()  # stop between micro-batches, not inside one
        finally:
            watcher.join(timeout=10)
            query.stop()
            scores.stop()
            sink.close()
            producer.close()
            for name in ("lat", "lat-scores"):
                remove_local_dir(f"{settings.checkpoint_root}/{name}-{self.run_id}")
        in_order = [seen[p["id"]] - produced[p["id"]] if p["id"] in seen and p["id"] in produced else float("nan")
                    for p in payloads]
        return Latency(in_order, [r for r in sink.reports if r.rows_in and (r.batch_id or 0) > last_warm_batch])


def round_breakdown(reports: list[Any]) -> dict[str, float]:
    """Mean seconds per round of the sink's batches (`BatchReport.rounds`), and of the whole batch."""
    totals: dict[str, list[float]] = {}
    for report in reports:
        for name, seconds in report.rounds:
            totals.setdefault(name, []).append(seconds)
    breakdown = {f"round_{name}_mean_s": statistics.fmean(values) for name, values in totals.items()}
    breakdown["batch_mean_s"] = statistics.fmean(r.seconds for r in reports) if reports else float("nan")
    breakdown["batch_mean_rows"] = statistics.fmean(r.rows_in for r in reports) if reports else float("nan")
    return breakdown

WATCH_CHUNK = 100  # ids per query of the latency watcher


def watch_deals(settings: Settings, produced: Any, seen_out: Any, poll_s: float = 0.05) -> None:
    """Poll deals_by_id for every produced, not yet seen id; report {id: first seen time} at the end.

    One `IN` query per `WATCH_CHUNK` pending ids each `poll_s` (a sample is at most that late). It
    polled each id with a query of its own every 20 ms: with a few hundred ids pending that was
    thousands of requests a second against the Cassandra node the sink writes to, on the same two
    cores, and the longer the latency the heavier the load it added.
    """
    import queue

    from conf.clients import cassandra_cluster

    session = cassandra_cluster(settings).connect()
    statement = session.prepare(f"SELECT deal_id FROM {KEYSPACE}.deals_by_id WHERE deal_id IN ?")
    pending: set[int] = set()
    seen: dict[int, float] = {}
    done_producing = False
    deadline = float("inf")
    while time.time() < deadline and (pending or not done_producing):
        try:
            while True:
                item = produced.get_nowait()
                if item is None:
                    done_producing, deadline = True, time.time() + 60
                else:
                    pending.add(item)
        except queue.Empty:
            pass
        ids = sorted(pending)
        futures = [session.execute_async(statement, (ids[i:i + WATCH_CHUNK],)) for i in range(0, len(ids), WATCH_CHUNK)]
        for future in futures:
            for row in future.result():
                seen[row.deal_id] = time.time()
                pending.discard(row.deal_id)
        time.sleep(poll_s)
    session.cluster.shutdown()
    seen_out.put(seen)


def with_python_udf_columns(clean_df: Any) -> Any:
    """The same two column functions as row-at-a-time Python UDFs (what the pipeline avoids)."""
    import html
    import re

    from pyspark.sql import functions as F

    from tests.expected import geohash as py_geohash

    text_udf = F.udf(lambda s: (" ".join(html.unescape(re.sub(r"<[^>]*>", " ", s)).split()) or None) if s else None)
    hash_udf = F.udf(lambda lat, lon: py_geohash(lat, lon, 7) if lat is not None and lon is not None else None)
    return clean_df.withColumns({
        "description": text_udf("description"),
        "geohash": hash_udf("latitude", "longitude"),
    })


def percentile(values: list[float], share: float) -> float:
    return values[min(len(values) - 1, int(share * len(values)))] if values else float("nan")


def run(quick: bool) -> dict[str, float]:
    from conf.versions import load_versions
    from pipeline import deal_transforms as dt
    from stack.manager import up

    settings = load_settings(keyspace=KEYSPACE)
    up(settings, load_versions(), echo=log.info)
    bench = Bench(settings, quick)
    count = 10_000 if quick else 50_000
    # The first pass over a JVM is the JIT's (bench.report.LATENCY_WARM_UP_S): on 10k deals it took the
    # stream 30 s against 11-13 s for each later pass, the sink alone 6.2 s against 4.8-5.3 s. The
    # figures are the second pass's, on other deals; the first pass's ratios are printed beside.
    cold = bench.throughput(catalog_deals(count, seed=8), "warm_up")
    bench.spark.catalog.clearCache()
    warm = bench.throughput(catalog_deals(count, seed=7), "timed")
    raw_df, frames, table_rows = warm.raw_df, warm.frames, warm.table_rows
    stream_s, batch_s, sink_s = warm.stream_s, warm.batch_s, warm.sink_s
    python_rps, _ = bench.python_writer_rows_per_s(frames)
    log.info("transforms vs Python UDFs…")
    native_s = bench.transform_seconds(raw_df, with_udfs=False)
    udf_s = bench.transform_seconds(raw_df, with_udfs=True)
    plan = raw_df.transform(dt.parse_deal_records).transform(dt.filter_valid_deals).transform(dt.clean_deals)
    plan_text = plan._jdf.queryExecution().executedPlan().toString()
    has_python_udf = "EvalPython" in plan_text
    # the throughput runs' cached frames are the bench's own: the speed layer's JVM holds none
    bench.spark.catalog.clearCache()
    log.info("latency at a steady rate…")
    lat_rate = 20.0
    warm_up, timed = (LATENCY_WARM_UP_S * int(lat_rate), 400 if quick else 1200)
    lat = bench.latency(catalog_deals(warm_up + timed, seed=99), rate_per_s=lat_rate, warm_up=warm_up)
    latencies, first = lat.sample(warm_up), lat.sample(0, int(10 * lat_rate))
    return round_breakdown(lat.steady_reports) | {
        "deals": count,
        "table_rows_written": table_rows,
        "streaming_deals_per_s": count / stream_s,
        "batch_deals_per_s": count / batch_s,
        "sink_alone_deals_per_s": count / sink_s,
        "sink_alone_rows_per_s": table_rows / sink_s,
        "streaming_vs_sink_alone": sink_s / stream_s,
        "batch_vs_sink_alone": sink_s / batch_s,
        "first_pass_streaming_vs_sink_alone": cold.sink_s / cold.stream_s,
        "first_pass_batch_vs_sink_alone": cold.sink_s / cold.batch_s,
        "python_execute_concurrent_rows_per_s": python_rps,
        "transforms_native_deals_per_s": count / native_s,
        "transforms_with_python_udfs_deals_per_s": count / udf_s,
        "native_vs_python_udfs": udf_s / native_s,
        "plan_has_python_udf": float(has_python_udf),
        "latency_rate_per_s": lat_rate,
        "latency_samples": len(latencies),
        "latency_p50_s": percentile(latencies, 0.50),
        "latency_p99_s": percentile(latencies, 0.99),
        "latency_mean_s": statistics.fmean(latencies) if latencies else float("nan"),
        "latency_warm_up_deals": warm_up,
        "latency_first_10s_p50_s": percentile(first, 0.50),
        "latency_first_10s_p99_s": percentile(first, 0.99),
    }


def report(m: dict[str, float]) -> str:
    rows = [
        ("streaming Kafka -> Cassandra", f"{m['streaming_deals_per_s']:,.0f} deals/s",
         f"sink alone {m['sink_alone_deals_per_s']:,.0f} deals/s", f"{m['streaming_vs_sink_alone']:.2f}x", ">= 0.7x"),
        ("batch lake -> Cassandra", f"{m['batch_deals_per_s']:,.0f} deals/s",
         f"sink alone {m['sink_alone_deals_per_s']:,.0f} deals/s", f"{m['batch_vs_sink_alone']:.2f}x", ">= 0.7x"),
        ("  the same two, first pass", f"streaming {m['first_pass_streaming_vs_sink_alone']:.2f}x, "
         f"batch {m['first_pass_batch_vs_sink_alone']:.2f}x", "JIT still compiling", "", "reference"),
        ("sink alone, all tables", f"{m['sink_alone_rows_per_s']:,.0f} rows/s",
         f"execute_concurrent {m['python_execute_concurrent_rows_per_s']:,.0f} rows/s",
         f"{m['sink_alone_rows_per_s'] / m['python_execute_concurrent_rows_per_s']:.2f}x", "reference"),
        ("transforms (native)", f"{m['transforms_native_deals_per_s']:,.0f} deals/s",
         f"same with Python UDFs {m['transforms_with_python_udfs_deals_per_s']:,.0f} deals/s",
         f"{m['native_vs_python_udfs']:.2f}x", f"no Python UDF in plan: {not m['plan_has_python_udf']}"),
        ("latency produce -> deals_by_id", f"p50 {m['latency_p50_s']:.2f} s, p99 {m['latency_p99_s']:.2f} s",
         f"trigger 0.5 s, {m['latency_rate_per_s']:.0f} deals/s, after {LATENCY_WARM_UP_S} s of them", "",
         "p50 <= 1.5 s, p99 <= 3 s"),
        ("  the same, first 10 s of the stream", f"p50 {m['latency_first_10s_p50_s']:.2f} s, "
         f"p99 {m['latency_first_10s_p99_s']:.2f} s", "JIT still compiling", "", "reference"),
    ]
    rounds = [(name.removeprefix("round_").removesuffix("_mean_s"), f"{value:.3f} s")
              for name, value in m.items() if name.startswith("round_")]
    rounds.append((f"whole batch ({m.get('batch_mean_rows', 0):.0f} rows on average)",
                   f"{m.get('batch_mean_s', float('nan')):.3f} s"))
    return (table(("measure", "value", "baseline (same run)", "ratio", "goal"), rows)
            + "\n\nwhere a latency-run micro-batch's time goes (mean per round, after the warm-up):\n"
            + table(("round", "mean"), rounds))


def main() -> None:
    bench_main("pipeline", __doc__, "10k deals, 200 latency samples (a few minutes)", run, report)


if __name__ == "__main__":
    main()
