"""Scaling on a real cluster: the same batch and streaming code on Spark standalone and on YARN, the lake
on HDFS, a three-broker Kafka and a three-node Cassandra ring (`exstreamly stack up --profile cluster`,
started here when it is not running and stopped again afterwards).

Run: `.venv/bin/python -m bench.scale [--quick]`.

1. Batch deals/s (lake on HDFS -> the batch layer's transforms and sink, scores included) with 1 and
   with 2 standalone workers (one core each), and with 1 and 2 YARN executors; ratio 2 : 1.
2. How the batch cost grows with the catalog: seconds for each catalog size on 2 workers, and deals/s,
   with the time of each of the sink's rounds for the largest size; and the same for the batch layer's
   deal transforms alone (every deal table's rows computed from the lake and dropped by Spark's noop
   sink), up to 1M deals: what the batch costs when Cassandra is not the limit. (The whole batch at 1M
   deals takes over an hour here: `bench.scale_catalog`.)
3. Streaming max sustained deals/s: a backlog drained by the deals query (Kafka -> every deal table)
   on 1 and 2 workers, and with 2 and 4 Kafka partitions on 2 workers. A drain at the product's
   maxOffsetsPerTrigger is the most the query sustains: above that rate it falls behind.
The driver is this process (client mode), as `spark-submit --master …` would run it.
Writes bench/results/scale.json: ran_on_yarn, ran_on_standalone and lake_on_hdfs are 1 only when that
really happened in this run.
"""
from __future__ import annotations

import logging
import os
import sys
import time
from typing import Any

from bench.pipeline import catalog_deals
from bench.report import bench_main, table
from conf.settings import Settings

log = logging.getLogger(__name__)
KEYSPACE = "exs_bench_scale"
LAKE_SLICE = 100_000  # deals per createDataFrame call when a lake is written: the driver holds one slice


def bench_settings(base: Settings, run: str) -> Settings:
    """The profile's settings (`exstreamly stack env --profile cluster`), a bench keyspace and lake."""
    from stack.cluster import ClusterLayout, cluster_settings

    fs = ClusterLayout.of(base).hadoop.default_fs
    return cluster_settings(base, keyspace=KEYSPACE, lake_uri=f"{fs}/exstreamly-bench/{run}/lake",
                            checkpoint_uri=f"{fs}/exstreamly-bench/{run}/checkpoints")


