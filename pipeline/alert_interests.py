"""The matcher's view of the saved interests: read by index key, cached, refreshed without a restart.

Why a table re-read by key (and not a compacted Kafka topic): the API already writes interests to
Cassandra (the user's own list is served from there), a micro-batch needs only the interests filed
under the keys of its deals (cells and categories: `pipeline.alert_keys`), and a single-row read of
`interest_index_version` per batch — bumped by the API after every save or delete — says whether
anything changed. Unchanged: the cached rows (and frame) are reused and only keys never read before
are read (their rows added). Changed: the cache is dropped and the batch's keys are read again (a few
hundred single-partition reads at most), so a new interest matches from the next micro-batch on, with
no restart and no replay of a topic.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cassandra.cluster import Session
from cassandra.concurrent import execute_concurrent_with_args
from pyspark.sql import DataFrame, SparkSession

from pipeline.alert_schemas import INTERESTS_BY_KEY_SCHEMA
from pipeline.driver_rows import rows_frame

READ_CONCURRENCY = 64


class InterestIndex:
    """Interests by index key, read since the last change: as rows (a small batch's slot takes those of
    its keys) and as a Spark frame covering every key read (a large batch joins it).

    Its frame belongs to the session of the first `frame` call: a sink that works in two sessions
    keeps an index for each (a frame is joined only within its own session)."""

    def __init__(self, session: Callable[[], Session], keyspace: str) -> None:
        self._session = session
        self._keyspace = keyspace
        self._version: Any = None
        self._rows: dict[str, list[tuple[Any, ...]]] = {}  # the interests filed under each key read so far
        self._framed: set[str] = set()  # the keys whose rows `_frame` holds
        self._frame: DataFrame | None = None
        self._spark: SparkSession | None = None  # the session `_frame` belongs to
        self._statement: Any = None
        self.reads = 0  # partitions read (tests and the bench look at it)

    def rows(self, keys: set[str]) -> list[tuple[Any, ...]]:
        """The interests filed under `keys` (INTERESTS_BY_KEY_SCHEMA rows, one per key it is filed under)."""
        self._refresh(keys)
        return [row for key in sorted(keys) for row in self._rows[key]]

    def frame(self, spark: SparkSession, keys: set[str]) -> DataFrame | None:
        """The interests filed under `keys` (and maybe others); None when there are none."""
        if spark is not self._spark:
            # a frame is joined only within its own session: a batch in the other one (see
            # `driver_rows.small_session`) makes its own
            self._drop_frame()
            self._spark = spark
        self._refresh(keys)
        unframed = sorted(keys - self._framed)
        self._extend(spark, [row for key in unframed for row in self._rows[key]])
        self._framed.update(unframed)
        if not self.filed_under(keys):
            return None
        return self._frame

    def filed_under(self, keys: set[str]) -> int:
        """Interests filed under `keys` as of the last `rows` or `frame` call for them (an upper bound of a
        batch's candidate pairs per deal)."""
        return sum(len(self._rows.get(key, ())) for key in keys)

    def _refresh(self, keys: set[str]) -> None:
        """Forget everything when the interests changed; then read the keys never read since."""
        version = self._current_version()
        if version != self._version:
            self._rows.clear()
            self._drop_frame()
            self._version = version
        missing = sorted(keys - self._rows.keys())
        if missing:
            self._rows.update(self._read(missing))

    def _extend(self, spark: SparkSession, rows: list[tuple[Any, ...]]) -> None:
        """Add the rows of newly framed keys to the cached frame (only the new rows cross from Python)."""
        if not rows:
            return
        added_df = rows_frame(spark, rows, INTERESTS_BY_KEY_SCHEMA)
        previous = self._frame
        self._frame = (added_df if previous is None else previous.unionByName(added_df)).localCheckpoint(eager=True)
        if previous is not None:
            previous.unpersist()

    def _current_version(self) -> Any:
        row = self._session().execute(
            f"SELECT version FROM {self._keyspace}.interest_index_version WHERE scope = 'all'").one()
        return None if row is None else row[0]

    def _read(self, keys: list[str]) -> dict[str, list[tuple[Any, ...]]]:
        if self._statement is None:
            columns = ", ".join(INTERESTS_BY_KEY_SCHEMA.fieldNames())
            self._statement = self._session().prepare(
                f"SELECT {columns} FROM {self._keyspace}.interests_by_key WHERE index_key = ?")
        statement = self._statement
        results = execute_concurrent_with_args(self._session(), statement, [(k,) for k in keys],
                                               concurrency=READ_CONCURRENCY, raise_on_first_error=True)
        self.reads += len(keys)
        found: dict[str, list[tuple[Any, ...]]] = {key: [] for key in keys}
        for key, (_, result) in zip(keys, results, strict=True):
            found[key] = [tuple(row) for row in result]
        return found

    def _drop_frame(self) -> None:
        self._framed.clear()
        if self._frame is not None:
            self._frame.unpersist()
            self._frame = None
