"""Explicit schemas of the review tables (issue 18); field names equal the CQL column names."""
from __future__ import annotations

from pyspark.sql import types as T

_S, _D, _L, _I, _TS, _B = T.StringType(), T.DoubleType(), T.LongType(), T.IntegerType(), T.TimestampType(), \
    T.BooleanType()
_STARS = T.ArrayType(T.IntegerType())


def _fields(*specs: tuple[str, T.DataType]) -> T.StructType:
    return T.StructType([T.StructField(name, dtype) for name, dtype in specs])


#: Every purchase of a deal by a user: what "verified" is checked against.
PURCHASES_BY_DEAL_SCHEMA = _fields(("deal_id", _L), ("user_id", _L), ("occurred_at", _TS))

_REVIEW = (("occurred_at", _TS), ("event_id", _S), ("rating", _I), ("review_text", _S), ("user_name", _S),
           ("verified", _B))

#: The latest review of each user of a deal (the one that counts), judged verified or not.
REVIEWS_BY_DEAL_SCHEMA = _fields(
    ("deal_id", _L), ("user_id", _L), *_REVIEW, ("deal_title", _S), ("category_slug", _S),
    ("parent_category", _S), ("merchant_id", _L), ("merchant_name", _S),
)
REVIEW_FEED_BY_DEAL_SCHEMA = _fields(("deal_id", _L), ("occurred_at", _TS), ("user_id", _L), *_REVIEW[1:])
REVIEW_FEED_BY_MERCHANT_SCHEMA = _fields(
    ("merchant_id", _L), ("occurred_at", _TS), ("deal_id", _L), ("user_id", _L), *_REVIEW[1:], ("deal_title", _S),
)

#: What every rating row holds: verified reviews, their stars summed, the mean, stars 1..5 counted
#: (index 0 = 1 star), and the unverified reviews left out.
_RATING = (("reviews", _I), ("stars", _L), ("mean", _D), ("distribution", _STARS), ("unverified_reviews", _I))
RATING_FIELDS = tuple(name for name, _ in _RATING)

RATINGS_BY_DEAL_SCHEMA = _fields(
    ("deal_id", _L), ("category_slug", _S), ("parent_category", _S), ("merchant_id", _L), ("merchant_name", _S),
    *_RATING,
)
DEAL_RATINGS_BY_CATEGORY_SCHEMA = _fields(
    ("category_slug", _S), ("deal_id", _L), ("deal_category", _S), ("merchant_id", _L), ("merchant_name", _S),
    *_RATING,
)
DEAL_RATINGS_BY_MERCHANT_SCHEMA = _fields(("merchant_id", _L), ("deal_id", _L), ("merchant_name", _S), *_RATING)
RATINGS_BY_MERCHANT_SCHEMA = _fields(("merchant_id", _L), ("merchant_name", _S), ("rated_deals", _I), *_RATING)
MERCHANT_RATINGS_BY_CATEGORY_SCHEMA = _fields(
    ("category_slug", _S), ("merchant_id", _L), ("merchant_name", _S), ("rated_deals", _I), *_RATING,
)
#: The prior of the adjusted ratings: every verified review of the category's deals.
RATING_PRIORS_BY_CATEGORY_SCHEMA = _fields(("category_slug", _S), ("reviews", _L), ("stars", _L), ("mean", _D))
