"""Explicit schemas of user activity: the `user_events` JSON payload and each activity table.

Field names of the table schemas equal the CQL column names in conf/cassandra/schema.cql.
"""
from __future__ import annotations

from pyspark.sql import types as T

from pipeline.schemas import CORRUPT_RECORD

#: One interaction as the activity simulator (or a real client) sends it. Numbers and times are
#: read as text and typed by the transforms, so a malformed one becomes a dead letter whose reason
#: names the field instead of a silent null.
USER_EVENT_PAYLOAD_SCHEMA = T.StructType([
    T.StructField(name, T.StringType())
    for name in (
        "event_id", "event_type", "occurred_at", "user_id", "user_name", "user_city", "lat", "lon",
        "deal_id", "deal_title", "category_slug", "merchant_id", "merchant_name", "price", "quantity",
        "rating", "review_text", CORRUPT_RECORD,
    )
])


def _fields(*specs: tuple[str, T.DataType]) -> T.StructType:
    return T.StructType([T.StructField(name, dtype) for name, dtype in specs])


_S, _D, _L, _I, _TS = T.StringType(), T.DoubleType(), T.LongType(), T.IntegerType(), T.TimestampType()

#: A valid, typed event: the input of every activity table builder.
ACTIVITY_EVENT_SCHEMA = _fields(
    ("event_id", _S), ("event_type", _S), ("occurred_at", _TS), ("received_at", _TS),
    ("user_id", _L), ("user_name", _S), ("user_city", _S), ("latitude", _D), ("longitude", _D),
    ("deal_id", _L), ("deal_title", _S), ("category_slug", _S), ("parent_category", _S),
    ("merchant_id", _L), ("merchant_name", _S), ("price", _D), ("quantity", _I), ("rating", _I),
    ("review_text", _S),
)

#: One group of the windowed aggregation: which metric, which bucket, which key, and the sums.
ACTIVITY_WINDOW_SCHEMA = _fields(
    ("hour", _TS), ("metric", _S), ("bucket_seconds", _I), ("bucket_start", _TS), ("key", _S), ("key2", _S),
    ("views", _L), ("clicks", _L), ("purchases", _L), ("reviews", _L), ("units", _L), ("revenue", _D),
    ("users", _I), ("merchant_name", _S), ("stars", _L),
)

TRENDING_CATEGORIES_BY_BUCKET_SCHEMA = _fields(
    ("bucket_seconds", _I), ("bucket_start", _TS), ("category_slug", _S), ("parent_category", _S),
    ("views", _L), ("clicks", _L), ("purchases", _L), ("reviews", _L), ("score", _L),
)

SALES_BY_SECOND_SCHEMA = _fields(
    ("minute", _TS), ("second", _TS), ("purchases", _L), ("units", _L), ("revenue", _D),
)

PURCHASES_BY_MINUTE_SCHEMA = _fields(
    ("minute", _TS), ("occurred_at", _TS), ("event_id", _S), ("user_id", _L), ("user_name", _S),
    ("user_city", _S), ("deal_id", _L), ("deal_title", _S), ("category_slug", _S), ("merchant_id", _L),
    ("merchant_name", _S), ("quantity", _I), ("price", _D), ("amount", _D),
)

PURCHASES_BY_USER_SCHEMA = _fields(
    ("user_id", _L), ("month", _S), ("occurred_at", _TS), ("event_id", _S), ("deal_id", _L), ("deal_title", _S),
    ("category_slug", _S), ("merchant_id", _L), ("merchant_name", _S), ("quantity", _I), ("price", _D),
    ("amount", _D),
)

ACTIVITY_BY_CELL_SCHEMA = _fields(
    ("precision", _I), ("region", _S), ("hour", _TS), ("cell", _S), ("users", _I), ("events", _L),
    ("purchases", _L),
)

MERCHANT_SALES_BY_CATEGORY_SCHEMA = _fields(
    ("category_slug", _S), ("day", _S), ("merchant_id", _L), ("hour", _TS), ("merchant_name", _S),
    ("purchases", _L), ("units", _L), ("revenue", _D),
)

LATE_EVENTS_BY_DAY_SCHEMA = _fields(
    ("day", _S), ("received_at", _TS), ("event_id", _S), ("occurred_at", _TS), ("lateness_s", _D),
    ("event_type", _S), ("category_slug", _S), ("user_id", _L),
)

#: Average stars of the reviews in a map cell and hour (issue 18), over the same anonymity floor.
RATINGS_BY_CELL_SCHEMA = _fields(
    ("precision", _I), ("region", _S), ("hour", _TS), ("cell", _S), ("users", _I), ("reviews", _L),
    ("stars", _L), ("average_rating", _D),
)
