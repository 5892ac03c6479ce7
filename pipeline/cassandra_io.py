"""The Cassandra I/O the deal and score sinks share: connector upserts, reads of stored rows by
partition key, deletes by primary key, frames held for one batch, and running a batch's Spark jobs
side by side."""
from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any, TypeVar

from cassandra import ConsistencyLevel
from cassandra.cluster import NoHostAvailable, Session
from cassandra.concurrent import execute_concurrent, execute_concurrent_with_args
from cassandra.query import PreparedStatement
from pyspark import SparkContext
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T
from pyspark.util import inheritable_thread_target
from tenacity import retry, retry_if_exception_type, stop_after_attempt, wait_exponential

from conf.settings import Settings
from pipeline.driver_rows import Held, rows_frame
from pipeline.partition_batches import TableKeys, in_partition_batches

CASSANDRA_FORMAT = "org.apache.spark.sql.cassandra"
#: Spark jobs of one micro-batch run side by side: each is small and mostly waits on the driver.
CONCURRENT_WRITES = 6
READ_CONCURRENCY = 64
#: Partition keys per driver read of a one-column key (`key IN ?`). One request per key cost the
#: driver's Python far more than Cassandra its reads: 700 keys took 0.20–0.32 s of wall time and
#: 0.16–0.24 s of CPU key by key, 0.013–0.045 s and 0.005 s in IN reads of 50 (an idle machine); a
#: review batch of 737 events read its two tables' partitions in 1.6 s key by key beside the other sinks.
KEYS_PER_READ = 50
#: Statements a sink keeps in flight from the driver (deletes, and the writes of a small batch).
DRIVER_WRITE_CONCURRENCY = 64
#: Seconds a sink's driver request may take (driver default 10 s). Sixty-four reads in flight against a
#: node compacting beside three Spark drivers on 2 cores took longer than 10 s, and the timeout ended
#: the stream; a slow answer is better than a stopped query.
SINK_REQUEST_TIMEOUT_S = 60.0

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
        futures = [pool.submit(_as_caller(action)) for action in actions]
        return [future.result() for future in futures]


def run_side_by_side(first: Callable[[], A], second: Callable[[], B]) -> tuple[A, B]:
    """`run_concurrently` of two actions whose results differ in type; the first failure is raised."""
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="sink") as pool:
        first_future, second_future = pool.submit(_as_caller(first)), pool.submit(_as_caller(second))
        return first_future.result(), second_future.result()


def _as_caller(action: Callable[[], R]) -> Callable[[], R]:
    """`action` run with the calling thread's Spark local properties, its scheduler pool above all.

    Under PySpark's pinned threads a new Python thread calls the JVM from a new JVM thread, which
    inherits nothing from the thread of the streaming query that called the sink: every job the sinks
    ran side by side landed in the FAIR scheduler's default pool (checked: `spark.scheduler.pool` read
    None in a worker thread, the query's pool in the caller), so the speed layer's pool per query
    (streaming/speed_layer.py) held only the jobs run from the query's own thread."""
    if SparkContext._active_spark_context is None:  # Cassandra alone, no Spark in this process
        return action
    return inheritable_thread_target(action)


