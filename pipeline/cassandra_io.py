"""The write side both sinks share: connector upserts, and running a batch's writes side by side."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from pyspark.sql import DataFrame

CASSANDRA_FORMAT = "org.apache.spark.sql.cassandra"
#: Spark jobs of one micro-batch run side by side: each is small and mostly waits on the driver.
CONCURRENT_WRITES = 6

T = TypeVar("T")
A = TypeVar("A")
B = TypeVar("B")


def append_rows(df: DataFrame, *, keyspace: str, table: str, write_nulls: bool = False) -> None:
    """Upsert `df` into `keyspace.table` through the spark-cassandra-connector.

    Nulls are skipped by default (no tombstones for fields a row never had); `write_nulls` clears
    the fields a newer version of an existing row no longer has.
    """
    (
        df.write.format(CASSANDRA_FORMAT)
        .options(keyspace=keyspace, table=table)
        .option("spark.cassandra.output.ignoreNulls", str(not write_nulls).lower())
        .mode("append")
        .save()
    )


def run_concurrently(actions: Sequence[Callable[[], T]]) -> list[T]:
    """Run Spark actions from a small thread pool, in order of results; the first failure is raised."""
    with ThreadPoolExecutor(max_workers=CONCURRENT_WRITES, thread_name_prefix="sink") as pool:
        futures = [pool.submit(action) for action in actions]
        return [future.result() for future in futures]


def run_side_by_side(first: Callable[[], A], second: Callable[[], B]) -> tuple[A, B]:
    """`run_concurrently` of two actions whose results differ in type; the first failure is raised."""
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="sink") as pool:
        first_future, second_future = pool.submit(first), pool.submit(second)
        return first_future.result(), second_future.result()
