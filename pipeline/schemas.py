"""Explicit schemas at every boundary: the raw record, the deal payload, and each Cassandra table.

Field names of the table schemas equal the CQL column names in conf/cassandra/schema.cql.
"""
from __future__ import annotations

from pyspark.sql import types as T

#: A record as it leaves Kafka (value cast to string) and as the lake archive stores it, so that
#: streaming and batch feed the same transforms the same frame.
RAW_RECORD_SCHEMA = T.StructType([
    T.StructField("key", T.StringType()),
    T.StructField("value", T.StringType()),
    T.StructField("topic", T.StringType()),
    T.StructField("partition", T.IntegerType()),
    T.StructField("offset", T.LongType()),
    T.StructField("timestamp", T.TimestampType()),
])

#: Name of the field that from_json fills with the raw text of a record it could not parse.
CORRUPT_RECORD = "_corrupt_record"

MERCHANT_SCHEMA = T.StructType([
    T.StructField("id", T.StringType()),
    T.StructField("name", T.StringType()),
    T.StructField("address", T.StringType()),
    T.StructField("locality", T.StringType()),
    T.StructField("region", T.StringType()),
    T.StructField("postal_code", T.StringType()),
    T.StructField("country", T.StringType()),
    T.StructField("country_code", T.StringType()),
    T.StructField("latitude", T.StringType()),
    T.StructField("longitude", T.StringType()),
    T.StructField("phone_number", T.StringType()),
    T.StructField("url", T.StringType()),
])

#: The Sqoot v2 deal object (sqoot_api.md §5.4) as it is parsed off the wire. Numbers and times
#: are read as text and typed by the transforms, so a malformed one becomes a dead letter with a
#: reason naming the field (instead of a silent null), and one JSON parse serves both validation
#: and cleaning. `_corrupt_record` holds the text of a payload that is not a JSON object.
DEAL_PAYLOAD_SCHEMA = T.StructType([
    T.StructField("id", T.StringType()),
    T.StructField("title", T.StringType()),
    T.StructField("short_title", T.StringType()),
    T.StructField("description", T.StringType()),
    T.StructField("fine_print", T.StringType()),
    T.StructField("number_sold", T.StringType()),
    T.StructField("url", T.StringType()),
    T.StructField("untracked_url", T.StringType()),
    T.StructField("price", T.StringType()),
    T.StructField("value", T.StringType()),
    T.StructField("discount_amount", T.StringType()),
    T.StructField("discount_percentage", T.StringType()),
    T.StructField("provider_name", T.StringType()),
    T.StructField("provider_slug", T.StringType()),
    T.StructField("category_name", T.StringType()),
    T.StructField("category_slug", T.StringType()),
    T.StructField("image_url", T.StringType()),
    T.StructField("online", T.BooleanType()),
    T.StructField("expires_at", T.StringType()),
    T.StructField("created_at", T.StringType()),
    T.StructField("updated_at", T.StringType()),
    T.StructField("merchant", MERCHANT_SCHEMA),
    T.StructField(CORRUPT_RECORD, T.StringType()),
])


def _fields(*specs: tuple[str, T.DataType]) -> T.StructType:
    return T.StructType([T.StructField(name, dtype) for name, dtype in specs])


_S, _D, _L, _I = T.StringType(), T.DoubleType(), T.LongType(), T.IntegerType()
_B, _TS = T.BooleanType(), T.TimestampType()

DEALS_BY_ID_SCHEMA = _fields(
    ("deal_id", _L), ("title", _S), ("short_title", _S), ("description", _S), ("fine_print", _S),
    ("number_sold", _I), ("url", _S), ("untracked_url", _S), ("image_url", _S),
    ("price", _D), ("value", _D), ("discount_amount", _D), ("discount_pct", _D),
    ("advertised_discount_pct", _D), ("is_discount_consistent", _B),
    ("provider_name", _S), ("provider_slug", _S),
    ("category_slug", _S), ("category_name", _S), ("parent_category", _S),
    ("online", _B), ("expires_at", _TS), ("created_at", _TS), ("updated_at", _TS),
    ("merchant_id", _L), ("merchant_name", _S), ("merchant_address", _S), ("merchant_locality", _S),
    ("merchant_region", _S), ("merchant_postal_code", _S), ("merchant_country", _S),
    ("merchant_phone", _S), ("merchant_url", _S),
    ("latitude", _D), ("longitude", _D), ("geohash", _S), ("geocell", _S),
)

DEALS_BY_CATEGORY_DISCOUNT_SCHEMA = _fields(
    ("category_slug", _S), ("discount_pct", _D), ("deal_id", _L), ("price", _D), ("value", _D),
    ("title", _S), ("short_title", _S), ("merchant_name", _S), ("image_url", _S), ("online", _B),
    ("expires_at", _TS), ("merchant_locality", _S),
)

DEALS_BY_CATEGORY_PRICE_SCHEMA = _fields(
    ("category_slug", _S), ("price", _D), ("deal_id", _L), ("discount_pct", _D), ("value", _D),
    ("title", _S), ("short_title", _S), ("merchant_name", _S), ("image_url", _S), ("online", _B),
    ("expires_at", _TS), ("merchant_locality", _S),
)

ONLINE_DEALS_BY_CATEGORY_SCHEMA = _fields(
    ("parent_category", _S), ("discount_pct", _D), ("deal_id", _L), ("category_slug", _S),
    ("price", _D), ("value", _D), ("title", _S), ("short_title", _S), ("merchant_name", _S),
    ("image_url", _S), ("expires_at", _TS),
)

DEALS_BY_GEOCELL_SCHEMA = _fields(
    ("geocell", _S), ("deal_id", _L), ("latitude", _D), ("longitude", _D), ("geohash", _S),
    ("category_slug", _S), ("price", _D), ("value", _D), ("discount_pct", _D), ("title", _S),
    ("short_title", _S), ("merchant_name", _S), ("image_url", _S), ("expires_at", _TS),
)

PRICE_HISTORY_BY_DEAL_SCHEMA = _fields(
    ("deal_id", _L), ("observed_at", _TS), ("price", _D), ("value", _D), ("discount_pct", _D),
)

DEALS_BY_MERCHANT_SCHEMA = _fields(
    ("merchant_id", _L), ("deal_id", _L), ("merchant_name", _S), ("category_slug", _S),
    ("parent_category", _S), ("number_sold", _I), ("updated_at", _TS),
)

MERCHANTS_BY_CATEGORY_SCHEMA = _fields(
    ("category_slug", _S), ("deals_sold", _L), ("merchant_id", _L), ("merchant_name", _S), ("deal_count", _I),
)

MERCHANT_RANK_KEYS_SCHEMA = _fields(("merchant_id", _L), ("category_slug", _S), ("deals_sold", _L))
#: The merchants a deals batch touched (their ranking rows are recomputed).
MERCHANT_ID_SCHEMA = _fields(("merchant_id", _L))

DEAL_VERSIONS_SCHEMA = _fields(
    ("deal_id", _L), ("updated_at", _TS), ("category_slug", _S), ("parent_category", _S), ("discount_pct", _D),
    ("price", _D), ("online", _B), ("geocell", _S), ("merchant_id", _L),
)

DEAD_LETTERS_BY_DAY_SCHEMA = _fields(
    ("day", _S), ("received_at", _TS), ("dead_letter_id", _S), ("reason", _S), ("raw_payload", _S), ("source", _S),
)