class Scale:
    def __init__(self, base: Settings) -> None:
        from conf.clients import cassandra_cluster
        from stack.cluster import ClusterLayout, cluster_env
        from stack.cql import apply_schema

        self.run_id = f"{int(time.time())}"
        self.settings = bench_settings(base, self.run_id)
        self.layout = ClusterLayout.of(base)
        # the Hadoop client of the driver's JVM finds HDFS and YARN here, as spark-submit's does; executors
        # run this interpreter (PySpark reads PYSPARK_PYTHON from the environment, as spark-submit.sh sets it)
        os.environ.update({k: v for k, v in cluster_env(base).items() if not k.startswith("EXS_")})
        os.environ["PYSPARK_PYTHON"] = sys.executable
        self.session = cassandra_cluster(self.settings).connect()
        apply_schema(self.session, self.settings)
        self.spark: Any = None
        self.ran: set[str] = set()
        self.drains = 0

    def use(self, master: str, executors: int) -> Any:
        """A Spark session on `master` ("standalone" or "yarn") with `executors` one-core executors."""
        from stack.spark_local import local_session

        if self.spark is not None:
            self.spark.stop()
        url = self.layout.standalone.master_url if master == "standalone" else "yarn"
        sizing = ({"spark.cores.max": str(executors)} if master == "standalone"
                  else {"spark.executor.instances": str(executors), "spark.executor.cores": "1"})
        self.spark = local_session(self.settings, master=url, app=f"bench-scale-{master}-{executors}",
                                   **{"spark.executor.memory": "1g", "spark.sql.shuffle.partitions": "4",
                                      "spark.dynamicAllocation.enabled": "false", **sizing})
        self._wait_for_executors(executors)
        self.ran.add(master)
        return self.spark

    def _wait_for_executors(self, count: int, timeout_s: float = 300) -> None:
        tracker = self.spark.sparkContext._jsc.sc().statusTracker()
        deadline = time.monotonic() + timeout_s
        while len(tracker.getExecutorInfos()) - 1 < count:  # the driver counts as one
            if time.monotonic() > deadline:
                raise RuntimeError(f"only {len(tracker.getExecutorInfos()) - 1} of {count} executors started")
            time.sleep(1)

    def truncate(self) -> None:
        for row in self.session.execute(
                "SELECT table_name FROM system_schema.tables WHERE keyspace_name = %s", (KEYSPACE,)):
            self.session.execute(f"TRUNCATE {KEYSPACE}.{row.table_name}", timeout=300)

    def write_lake(self, deals: int) -> str:
        """The archive's Parquet for a catalog of `deals` on HDFS (written once per size)."""
        from pipeline.schemas import RAW_RECORD_SCHEMA
        from tests.conftest import raw_records

        path = f"{self.settings.lake_dir('deals_raw')}-{deals}"
        catalog = catalog_deals(deals, seed=deals)
        for start in range(0, deals, LAKE_SLICE):
            rows = raw_records(catalog[start:start + LAKE_SLICE], topic="deals_raw", start_offset=start)
            self.spark.createDataFrame(rows, RAW_RECORD_SCHEMA).repartition(8).write \
                .mode("append" if start else "overwrite").parquet(path)
        return path

    def batch(self, path: str) -> tuple[float, Any]:
        """Wall seconds of the batch job's work over the lake at `path` into empty tables, and its report
        (`pipeline.sink.BatchReport`: the seconds of each round)."""
        from batch.deals_job import run_deals_batch

        self.truncate()
        started = time.perf_counter()
        report = run_deals_batch(self.spark, self.settings, path)
        return time.perf_counter() - started, report

    def batch_seconds(self, path: str) -> float:
        return self.batch(path)[0]

    def transforms_seconds(self, path: str) -> float:
        """The batch layer's deal transforms without the sink: the rows of every deal table, computed from
        the lake as the sink computes them (the same held frames) and dropped by Spark's noop sink."""
        from batch.deals_job import read_lake
        from pipeline import deal_transforms as dt
        from pipeline import table_rows as tr

        started = time.perf_counter()
        judged_df = read_lake(self.spark, path).transform(dt.parse_deal_records) \
            .transform(dt.with_rejection_reason).localCheckpoint()
        clean_df = judged_df.transform(dt.filter_valid_deals).transform(dt.clean_deals)
        latest_df = clean_df.transform(dt.latest_deal_versions).transform(tr.with_sort_flags).localCheckpoint()
        by_merchant = {table.name: table for table in tr.SORTED_DEAL_TABLES}["deals_by_merchant"]
        tables = [tr.to_deals_by_id_rows(latest_df), tr.to_deal_versions_rows(latest_df),
                  *(tr.to_sorted_table_rows(latest_df, table) for table in tr.SORTED_DEAL_TABLES),
                  tr.to_merchants_by_category_rows(tr.to_sorted_table_rows(latest_df, by_merchant)),
                  dt.to_price_history_rows(clean_df), dt.to_dead_letter_rows(judged_df)]
        for rows_df in tables:
            rows_df.write.format("noop").mode("overwrite").save()
        seconds = time.perf_counter() - started
        judged_df.unpersist()
        latest_df.unpersist()
        return seconds

    def drain_seconds(self, deals: list[dict[str, Any]], partitions: int) -> float:
        """Seconds for the deals query to drain a backlog of `deals` from a topic of `partitions`."""
        from conf.clients import ensure_topics
        from streaming.deals_job import start_deals_stream
        from tests.integration.kafka_io import produce

        self.drains += 1  # a topic of its own per drain: the backlog is exactly `deals`
        s = self.settings.model_copy(update={"topic_deals_raw": f"scale_{self.run_id}_{self.drains}_{partitions}p"})
        ensure_topics(s, {s.topic_deals_raw: partitions})
        produce(s.kafka_bootstrap, s.topic_deals_raw, deals)
        self.truncate()
        query = start_deals_stream(self.spark, s, available_now=True,
                                   checkpoint=f"{s.checkpoint_root}/{s.topic_deals_raw}-{time.time_ns()}")
        started = time.perf_counter()
        query.awaitTermination()
        return time.perf_counter() - started

    def close(self) -> None:
        if self.spark is not None:
            self.spark.stop()
        self.session.cluster.shutdown()


