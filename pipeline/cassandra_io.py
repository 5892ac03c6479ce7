"""The Cassandra I/O both sinks share: connector upserts, reads of stored rows by partition key,
and running a batch's Spark jobs side by side."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any, TypeVar

from cassandra.cluster import Session
from cassandra.concurrent import execute_concurrent_with_args
from cassandra.query import PreparedStatement
from pyspark.sql import DataFrame
from pyspark.sql import types as T

CASSANDRA_FORMAT = "org.apache.spark.sql.cassandra"
#: Spark jobs of one micro-batch run side by side: each is small and mostly waits on the driver.
CONCURRENT_WRITES = 6
READ_CONCURRENCY = 64

R = TypeVar("R")
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


def run_concurrently(actions: Sequence[Callable[[], R]]) -> list[R]:
    """Run Spark actions from a small thread pool, in order of results; the first failure is raised."""
    with ThreadPoolExecutor(max_workers=CONCURRENT_WRITES, thread_name_prefix="sink") as pool:
        futures = [pool.submit(action) for action in actions]
        return [future.result() for future in futures]


def run_side_by_side(first: Callable[[], A], second: Callable[[], B]) -> tuple[A, B]:
    """`run_concurrently` of two actions whose results differ in type; the first failure is raised."""
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="sink") as pool:
        first_future, second_future = pool.submit(first), pool.submit(second)
        return first_future.result(), second_future.result()


class PartitionReader:
    """Stored rows of a table for given partition keys, as a frame of the table's schema.

    Up to `max_keys` keys (settings: sink_driver_max_keys) the rows are read from the driver with a
    prepared statement per key: a micro-batch touches few keys, and a Spark direct join costs more
    (planning, a connector scan per task, task launch) than the reads themselves. More keys (a
    catch-up, the batch layer): the connector's direct join.
    """

    def __init__(self, session: Callable[[], Session], keyspace: str, max_keys: int) -> None:
        self._session = session  # opened on first need: a batch of only new keys may never read
        self._keyspace = keyspace
        self._max_keys = max_keys
        self._statements: dict[str, PreparedStatement] = {}

    def read(self, keys_df: DataFrame, table: str, schema: T.StructType,
             materialise: Callable[[DataFrame], DataFrame]) -> DataFrame:
        """Rows of `table` whose partition key (the single column of `keys_df`) is in `keys_df`, read
        now: a frame that would read Cassandra again later is `materialise`d."""
        (key,) = keys_df.columns
        keys = [row[0] for row in keys_df.limit(self._max_keys + 1).collect()]
        if len(keys) > self._max_keys:
            # Many keys (a catch-up, the batch layer): the connector joins them directly, or scans the
            # table where its size estimate says the keys are most of it (a first load, a recompute).
            table_df = (keys_df.sparkSession.read.format(CASSANDRA_FORMAT)
                        .options(keyspace=self._keyspace, table=table, directJoinSetting="auto").load())
            return materialise(table_df.join(keys_df, on=key, how="inner").select(*schema.fieldNames()))
        statement = self._statement(table, key, schema)
        results = execute_concurrent_with_args(self._session(), statement, [(k,) for k in keys],
                                               concurrency=READ_CONCURRENCY, raise_on_first_error=True)
        rows = [tuple(_utc(value) for value in row) for _, result in results for row in result]
        return keys_df.sparkSession.createDataFrame(rows, schema)

    def _statement(self, table: str, key: str, schema: T.StructType) -> PreparedStatement:
        if table not in self._statements:
            # Table and column names are code constants; the key is always bound, never formatted in.
            cql = f"SELECT {', '.join(schema.fieldNames())} FROM {self._keyspace}.{table} WHERE {key} = ?"
            self._statements[table] = self._session().prepare(cql)
        return self._statements[table]


def _utc(value: Any) -> Any:
    """The driver returns timestamps as naive UTC; Spark would read a naive datetime as local time."""
    return value.replace(tzinfo=UTC) if isinstance(value, datetime) and value.tzinfo is None else value
