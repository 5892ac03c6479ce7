"""Rows held by the driver (read from Cassandra, collected from a small micro-batch) back into Spark,
and the session such frames are best processed in (`small_session`).

`spark.createDataFrame(list_of_rows)` ships the rows as a pickled Python RDD: every job that reads the
frame starts Python workers to unpickle them again, once per task. A micro-batch sink reads such a
frame in five to ten jobs, and on a 2-core machine those workers took a third of the CPU of the
activity windows query. Through Arrow the rows cross once, as columnar batches the JVM reads itself:
a 3,000-row frame read by five jobs took 0.75 s instead of 2.4 s (quiet machine, local[2]).

The values mean what they mean to `createDataFrame`: a naive datetime is local time (what Spark's
own `collect` hands back), an aware one is its instant; sets become sorted arrays, mappings maps.
"""
from __future__ import annotations

import threading
import weakref
from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pandas as pd
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T


def rows_frame(spark: SparkSession, rows: Sequence[Sequence[Any]], schema: T.StructType) -> DataFrame:
    """A frame of `schema` holding `rows` (tuples in the schema's field order), converted through Arrow."""
    if not rows:
        return empty_frame(spark, schema)
    # object columns: pandas would otherwise turn an integer column with nulls into float64 and
    # round ids above 2**53
    columns = {field.name: pd.Series([_arrow_value(row[i], field.dataType) for row in rows], dtype=object)
               for i, field in enumerate(schema.fields)}
    _require_arrow(spark)
    return spark.createDataFrame(pd.DataFrame(columns, columns=schema.fieldNames()), schema)


def empty_frame(spark: SparkSession, schema: T.StructType) -> DataFrame:
    """A frame of `schema` without rows, made in the JVM alone.

    PySpark converts an empty pandas frame without Arrow, as a pickled Python RDD (`createDataFrame`
    uses Arrow only when there are rows), and every task that reads it waits for a Python worker. An
    empty batch of stored versions, read by seven branches of the deals sink's collect, cost 0.8 s of
    such waits per micro-batch on two cores. An empty range reads nothing, and the optimiser removes
    what joins it. (No schema here has a non-nullable field, so the nulls' types match it.)

    Kept per session and schema: a frame is immutable, and making it is three calls to the JVM per field.
    """
    key = schema.json()
    with _empty_frames_lock:
        frames = _empty_frames.setdefault(spark, {})
        if key not in frames:
            frames[key] = spark.range(0).select(
                *(F.lit(None).cast(field.dataType).alias(field.name) for field in schema.fields))
        return frames[key]


_empty_frames: weakref.WeakKeyDictionary[SparkSession, dict[str, DataFrame]] = weakref.WeakKeyDictionary()
_empty_frames_lock = threading.Lock()


#: conf/spark-defaults.conf sets both; a session built without that file gets them on first use.
#: Set, never toggled back: queries of one application convert from several threads at once.
ARROW_CONF = {"spark.sql.execution.arrow.pyspark.enabled": "true",
              "spark.sql.execution.arrow.pyspark.fallback.enabled": "false"}


def _require_arrow(spark: SparkSession) -> None:
    for key, value in ARROW_CONF.items():
        if spark.conf.get(key, None) != value:
            spark.conf.set(key, value)


#: Settings of the session for rows held on the driver (`small_session`): one shuffle partition, no
#: adaptive execution (it runs every shuffle stage as a Spark job of its own), and expressions
#: interpreted rather than compiled (a few thousand rows do not repay Janino's compile).
#: `factoryMode` is an internal setting of Spark's, read by its projection and predicate factories.
#: No constraint propagation: the optimiser then infers no filters from the plan's constraints, work
#: it repeats every batch over these wide plans (the same plans are optimised afresh over each batch's
#: rows, `plan_templates`). A deals batch of 40 records spent 279 ms in optimiser rules with it and 209
#: ms without, and took 2.5-5 % less time; the rows written are the same (an inferred filter only
#: restates what a join or filter of the plan implies). Measured 2026-12-07, quiet machine, `local[2]`.
SMALL_SESSION_CONF = {"spark.sql.shuffle.partitions": "1", "spark.sql.adaptive.enabled": "false",
                      "spark.sql.codegen.wholeStage": "false", "spark.sql.codegen.factoryMode": "NO_CODEGEN",
                      "spark.sql.constraintPropagation.enabled": "false"}
_small_sessions: dict[int, SparkSession] = {}
_small_sessions_lock = threading.Lock()


def small_session(spark: SparkSession) -> SparkSession:
    """A session of `spark`'s application for frames of rows held on the driver (one per application).

    A micro-batch of a few thousand rows at most: with `SMALL_SESSION_CONF` a collect is one job of
    single-task stages, and its plan is run, not compiled. On two cores a review batch of 737 rows
    took 25 jobs and 4 s of JVM CPU in the application's session, 10 jobs and 2 s in this one. A
    session of its own, because these settings are session-wide and the application's other queries
    (large catch-up batches among them) run beside it.
    """
    with _small_sessions_lock:
        key = id(spark.sparkContext)  # the session below keeps its context alive: the id is never reused
        if key not in _small_sessions:
            session = spark.newSession()
            for conf_key, value in {**SMALL_SESSION_CONF, **ARROW_CONF}.items():
                session.conf.set(conf_key, value)
            _small_sessions[key] = session
        return _small_sessions[key]


@dataclass(frozen=True)
class Held:
    """A frame materialised for the current batch, its row count, and its rows when the driver holds them."""

    df: DataFrame
    count: int
    rows: list[Any] | None


def _arrow_value(value: Any, data_type: T.DataType) -> Any:
    if value is None:
        return None
    if isinstance(data_type, T.TimestampType) and isinstance(value, datetime):
        return value.astimezone(UTC)  # naive: local time, as createDataFrame and collect read it
    if isinstance(data_type, T.ArrayType) and isinstance(value, Set):
        return [_arrow_value(item, data_type.elementType) for item in sorted(value)]  # a set: in order
    if isinstance(data_type, T.ArrayType) and isinstance(value, Sequence) and not isinstance(value, str):
        return [_arrow_value(item, data_type.elementType) for item in value]
    if isinstance(data_type, T.MapType) and isinstance(value, Mapping):
        return {_arrow_value(k, data_type.keyType): _arrow_value(v, data_type.valueType) for k, v in value.items()}
    return value