def batch_growth(scale: Scale, lakes: dict[int, str], sizes: tuple[int, ...]) -> dict[str, float]:
    """Seconds and deals/s of the whole batch for each catalog size (into empty tables), and the seconds
    of each of the sink's rounds for the largest."""
    m: dict[str, float] = {}
    for size in sizes:
        log.info("batch, %d deals, 2 workers…", size)
        m[f"batch_s_{size}_deals"], report = scale.batch(lakes[size])
        m[f"batch_deals_per_s_{size}_deals"] = size / m[f"batch_s_{size}_deals"]
    return m | {f"batch_round_s_{name}_{sizes[-1]}_deals": seconds for name, seconds in report.rounds}


def run(quick: bool) -> dict[str, float]:
    from conf.settings import load_settings

    base = load_settings()
    scale = Scale(base)
    main_size = 4000 if quick else 20_000
    # The whole batch at 1M deals takes over an hour on this machine's two cores (its Cassandra writes at RF 3):
    # bench.scale_catalog runs it on its own; here the transforms alone run at 1M.
    sizes = (2000, 4000, 10_000) if quick else (10_000, 100_000)
    transform_sizes = sizes if quick else (*sizes, 1_000_000)
    stream_size = 3000 if quick else 20_000
    m: dict[str, float] = {"batch_deals": main_size, "stream_backlog_deals": stream_size}
    lakes: dict[int, str] = {}
    try:
        # Standalone first: a later context in this JVM keeps the connector jars that the first one's launch
        # resolved (spark.jars), which a YARN launch would have handed to YARN's cache only.
        scale.use("standalone", 2)
        for n in sorted({main_size, *sizes, *transform_sizes}):
            log.info("writing a lake of %d deals to HDFS…", n)
            lakes[n] = scale.write_lake(n)
        m["lake_on_hdfs"] = float(all(p.startswith("hdfs://") for p in lakes.values()))
        # each worker count's first batch runs on new executors, as the 1-worker one below does
        m["batch_deals_per_s_2_workers"] = main_size / scale.batch_seconds(lakes[main_size])
        m |= batch_growth(scale, lakes, sizes)
        for size in transform_sizes:
            log.info("deal transforms without the sink, %d deals, 2 workers…", size)
            m[f"transforms_s_{size}_deals"] = scale.transforms_seconds(lakes[size])
            m[f"transforms_deals_per_s_{size}_deals"] = size / m[f"transforms_s_{size}_deals"]
        backlog = catalog_deals(stream_size, seed=3)
        for partitions in (2, 4):
            log.info("stream drain, %d partitions, 2 workers…", partitions)
            m[f"stream_deals_per_s_2_workers_{partitions}_partitions"] = stream_size / scale.drain_seconds(
                backlog, partitions)
        scale.use("standalone", 1)
        log.info("batch and stream, 1 worker…")
        m["batch_deals_per_s_1_worker"] = main_size / scale.batch_seconds(lakes[main_size])
        m["stream_deals_per_s_1_worker_4_partitions"] = stream_size / scale.drain_seconds(backlog, 4)
        m["ran_on_standalone"] = 1.0
        for executors in ((2,) if quick else (2, 1)):
            log.info("batch on YARN, %d executor(s)…", executors)
            scale.use("yarn", executors)
            m[f"batch_deals_per_s_yarn_{executors}_executors"] = main_size / scale.batch_seconds(lakes[main_size])
        m["ran_on_yarn"] = float("yarn" in scale.ran)
    finally:
        scale.close()
    m["batch_2_vs_1_worker"] = m["batch_deals_per_s_2_workers"] / m["batch_deals_per_s_1_worker"]
    m["stream_2_vs_1_worker"] = (m["stream_deals_per_s_2_workers_4_partitions"]
                                 / m["stream_deals_per_s_1_worker_4_partitions"])
    m["stream_4_vs_2_partitions"] = (m["stream_deals_per_s_2_workers_4_partitions"]
                                     / m["stream_deals_per_s_2_workers_2_partitions"])
    m["load_avg_1m"] = os.getloadavg()[0]
    return m


