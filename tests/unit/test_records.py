"""Record helpers shared by the deal and activity transforms."""
from __future__ import annotations

from datetime import datetime

import pytest
from pyspark.sql import functions as F

from pipeline.activity_transforms import parse_activity_records
from pipeline.deal_transforms import parse_deal_records
from pipeline.records import lookup
from pipeline.schemas import RAW_RECORD_SCHEMA
from pipeline.taxonomy import CATEGORY_NAMES
from tests.conftest import raw_records

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


@pytest.mark.parametrize("parse", [parse_deal_records, parse_activity_records], ids=["deals", "events"])
def test_a_parse_over_new_records_reuses_its_generated_code(spark, parse):
    """A micro-batch's parse is the same plan over new records: it compiles no new code, and each
    record is received when Kafka stamped it. (A fallback to current_timestamp() was a new literal
    in the generated code of every batch: one Janino compilation each time, counted by Spark.)"""
    compilations = spark._jvm.org.apache.spark.metrics.source.CodegenMetrics.METRIC_COMPILATION_TIME()

    def received(stamp: datetime, first_offset: int) -> list[datetime]:
        payloads = [{"id": first_offset + i} for i in range(20)]
        raw_df = spark.createDataFrame(raw_records(payloads, start_offset=first_offset, timestamp=stamp),
                                       RAW_RECORD_SCHEMA)
        return [row[0] for row in raw_df.transform(parse).select("received_at").collect()]

    assert received(datetime(2026, 12, 7, 8, 0), 0) == [datetime(2026, 12, 7, 8, 0)] * 20
    compiled_before = compilations.getCount()
    assert received(datetime(2026, 12, 7, 8, 1), 20) == [datetime(2026, 12, 7, 8, 1)] * 20
    assert compilations.getCount() == compiled_before
