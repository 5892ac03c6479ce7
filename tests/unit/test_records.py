"""Record helpers shared by the deal and activity transforms."""
from __future__ import annotations

from pyspark.sql import functions as F

from pipeline.records import lookup
from pipeline.taxonomy import CATEGORY_NAMES

AWKWARD = {"it's": "quote", "back\\slash": "a \\ b", "über": "ünïcode", "%_": "100% 'off'", "": "empty"}


def test_lookup_is_a_python_dict_lookup(spark):
    """Every key, awkward text included, finds its value; a missing key gives null."""
    mapping = {**dict(CATEGORY_NAMES), **AWKWARD}
    keys = [*mapping, "no such key"]
    df = spark.createDataFrame([(k,) for k in keys], "key string")
    looked_up = df.select("key", lookup(mapping, F.col("key")).alias("value"))
    got = {row["key"]: row["value"] for row in looked_up.collect()}
    assert got == {key: mapping.get(key) for key in keys}


def test_lookup_of_numbers_and_of_a_null_key(spark):
    weights = {"view": 1.0, "click": 2.5, "purchase": 10}
    df = spark.createDataFrame([("view",), ("click",), ("purchase",), ("other",), (None,)], "key string")
    got = [row["value"] for row in df.select(lookup(weights, F.col("key")).cast("double").alias("value")).collect()]
    assert got == [1.0, 2.5, 10.0, None, None]