def report(m: dict[str, float]) -> str:
    rows = [
        ("batch, standalone", f"{m['batch_deals_per_s_2_workers']:,.0f} deals/s on 2 workers",
         f"{m['batch_deals_per_s_1_worker']:,.0f} deals/s on 1 worker", f"{m['batch_2_vs_1_worker']:.2f}x"),
        ("streaming drain, standalone, 4 partitions", f"{m['stream_deals_per_s_2_workers_4_partitions']:,.0f} deals/s "
         "on 2 workers", f"{m['stream_deals_per_s_1_worker_4_partitions']:,.0f} deals/s on 1 worker",
         f"{m['stream_2_vs_1_worker']:.2f}x"),
        ("streaming drain, 2 workers", f"{m['stream_deals_per_s_2_workers_4_partitions']:,.0f} deals/s, 4 partitions",
         f"{m['stream_deals_per_s_2_workers_2_partitions']:,.0f} deals/s, 2 partitions",
         f"{m['stream_4_vs_2_partitions']:.2f}x"),
    ]
    if "batch_deals_per_s_yarn_1_executors" in m:
        rows.append(("batch, YARN", f"{m['batch_deals_per_s_yarn_2_executors']:,.0f} deals/s on 2 executors",
                     f"{m['batch_deals_per_s_yarn_1_executors']:,.0f} deals/s on 1 executor",
                     f"{m['batch_deals_per_s_yarn_2_executors'] / m['batch_deals_per_s_yarn_1_executors']:.2f}x"))
    else:
        rows.append(("batch, YARN", f"{m['batch_deals_per_s_yarn_2_executors']:,.0f} deals/s on 2 executors",
                     f"standalone 2 workers {m['batch_deals_per_s_2_workers']:,.0f} deals/s",
                     f"{m['batch_deals_per_s_yarn_2_executors'] / m['batch_deals_per_s_2_workers']:.2f}x"))
    ran = (f"ran on YARN: {bool(m['ran_on_yarn'])}, on standalone: {bool(m['ran_on_standalone'])}, "
           f"lake on HDFS: {bool(m['lake_on_hdfs'])}; load average {m['load_avg_1m']:.1f}")
    return (table(("measure", "value", "baseline (same run)", "ratio"), rows) + "\n\n" + growth_report(m)
            + "\n\nthe deal transforms alone (noop sink), by catalog size:\n"
            + table(GROWTH_COLUMNS, growth(m, "transforms")) + "\n\n" + ran)


def growth_report(m: dict[str, float]) -> str:
    """The batch's time by catalog size and where the largest one's time went."""
    largest = max(_sizes(m, "batch"))
    rounds = [(name, f"{m[key]:,.1f} s", f"{m[key] / m[f'batch_s_{largest}_deals']:.0%}")
              for key in m if key.startswith("batch_round_s_")
              for name in [key.removeprefix("batch_round_s_").removesuffix(f"_{largest}_deals")]]
    return ("batch cost by catalog size (2 standalone workers):\n" + table(GROWTH_COLUMNS, growth(m, "batch"))
            + f"\n\nwhere the {largest:,}-deal batch's time went (the sink's rounds):\n"
            + table(("round", "time", "share"), rounds))


GROWTH_COLUMNS = ("catalog", "time", "rate", "growth")


def _sizes(m: dict[str, float], what: str) -> list[int]:
    return sorted(int(k.split("_")[2]) for k in m if k.startswith(f"{what}_s_") and k.endswith("_deals"))


def growth(m: dict[str, float], what: str) -> list[tuple[str, ...]]:
    """Rows of time and rate by catalog size for `what` ("batch" or "transforms"), against the smallest."""
    sizes = _sizes(m, what)
    return [(f"{n:,} deals", f"{m[f'{what}_s_{n}_deals']:,.1f} s", f"{m[f'{what}_deals_per_s_{n}_deals']:,.0f} deals/s",
             f"{m[f'{what}_s_{n}_deals'] / m[f'{what}_s_{sizes[0]}_deals']:.2f}x the time of {sizes[0]:,}")
            for n in sizes]


def main() -> None:
    bench_main("scale", __doc__, "4k-deal batches, 3k-deal stream backlogs, YARN with 2 executors only",
               run, report, profile="cluster")


if __name__ == "__main__":
    main()