class PartitionReader:
    """Stored rows of a table for given partition keys, as a frame of the table's schema.

    Up to `max_keys` keys (settings: sink_driver_max_keys) the rows are read from the driver with
    prepared statements (`key IN ?` of KEYS_PER_READ keys for a one-column key, else one per key): a
    micro-batch touches few keys, and a Spark direct join costs more (planning, a connector scan per
    task, task launch) than the reads themselves. More keys (a catch-up, the batch layer): the
    connector's direct join.
    """

    def __init__(self, session: Callable[[], Session], keyspace: str, max_keys: int) -> None:
        self._session = session  # opened on first need: a batch of only new keys may never read
        self._keyspace = keyspace
        self._max_keys = max_keys
        self._statements: dict[tuple[str, tuple[str, ...], tuple[str, ...]], PreparedStatement] = {}

    def read(self, keys_df: DataFrame, table: str, schema: T.StructType,
             materialise: Callable[[DataFrame], DataFrame]) -> DataFrame:
        """Rows of `table` whose partition key (the columns of `keys_df`, all of the key) is in `keys_df`,
        read now: a frame that would read Cassandra again later is `materialise`d. A key `keys_df`
        repeats is read once."""
        columns = keys_df.columns
        keys = [tuple(row) for row in keys_df.limit(self._max_keys + 1).collect()]
        if len(keys) > self._max_keys:
            # Many keys (a catch-up, the batch layer): the connector joins them directly, or scans the
            # table where its size estimate says the keys are most of it (a first load, a recompute).
            table_df = (keys_df.sparkSession.read.format(CASSANDRA_FORMAT)
                        .options(keyspace=self._keyspace, table=table, directJoinSetting="auto").load())
            return materialise(table_df.join(keys_df.distinct(), on=columns, how="inner").select(*schema.fieldNames()))
        return rows_frame(keys_df.sparkSession, self.read_rows(table, tuple(columns), keys, schema), schema)

    def read_keys(self, table: str, key: str, keys: Sequence[object], schema: T.StructType) -> list[tuple[Any, ...]]:
        """The stored rows of `table` for the partition keys `keys` (one column, `key`), read from the driver."""
        return self.read_rows(table, (key,), [(k,) for k in keys], schema)

    def read_rows(self, table: str, columns: tuple[str, ...], keys: Sequence[tuple[object, ...]],
                  schema: T.StructType) -> list[tuple[Any, ...]]:
        """The stored rows of `table` whose partition key (`columns`, all of it) is one of `keys`."""
        statement = self._statement(table, columns, schema)
        if len(columns) == 1:  # `key IN ?`: a list of distinct keys per request
            distinct = list(dict.fromkeys(key for (key,) in keys))
            args: Sequence[tuple[object, ...]] = [(distinct[i:i + KEYS_PER_READ],)
                                                  for i in range(0, len(distinct), KEYS_PER_READ)]
        else:
            args = list(dict.fromkeys(keys))
        results = execute_concurrent_with_args(self._session(), statement, args,
                                               concurrency=READ_CONCURRENCY, raise_on_first_error=True)
        return [utc_row(row) for _, result in results for row in result]

    def _statement(self, table: str, columns: tuple[str, ...], schema: T.StructType) -> PreparedStatement:
        # Prepared once per table, key and projection, then reused by every batch.
        cache_key = (table, columns, tuple(schema.fieldNames()))
        if cache_key not in self._statements:
            # Table and column names are code constants; the key is always bound, never formatted in.
            # A one-column partition key is read with IN (see KEYS_PER_READ); a composite one key by key,
            # as IN on each of its columns would read their cross product.
            where = (f"{columns[0]} IN ?" if len(columns) == 1
                     else " AND ".join(f"{column} = ?" for column in columns))
            cql = f"SELECT {', '.join(schema.fieldNames())} FROM {self._keyspace}.{table} WHERE {where}"
            self._statements[cache_key] = self._session().prepare(cql)
        return self._statements[cache_key]


@retry(retry=retry_if_exception_type(NoHostAvailable), stop=stop_after_attempt(4),
       wait=wait_exponential(multiplier=2, max=20), reraise=True)
def connect_sink_session(settings: Settings) -> Session:
    """A driver session for a sink's reads and deletes. A node that does not answer in time is tried
    again (2, 4, 8 s apart) before the batch fails, and each request may take `SINK_REQUEST_TIMEOUT_S`:
    a query that fails stops, and a busy node is not a reason to stop the stream."""
    from conf.clients import cassandra_cluster

    cluster = cassandra_cluster(settings)
    try:
        session = cluster.connect()
    except NoHostAvailable:
        cluster.shutdown()
        raise
    session.default_timeout = SINK_REQUEST_TIMEOUT_S
    # A sink reads back what it wrote a moment before (the merchant ranking from deals_by_merchant, the
    # stored versions): its reads and writes both at the configured level (LOCAL_QUORUM on a ring), so
    # they overlap on a replica. At the driver's default LOCAL_ONE on a ring of three, a read could miss
    # the write just acknowledged and rank a merchant from stale rows.
    session.default_consistency_level = ConsistencyLevel.name_to_value[settings.cassandra_write_consistency]
    return session


