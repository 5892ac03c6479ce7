"""Driver rows through Arrow: the same frame as Spark's own (pickled) createDataFrame, for every type the
sinks hand over, and a frame that later jobs read without Python workers."""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

from pyspark.sql import types as T

from pipeline import activity_schemas, alert_schemas, recommend_schemas, review_schemas, schemas, score_schemas
from pipeline.activity_schemas import ACTIVITY_WINDOW_SCHEMA
from pipeline.alert_schemas import ALERTS_BY_INTEREST_DAY_SCHEMA
from pipeline.driver_rows import rows_frame


def assert_same_rows(got_df, want_df):
    """Same types and the same rows in the same order (a map column cannot be sorted on in Spark)."""
    assert [f.dataType for f in got_df.schema] == [f.dataType for f in want_df.schema]
    assert got_df.collect() == want_df.collect()

MIXED_SCHEMA = T.StructType([
    T.StructField("id", T.LongType()), T.StructField("name", T.StringType()),
    T.StructField("at", T.TimestampType()), T.StructField("day", T.DateType()),
    T.StructField("price", T.DecimalType(18, 2)), T.StructField("share", T.DoubleType()),
    T.StructField("ok", T.BooleanType()), T.StructField("n", T.IntegerType()),
    T.StructField("tags", T.ArrayType(T.StringType())),
    T.StructField("stars", T.MapType(T.StringType(), T.IntegerType())),
])
AWARE = datetime(2026, 12, 2, 9, 30, 15, 123456, tzinfo=UTC)
MIXED_ROWS = [
    (2**62 + 7, "über", AWARE, date(2026, 12, 2), Decimal("12.34"), 0.25, True, 3, ["a", "b"], {"x": 1}),
    (None, None, None, None, None, None, None, None, None, None),  # every column null: ids stay exact
    (5, "", AWARE.astimezone(timezone(timedelta(hours=-5))), date(1970, 1, 1), Decimal("0.00"), -1.5, False, 0,
     [], {}),
    (6, "naive local time", datetime(2026, 1, 1, 0, 0), None, Decimal("-3.10"), None, None, None, ["z"], None),
]
#: What the Cassandra driver hands back for a set column: Spark's list path refuses it, Arrow gets a list.
DRIVER_ROWS = [(*row[:8], set(row[8]) if row[8] else row[8], row[9]) for row in MIXED_ROWS]


def test_rows_frame_equals_spark_own_conversion(spark):
    assert_same_rows(rows_frame(spark, DRIVER_ROWS, MIXED_SCHEMA), spark.createDataFrame(MIXED_ROWS, MIXED_SCHEMA))


def test_rows_collected_from_spark_round_trip(spark):
    """What a sink collects (naive local timestamps) comes back as the same rows."""
    original_df = spark.createDataFrame(MIXED_ROWS, MIXED_SCHEMA)
    assert_same_rows(rows_frame(spark, original_df.collect(), MIXED_SCHEMA), original_df)


def pipeline_schemas() -> list[T.StructType]:
    """Every row schema the pipeline declares (the frames a sink may read back empty)."""
    modules = (schemas, activity_schemas, alert_schemas, recommend_schemas, review_schemas, score_schemas)
    return [value for module in modules for value in vars(module).values() if isinstance(value, T.StructType)]


def test_empty_rows_give_an_empty_frame_of_the_schema(spark):
    found = pipeline_schemas()
    assert ACTIVITY_WINDOW_SCHEMA in found and len(found) > 20
    for schema in found:
        frame = rows_frame(spark, [], schema)
        assert frame.schema == schema and frame.count() == 0


def test_the_frame_needs_no_python_rdd(spark):
    """The plan reads Arrow batches in the JVM: no PythonRDD (and so no Python worker) behind it."""
    plan = rows_frame(spark, MIXED_ROWS, MIXED_SCHEMA)._jdf.queryExecution().toRdd().toDebugString()
    pickled = spark.createDataFrame(MIXED_ROWS, MIXED_SCHEMA)._jdf.queryExecution().toRdd().toDebugString()
    assert "PythonRDD" in pickled and "PythonRDD" not in plan


def test_an_empty_frame_needs_no_python_rdd_either(spark):
    """PySpark converts an empty pandas frame without Arrow, as a pickled RDD; the empty frame has none."""
    plan = rows_frame(spark, [], ALERTS_BY_INTEREST_DAY_SCHEMA)._jdf.queryExecution().toRdd().toDebugString()
    assert "PythonRDD" not in plan
