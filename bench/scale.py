"""Scaling on a real cluster: the same batch and streaming code on Spark standalone and on YARN, the lake
on HDFS, a three-broker Kafka and a three-node Cassandra ring (`exstreamly stack up --profile cluster`,
started here when it is not running and stopped again afterwards).

Run: `.venv/bin/python -m bench.scale [--quick]`.

1. Batch deals/s (lake on HDFS -> the batch layer's transforms and sink, scores included) with 1 and
   with 2 standalone workers (one core each), and with 1 and 2 YARN executors; ratio 2 : 1.
2. How the batch cost grows with the catalog: seconds for each catalog size on 2 workers, and deals/s.
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
        rows = raw_records(catalog_deals(deals, seed=deals), topic="deals_raw")
        self.spark.createDataFrame(rows, RAW_RECORD_SCHEMA).repartition(8).write.mode("overwrite").parquet(path)
        return path

    def batch_seconds(self, path: str) -> float:
        from batch.deals_job import run_deals_batch

        self.truncate()
        started = time.perf_counter()
        run_deals_batch(self.spark, self.settings, path)
        return time.perf_counter() - started

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


def run(quick: bool) -> dict[str, float]:
    from conf.settings import load_settings

    base = load_settings()
    scale = Scale(base)
    main_size = 4000 if quick else 20_000
    # 1M deals would take hours on this machine's two cores: the README extrapolates it from these
    sizes = (2000, 4000, 10_000) if quick else (10_000, 40_000, 100_000)
    stream_size = 3000 if quick else 20_000
    m: dict[str, float] = {"batch_deals": main_size, "stream_backlog_deals": stream_size}
    try:
        # Standalone first: a later context in this JVM keeps the connector jars that the first one's launch
        # resolved (spark.jars), which a YARN launch would have handed to YARN's cache only.
        scale.use("standalone", 2)
        lakes = {n: scale.write_lake(n) for n in sorted({main_size, *sizes})}
        m["lake_on_hdfs"] = float(all(p.startswith("hdfs://") for p in lakes.values()))
        # each worker count's first batch runs on new executors, as the 1-worker one below does
        m["batch_deals_per_s_2_workers"] = main_size / scale.batch_seconds(lakes[main_size])
        for size in sizes:
            log.info("batch, %d deals, 2 workers…", size)
            m[f"batch_s_{size}_deals"] = scale.batch_seconds(lakes[size])
            m[f"batch_deals_per_s_{size}_deals"] = size / m[f"batch_s_{size}_deals"]
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
    sizes = sorted(int(k.split("_")[2]) for k in m if k.startswith("batch_s_") and k.endswith("_deals"))
    growth = [(f"{n:,} deals", f"{m[f'batch_s_{n}_deals']:,.1f} s", f"{m[f'batch_deals_per_s_{n}_deals']:,.0f} deals/s",
               f"{m[f'batch_s_{n}_deals'] / m[f'batch_s_{sizes[0]}_deals']:.2f}x the time of {sizes[0]:,}")
              for n in sizes]
    ran = (f"ran on YARN: {bool(m['ran_on_yarn'])}, on standalone: {bool(m['ran_on_standalone'])}, "
           f"lake on HDFS: {bool(m['lake_on_hdfs'])}; load average {m['load_avg_1m']:.1f}")
    return (table(("measure", "value", "baseline (same run)", "ratio"), rows)
            + "\n\nbatch cost by catalog size (2 standalone workers):\n"
            + table(("catalog", "batch time", "rate", "growth"), growth) + "\n\n" + ran)


def main() -> None:
    bench_main("scale", __doc__, "4k-deal batches, 3k-deal stream backlogs, YARN with 2 executors only",
               run, report, profile="cluster")


if __name__ == "__main__":
    main()