def _utc(value: Any) -> Any:
    """The driver returns timestamps as naive UTC; Spark would read a naive datetime as local time."""
    return value.replace(tzinfo=UTC) if isinstance(value, datetime) and value.tzinfo is None else value


def utc_row(row: Any) -> tuple[Any, ...]:
    """A Cassandra driver row as a tuple whose timestamps are aware UTC (see `_utc`)."""
    return tuple(_utc(value) for value in row)


class SinkTables:
    """One sink's way to its tables: a lazily opened driver session (reads and deletes), the
    connector for upserts, and the frames it holds for the current batch.

    A sink that runs inside another (the score sink inside the deal sink) shares its `session`, so
    one batch opens one driver connection.
    """

    def __init__(self, settings: Settings, session: Callable[[], Session] | None = None) -> None:
        self.keyspace = settings.keyspace
        self._settings = settings
        self._own_session: Session | None = None
        self._opening = threading.Lock()
        self.session: Callable[[], Session] = session or self._open_session
        self._reader = PartitionReader(self.session, settings.keyspace, settings.sink_driver_max_keys)
        self._statements: dict[tuple[str, object], PreparedStatement] = {}
        self._json_tables: dict[int, TableKeys] = {}  # id of each JSON upsert statement -> its table's keys
        self._held: list[DataFrame] = []

    def hold(self, df: DataFrame) -> DataFrame:
        """Materialise `df` now and keep it for this batch only (until `release`).

        A local checkpoint, not a cache: later plans start from these rows instead of re-optimising
        the expressions that made them (which costs more than running them on a micro-batch), and
        reads of Cassandra are never repeated after the batch's own writes changed what they would see.
        """
        held_df = df.localCheckpoint(eager=True)
        self._held.append(held_df)
        return held_df

    def materialise(self, df: DataFrame) -> Held:
        """`df` computed now for this batch, with its row count (later steps must not recompute it).

        Up to `sink_driver_max_keys` rows it is collected to the driver, and later jobs read it from
        there (no checkpoint, no count job); a larger frame (a catch-up, the batch layer) is held.
        """
        limit = self._settings.sink_driver_max_keys
        rows = df.limit(limit + 1).collect()
        if len(rows) <= limit:
            return Held(rows_frame(df.sparkSession, rows, df.schema), len(rows), rows)
        return self.held(df)

    def held(self, df: DataFrame) -> Held:
        """`df` held (`hold`) and counted."""
        held_df = self.hold(df)
        return Held(held_df, held_df.count(), None)

    def release(self) -> None:
        """Drop the frames held for the batch that just ended."""
        for held_df in self._held:
            held_df.unpersist()
        self._held.clear()

    def read(self, table: str, keys_df: DataFrame, schema: T.StructType) -> DataFrame:
        """Stored rows of `table` for the partition keys in `keys_df`, as of now (`PartitionReader`)."""
        return self._reader.read(keys_df, table, schema, self.hold)

    def read_keys(self, table: str, key: str, keys: Sequence[object], schema: T.StructType) -> list[tuple[Any, ...]]:
        """Stored rows of `table` for the partition keys `keys`, read from the driver now, as tuples."""
        return self._reader.read_keys(table, key, keys, schema)

    def read_rows(self, table: str, columns: tuple[str, ...], keys: Sequence[tuple[object, ...]],
                  schema: T.StructType) -> list[tuple[Any, ...]]:
        """Stored rows of `table` for the partition keys `keys` (values of `columns`), read from the driver now."""
        return self._reader.read_rows(table, columns, keys, schema)

    def read_keys_frame(self, spark: SparkSession, table: str, key: str, keys: Sequence[object],
                        schema: T.StructType) -> DataFrame:
        """`read_keys` as a frame of `spark` (for keys the driver already holds: no Spark job finds them)."""
        return rows_frame(spark, self.read_keys(table, key, keys, schema), schema)

    def append(self, df: DataFrame, table: str, *, write_nulls: bool = False) -> None:
        append_rows(df, keyspace=self.keyspace, table=table, write_nulls=write_nulls)

    def upsert(self, fresh_df: DataFrame, to_rows: Callable[[DataFrame], DataFrame], table: str,
               split: tuple[int, int]) -> None:
        """Upsert rows of new and replacing deals (`fresh_df.is_replacing`). New ones without nulls
        (no tombstones for fields a row never had); replacing ones with nulls, so a field that became
        null clears. `split` is (new, replacing) counts: an empty side costs no Spark job."""
        new_count, replacing_count = split
        if new_count and not replacing_count:
            self.append(to_rows(fresh_df), table)
            return
        if new_count:
            self.append(to_rows(fresh_df.filter(~F.col("is_replacing"))), table)
        if replacing_count:
            self.append(to_rows(fresh_df.filter(F.col("is_replacing"))), table, write_nulls=True)

    def delete(self, table: str, keys: tuple[str, ...], rows: list[tuple[object, ...]]) -> int:
        """Delete rows by full primary key from the driver; only changed deals get here, so few."""
        if not rows:
            return 0
        return self.execute([(self.delete_statement(table, keys), row) for row in rows])

    def delete_statement(self, table: str, keys: tuple[str, ...]) -> PreparedStatement:
        """DELETE of one row of `table` by its full primary key `keys` (bound in that order)."""
        if (table, keys) not in self._statements:
            # Table and column names are code constants; values are always bound, never formatted in.
            where = " AND ".join(f"{key} = ?" for key in keys)
            self._statements[table, keys] = self.session().prepare(f"DELETE FROM {self.keyspace}.{table} WHERE {where}")
        return self._statements[table, keys]

    def insert_json_statement(self, table: str, *, write_nulls: bool) -> PreparedStatement:
        """Upsert of one row of `table` given as JSON (`table_rows.to_json_rows`). Fields the JSON leaves
        out are left as stored (`DEFAULT UNSET`, the connector's ignoreNulls) or, with `write_nulls`,
        cleared (`DEFAULT NULL`: a newer version of a deal no longer has them)."""
        default = "NULL" if write_nulls else "UNSET"
        if (table, default) not in self._statements:
            cql = f"INSERT INTO {self.keyspace}.{table} JSON ? DEFAULT {default}"
            statement = self.session().prepare(cql)
            columns = self.session().cluster.metadata.keyspaces[self.keyspace].tables[table]
            self._json_tables[id(statement)] = TableKeys(tuple(c.name for c in columns.partition_key),
                                                         tuple(c.name for c in columns.primary_key))
            self._statements[table, default] = statement
        return self._statements[table, default]

    def execute(self, statements: Sequence[tuple[PreparedStatement, Sequence[object]]]) -> int:
        """Run bound statements from the driver, `DRIVER_WRITE_CONCURRENCY` requests in flight, the JSON
        upserts of one partition in a batch (`partition_batches`); the first failure is raised (every
        statement is an idempotent upsert or delete, so the batch's replay repeats it). Returns how many."""
        if not statements:
            return 0
        requests = in_partition_batches(statements, lambda statement: self._json_tables.get(id(statement)))
        execute_concurrent(self.session(), requests, concurrency=DRIVER_WRITE_CONCURRENCY, raise_on_first_error=True)
        return len(statements)

    def _open_session(self) -> Session:
        # A batch's reads run on several threads: one of them opens the session, the others wait.
        with self._opening:
            if self._own_session is None:
                self._own_session = connect_sink_session(self._settings)
            return self._own_session

    def close(self) -> None:
        """Close the driver session this object opened (a shared one is its owner's to close)."""
        if self._own_session is not None:
            self._own_session.cluster.shutdown()
            self._own_session = None
