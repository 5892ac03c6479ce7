"""Plans built once and run again on each micro-batch's rows: `Slot` and `Template`.

PySpark builds a plan one operation at a time, and each operation is a call to the JVM and an eager
analysis of the plan so far. The deals sink's small batches built their sixteen table frames that way
every micro-batch, and on two cores building them cost more than running them: for 40 records,
1.49 s per batch rebuilt against 0.42 s run from a template (same rows out; measured 2026-12-07,
README "Plan templates"). Spark's own streaming engine does not rebuild a query's plan per batch
either: it analyses the query once and puts each batch's data in at its leaves. Here the same:

- a `Slot` is a relation of a fixed schema (a Catalyst `LocalRelation`) whose rows live in a buffer
  that each batch refills;
- a `Template` keeps the analysed plan of a frame built over slots, and gives a new frame of it on
  demand. Spark optimises and plans that frame again, reading the slots' rows as they are then (the
  optimiser folds projections over local rows into new local rows, the work of a small batch), but
  nothing is built or analysed again.

The one rule that follows: a frame reads its slots when it first runs (and keeps what it read), so a
template gives a new frame for each use, run before the slots are refilled. A slot and its templates
belong to one sink, which runs one batch at a time.

These are Spark's internal classes, reached through py4j (as PySpark itself reaches them); a Spark
without them fails here at the first slot, with the class named, not later with wrong rows.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import types as T

from pipeline.driver_rows import rows_frame, small_session

P = TypeVar("P")

LOCAL_RELATION = "org.apache.spark.sql.catalyst.plans.logical.LocalRelation"
DATASET = "org.apache.spark.sql.Dataset"
WRAPPED_ARRAY = "scala.collection.mutable.WrappedArray"


def _jvm_class(spark: SparkSession, name: str) -> Any:
    """A JVM class (or Scala object) by name, with a clear error on a Spark that lacks it. Kept per
    JVM: py4j finds a class a package at a time, a call to the JVM each."""
    key = (id(spark._jvm), name)
    if key not in _classes:
        _classes[key] = _find_class(spark, name)
    return _classes[key]


_classes: dict[tuple[int, str], Any] = {}


def _find_class(spark: SparkSession, name: str) -> Any:
    jvm_class = spark._jvm
    for part in name.split("."):
        jvm_class = getattr(jvm_class, part)
    if type(jvm_class).__name__ != "JavaClass":  # py4j answers an unknown name with a package
        raise RuntimeError(f"plan templates need Spark's {name} (pipeline/plan_templates.py), "
                           f"missing from this Spark {spark.version}")
    return jvm_class


def _frame_of(spark: SparkSession, plan: Any) -> DataFrame:
    """A new frame (a new QueryExecution: optimised and planned when it runs) of an analysed plan."""
    return DataFrame(_jvm_class(spark, DATASET).ofRows(spark._jsparkSession, plan), spark)


class Slot:
    """A relation of `schema` whose rows each batch replaces (`fill`); build templates on `df`."""

    def __init__(self, spark: SparkSession, schema: T.StructType) -> None:
        self.schema = schema
        self._spark = spark
        data_types = _jvm_class(spark, "org.apache.spark.sql.catalyst.types.DataTypeUtils")
        attributes = data_types.toAttributes(spark._jsparkSession.parseDataType(schema.json()))
        self._rows = _jvm_class(spark, "scala.collection.mutable.ArrayBuffer")()
        self._relation = _jvm_class(spark, LOCAL_RELATION)(attributes, self._rows, False)

    @property
    def df(self) -> DataFrame:
        """A new frame of the slot: one that ran once keeps the rows it was optimised with."""
        return _frame_of(self._spark, self._relation)

    def fill(self, df: DataFrame) -> int:
        """Replace the rows by `df`'s, computed in the JVM (never through Python); returns how many. A frame
        of local rows (read from Cassandra by the driver, `rows_frame`) is taken as it is, without a job."""
        count = self._fill(df, None)
        assert count is not None  # no limit was given
        return count

    def fill_at_most(self, df: DataFrame, max_rows: int) -> int | None:
        """`fill` when `df` has at most `max_rows` rows; else the slot is left empty and None returned (a
        large micro-batch is read only up to one row past the limit)."""
        return self._fill(df.limit(max_rows + 1), max_rows)

    def fill_rows(self, rows: Sequence[Sequence[Any]]) -> int:
        """Replace the rows by `rows` (tuples in the schema's field order, as `rows_frame` takes them)."""
        count = self._fill(rows_frame(self._spark, rows, self.schema), None, shaped=True)
        assert count is not None  # no limit was given
        return count

    def _fill(self, df: DataFrame, max_rows: int | None, *, shaped: bool = False) -> int | None:
        # `shaped`: made with this slot's schema, so its own schema (a call to the JVM) needs no check
        if not shaped and [field.dataType for field in df.schema] != [field.dataType for field in self.schema]:
            raise ValueError(f"a slot of {self.schema.simpleString()} cannot hold {df.schema.simpleString()}")
        plan = df._jdf.queryExecution().analyzed()
        if plan.getClass().getName() == LOCAL_RELATION:
            rows = plan.data()
        else:
            rows = _jvm_class(self._spark, WRAPPED_ARRAY).make(df._jdf.queryExecution().executedPlan().executeCollect())
        count = rows.size()
        self._rows.clear()
        if max_rows is not None and count > max_rows:
            return None
        self._rows.appendAll(rows)
        return count

    def clear(self) -> None:
        """Drop the rows (at the end of a batch: they are not needed, and not kept alive)."""
        self._rows.clear()


class Template:
    """A frame built once over slots; `frame()` is a new frame of its plan over the slots' rows now."""

    def __init__(self, df: DataFrame) -> None:
        self._spark = df.sparkSession
        self._plan = df._jdf.queryExecution().analyzed()
        self.schema = df.schema

    def frame(self) -> DataFrame:
        return _frame_of(self._spark, self._plan)


class SessionPlans(Generic[P]):
    """A sink's slots and templates (`build`), made on its first small batch in the small session of
    that batch's application (`driver_rows.small_session`), and made again only for another one."""

    def __init__(self, build: Callable[[SparkSession], P]) -> None:
        self._build = build
        self._plans: P | None = None
        self._session: SparkSession | None = None

    def of(self, spark: SparkSession) -> P:
        session = small_session(spark)
        if self._plans is None or self._session is not session:
            self._plans, self._session = self._build(session), session
        return self._plans
