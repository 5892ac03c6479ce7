"""The matcher's view of the saved interests: read by index key, cached, refreshed without a restart.

Why a table re-read by key (and not a compacted Kafka topic): the API already writes interests to
Cassandra (the user's own list is served from there), a micro-batch needs only the interests filed
under the keys of its deals (cells and categories: `pipeline.alert_keys`), and a single-row read of
`interest_index_version` per batch — bumped by the API after every save or delete — says whether
anything changed. Unchanged: the cached rows and their Spark frame are reused. Changed: the cache
is dropped and the batch's keys are read again (a few hundred single-partition reads at most), so
a new interest matches from the next micro-batch on, with no restart and no replay of a topic.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cassandra.cluster import Session
from cassandra.concurrent import execute_concurrent_with_args
from pyspark.sql import DataFrame, SparkSession

from pipeline.alert_schemas import INTERESTS_BY_KEY_SCHEMA

READ_CONCURRENCY = 64


class InterestIndex:
    """Interests by index key, as a Spark frame covering every key read since the last change."""

    def __init__(self, session: Callable[[], Session], keyspace: str) -> None:
        self._session = session
        self._keyspace = keyspace
        self._version: Any = None
        self._rows: dict[str, list[tuple[Any, ...]]] = {}
        self._frame: DataFrame | None = None
        self.reads = 0  # partitions read (tests and the bench look at it)

    def frame(self, spark: SparkSession, keys: set[str]) -> DataFrame | None:
        """The interests filed under `keys` (and maybe others); None when there are none."""
        version = self._current_version()
        if version != self._version:
            self._drop()
            self._version = version
        missing = sorted(keys - self._rows.keys())
        if missing:
            self._rows.update(self._read(missing))
            self._drop_frame()
        if not any(self._rows.get(key) for key in keys):
            return None
        if self._frame is None:
            rows = [row for key_rows in self._rows.values() for row in key_rows]
            self._frame = spark.createDataFrame(rows, INTERESTS_BY_KEY_SCHEMA).localCheckpoint(eager=True)
        return self._frame

    def _current_version(self) -> Any:
        row = self._session().execute(
            f"SELECT version FROM {self._keyspace}.interest_index_version WHERE scope = 'all'").one()
        return None if row is None else row[0]

    def _read(self, keys: list[str]) -> dict[str, list[tuple[Any, ...]]]:
        columns = ", ".join(INTERESTS_BY_KEY_SCHEMA.fieldNames())
        statement = self._session().prepare(
            f"SELECT {columns} FROM {self._keyspace}.interests_by_key WHERE index_key = ?")
        results = execute_concurrent_with_args(self._session(), statement, [(k,) for k in keys],
                                               concurrency=READ_CONCURRENCY, raise_on_first_error=True)
        self.reads += len(keys)
        found: dict[str, list[tuple[Any, ...]]] = {key: [] for key in keys}
        for key, (_, result) in zip(keys, results, strict=True):
            found[key] = [tuple(row) for row in result]
        return found

    def _drop_frame(self) -> None:
        if self._frame is not None:
            self._frame.unpersist()
            self._frame = None

    def _drop(self) -> None:
        self._rows.clear()
        self._drop_frame()
