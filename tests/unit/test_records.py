"""Record helpers shared by the deal and activity transforms."""
from __future__ import annotations

from pyspark.sql import functions as F

from pipeline.records import literal_map
from pipeline.taxonomy import CATEGORY_NAMES

AWKWARD = {"it's": "quote", "back\\slash": "a \\ b", "über": "ünïcode", "%_": "100% 'off'", "": "empty"}


def test_literal_map_looks_up_like_a_python_dict(spark):
    """Every key, awkward text included, finds its value; a missing key gives null."""
    mapping = {**dict(CATEGORY_NAMES), **AWKWARD}
    keys = [*mapping, "no such key"]
    df = spark.createDataFrame([(k,) for k in keys], "key string")
    looked_up = df.select("key", literal_map(mapping)[F.col("key")].alias("value"))
    got = {row["key"]: row["value"] for row in looked_up.collect()}
    assert got == {key: mapping.get(key) for key in keys}
