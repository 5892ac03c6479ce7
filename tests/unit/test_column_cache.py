"""Column expressions reused across micro-batches: the same expression once, a different one never confused."""
from __future__ import annotations

from pyspark.sql import functions as F

from pipeline import geo
from pipeline.cells import geohash as python_geohash
from pipeline.column_cache import _java_strings, reused, select_expressions
from pipeline.records import lookup


def test_the_same_arguments_reuse_one_column_and_build_it_once(spark):
    built = []

    @reused
    def doubled(name: str):
        built.append(name)
        return F.col(name) * 2

    assert doubled("a") is doubled("a")
    assert doubled("a") is not doubled("b")
    assert built == ["a", "b"]


def test_columns_that_print_alike_are_different_keys(spark):
    """`lit(1)` and `lit("1")` print as the same text; as lookup keys they must not share an entry."""
    mapping = {"1": "text one"}
    df = spark.createDataFrame([("1", 1)], "s string, n int")
    by_text = df.select(lookup(mapping, F.lit("1")).alias("v")).first()["v"]
    by_column = df.select(lookup(mapping, F.col("s")).alias("v")).first()["v"]
    by_number = df.select(lookup({"1": "text one", "x": "other"}, F.lit(1).cast("string")).alias("v")).first()["v"]
    assert (by_text, by_column, by_number) == ("text one", "text one", "text one")
    assert lookup(mapping, F.lit("1")) is lookup(mapping, F.lit("1"))
    assert lookup(mapping, F.lit("1")) is not lookup(mapping, F.lit(1))
    assert lookup(mapping, F.col("s")) is not lookup(mapping, F.lit("s"))


def test_a_changed_mapping_is_a_different_lookup(spark):
    df = spark.createDataFrame([("k",)], "key string")
    first = df.select(lookup({"k": "old"}, F.col("key")).alias("v")).first()["v"]
    second = df.select(lookup({"k": "new"}, F.col("key")).alias("v")).first()["v"]
    assert (first, second) == ("old", "new")


def test_reused_geohashes_equal_the_python_geohash_on_every_frame(spark):
    """Two frames (two 'batches') through the cached geohash expressions, against the plain-Python one."""
    points = [[(40.7128, -74.006), (51.5074, -0.1278)], [(-33.8688, 151.2093), (None, 2.0), (35.6762, 139.6503)]]
    for batch in points:
        df = spark.createDataFrame(batch, "lat double, lon double")
        hashed = geo.with_geohash(df, lat_col="lat", lon_col="lon", out_col="h", precision=7)
        as_column = df.select("lat", "lon", geo.geohash(F.col("lat"), F.col("lon"), 5).alias("h5"))
        want = [None if lat is None or lon is None else python_geohash(lat, lon, 7) for lat, lon in batch]
        assert [row["h"] for row in hashed.collect()] == want
        assert [row["h5"] for row in as_column.collect()] == [h and h[:5] for h in want]


def test_selected_expressions_equal_spark_own_select_expr(spark):
    df = spark.createDataFrame([(1, "a"), (2, None)], "n int, s string")
    expressions = ("n * 2 AS twice", "upper(s) AS loud", "CAST(n AS string) AS `n text`")
    for _ in range(2):  # the second time from the kept sequence
        got = select_expressions(df, expressions)
        want = df.selectExpr(*expressions)
        assert got.schema == want.schema and got.collect() == want.collect()
    assert _java_strings(expressions) is _java_strings(expressions)
    assert _java_strings(expressions) is not _java_strings(expressions[:2])


def test_frames_made_with_one_kept_projection_join_and_union_by_name(spark):
    """Two frames selected through the same kept aliased columns share attribute ids; joined by name
    and stacked they give what plain Python gives."""

    @reused
    def shaped():
        return (F.col("k").alias("key"), (F.col("v") * 10).alias("value"))

    left = spark.createDataFrame([(1, 1), (2, 2), (3, 3)], "k int, v int").select(*shaped())
    right = spark.createDataFrame([(2, 5), (3, 6), (4, 7)], "k int, v int").select(*shaped())
    joined = left.join(right.withColumnRenamed("value", "other"), on="key").orderBy("key").collect()
    assert [(r["key"], r["value"], r["other"]) for r in joined] == [(2, 20, 50), (3, 30, 60)]
    stacked = sorted(tuple(r) for r in left.unionByName(right).collect())
    assert stacked == sorted([(1, 10), (2, 20), (3, 30), (2, 50), (3, 60), (4, 70)])
    assert left.join(right, on="key", how="left_anti").collect() == [(1, 10)]
