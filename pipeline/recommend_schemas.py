"""Explicit schemas of the recommender: what it trains on, what it ranks, what it writes.

Field names of the table schemas equal the CQL column names in conf/cassandra/schema.cql.
"""
from __future__ import annotations

from pyspark.sql import types as T


def _fields(*specs: tuple[str, T.DataType]) -> T.StructType:
    return T.StructType([T.StructField(name, dtype) for name, dtype in specs])


_S, _D, _L, _I, _TS, _B = T.StringType(), T.DoubleType(), T.LongType(), T.IntegerType(), T.TimestampType(), \
    T.BooleanType()

#: One (user, deal) pair of the training history: summed confidence, its time-decayed twin, and
#: what the user did (the reason "because you bought …" names the strongest pair of a category).
INTERACTION_SCHEMA = _fields(
    ("user_id", _L), ("deal_id", _L), ("strength", _D), ("recent_strength", _D), ("events", _L),
    ("bought", _B), ("last_at", _TS), ("deal_title", _S), ("category_slug", _S),
)

#: Where a user lives: the place their newest located event was sent from, and its area (geohash-3).
USER_HOME_SCHEMA = _fields(("user_id", _L), ("latitude", _D), ("longitude", _D), ("area", _S))

#: A live deal that may be recommended (online deals have no place and no area).
CANDIDATE_DEAL_SCHEMA = _fields(
    ("deal_id", _L), ("title", _S), ("category_slug", _S), ("merchant_id", _L), ("merchant_name", _S),
    ("price", _D), ("latitude", _D), ("longitude", _D), ("area", _S),
)

#: What a recommender's `score` returns: a bounded set of scored candidates per user.
SCORED_SCHEMA = _fields(("user_id", _L), ("deal_id", _L), ("score", _D), ("reason", _S))

RECOMMENDATIONS_BY_USER_SCHEMA = _fields(
    ("user_id", _L), ("trained_at", _TS), ("rank", _I), ("deal_id", _L), ("score", _D), ("reason", _S),
    ("title", _S), ("category_slug", _S), ("merchant_id", _L), ("merchant_name", _S), ("price", _D),
    ("home_latitude", _D), ("home_longitude", _D),
)

POPULAR_DEALS_BY_AREA_SCHEMA = _fields(
    ("area", _S), ("trained_at", _TS), ("rank", _I), ("deal_id", _L), ("score", _D), ("title", _S),
    ("category_slug", _S), ("merchant_id", _L), ("merchant_name", _S), ("price", _D), ("latitude", _D),
    ("longitude", _D),
)
