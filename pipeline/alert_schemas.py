"""Explicit schemas of the alert tables (field names equal the CQL columns of conf/cassandra/schema.cql)."""
from __future__ import annotations

from pyspark.sql import types as T

_S, _D, _L, _I, _B, _TS = T.StringType(), T.DoubleType(), T.LongType(), T.IntegerType(), T.BooleanType(), \
    T.TimestampType()


def _struct(*fields: tuple[str, T.DataType]) -> T.StructType:
    return T.StructType([T.StructField(name, kind) for name, kind in fields])


_CRITERIA = (
    ("category", _S), ("max_price", _D), ("min_discount", _D), ("min_verified_discount", _D),
    ("near_lat", _D), ("near_lon", _D), ("near_radius_km", _D), ("keywords", T.ArrayType(_S)),
    ("delivery", _S), ("max_per_day", _I), ("quiet_start_hour", _I), ("quiet_end_hour", _I),
)
INTERESTS_BY_KEY_SCHEMA = _struct(("index_key", _S), ("user_id", _L), ("interest_id", _S), *_CRITERIA)
ALERT_STATE_BY_DEAL_SCHEMA = _struct(("deal_id", _L), ("interest_id", _S), ("last_price", _D),
                                     ("last_updated_at", _TS))
ALERTS_BY_INTEREST_DAY_SCHEMA = _struct(("interest_id", _S), ("day", _S), ("alert_at", _TS), ("alert_id", _S),
                                        ("is_candidate", _B), ("delivery", _S))
ALERTS_BY_USER_SCHEMA = _struct(
    ("user_id", _L), ("deliver_at", _TS), ("alert_id", _S), ("interest_id", _S), ("deal_id", _L),
    ("deal_updated_at", _TS), ("alert_at", _TS), ("kind", _S), ("reason", _S), ("delivery", _S), ("digest_id", _S),
    ("title", _S), ("price", _D), ("previous_price", _D), ("discount_pct", _D), ("category_slug", _S),
    ("merchant_name", _S), ("distance_km", _D),
)
#: The score of one deal version, as the matcher reads it from deal_score_versions.
VERSION_SCORE_SCHEMA = _struct(("deal_id", _L), ("updated_at", _TS), ("verified_discount_pct", _D))
