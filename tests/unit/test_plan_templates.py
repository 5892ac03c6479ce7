"""Plan templates: a frame built once over slots gives, batch after batch, the rows that the same
transform built anew over that batch's rows gives, and rows computed in plain Python."""
from __future__ import annotations

from collections import defaultdict

import pytest
from pyspark.sql import functions as F
from pyspark.sql import types as T

from pipeline.driver_rows import rows_frame, small_session
from pipeline.plan_templates import Slot, Template

SCHEMA = T.StructType([T.StructField("shop", T.StringType()), T.StructField("price", T.DoubleType()),
                       T.StructField("n", T.LongType())])
BATCHES = [
    [("a", 10.0, 1), ("b", 2.5, 4), ("a", 7.0, 2)],
    [("c", 1.0, None), (None, 3.0, 1)],
    [],
    [("a", 4.0, 9)] * 3 + [("b", 1.5, 2)],
]


def per_shop(df):
    """A projection, a filter and an aggregate: what the optimiser folds and what it leaves to Spark."""
    priced_df = df.filter(F.col("price") > 2).withColumn("total", F.col("price") * F.coalesce("n", F.lit(0)))
    return priced_df.groupBy("shop").agg(F.sum("total").alias("total"), F.count(F.lit(1)).alias("rows"))


def expected_per_shop(rows):
    totals: dict = defaultdict(lambda: [0.0, 0])
    for shop, price, n in rows:
        if price > 2:
            totals[shop][0] += price * (n or 0)
            totals[shop][1] += 1
    return sorted((shop, total, count) for shop, (total, count) in totals.items())


def sorted_rows(df):
    return sorted((tuple(row) for row in df.collect()), key=repr)


def test_a_template_follows_its_slot_batch_after_batch(spark) -> None:
    session = small_session(spark)
    slot = Slot(session, SCHEMA)
    template = Template(per_shop(slot.df))
    for rows in BATCHES:
        assert slot.fill_rows(rows) == len(rows)
        got = sorted_rows(template.frame())
        assert got == sorted(expected_per_shop(rows), key=repr)
        assert got == sorted_rows(per_shop(rows_frame(session, rows, SCHEMA)))


def test_a_slot_joined_to_itself_and_to_another(spark) -> None:
    session = small_session(spark)
    left, right = Slot(session, SCHEMA), Slot(session, SCHEMA)
    pairs_df = left.df.alias("x").join(left.df.alias("y"), on="shop").select("shop", F.col("x.n").alias("n"))
    template = Template(pairs_df.join(right.df.select("shop"), on="shop", how="left_anti"))
    for rows, others in ((BATCHES[0], [("b", 0.0, 0)]), (BATCHES[3], [("a", 0.0, 0)]), (BATCHES[1], [])):
        left.fill_rows(rows)
        right.fill_rows(others)
        excluded = {shop for shop, _, _ in others}
        want = [(a[0], a[2]) for a in rows for b in rows if a[0] == b[0] and a[0] is not None and a[0] not in excluded]
        assert sorted_rows(template.frame()) == sorted(want, key=repr)


def test_a_slot_takes_rows_a_spark_job_computes_up_to_a_limit(spark) -> None:
    session = small_session(spark)
    slot = Slot(session, SCHEMA)
    computed_df = spark.range(5).select(F.lit("s").alias("shop"), F.col("id").cast("double").alias("price"),
                                        F.col("id").alias("n"))
    assert slot.fill_at_most(computed_df, 5) == 5
    assert sorted_rows(slot.df) == [("s", float(i), i) for i in range(5)]
    assert slot.fill_at_most(computed_df, 4) is None
    assert slot.df.collect() == []  # a batch too large for the slot leaves nothing of the previous one


def test_a_slot_refuses_a_frame_of_another_shape(spark) -> None:
    slot = Slot(small_session(spark), SCHEMA)
    with pytest.raises(ValueError, match="cannot hold"):
        slot.fill(spark.range(3))
