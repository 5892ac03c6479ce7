"""Explicit schemas of the deal score: the score frame and each score table of schema.cql."""
from __future__ import annotations

from pyspark.sql import types as T

_S, _D, _L, _I = T.StringType(), T.DoubleType(), T.LongType(), T.IntegerType()
_B, _TS, _FLAGS = T.BooleanType(), T.TimestampType(), T.ArrayType(T.StringType())


def _fields(*specs: tuple[str, T.DataType]) -> T.StructType:
    return T.StructType([T.StructField(name, dtype) for name, dtype in specs])


#: What `score_deal_versions` returns: one row per deal version.
DEAL_SCORE_SCHEMA = _fields(
    ("deal_id", _L), ("updated_at", _TS), ("price", _D), ("value", _D), ("advertised_discount_pct", _D),
    ("reference_price", _D), ("reference_kind", _S), ("verified_discount_pct", _D), ("verified_saving", _D),
    ("prior_low_30d", _D), ("market_price", _D), ("market_sellers", _I), ("market_low", _D), ("market_high", _D),
    ("flags", _FLAGS), ("is_genuine", _B), ("explanation", _S), ("item_key", _S),
)

#: The columns a score carries into every score table beside its keys.
_SCORE_COLUMNS = (
    ("reference_price", _D), ("reference_kind", _S), ("verified_discount_pct", _D), ("verified_saving", _D),
    ("advertised_discount_pct", _D), ("flags", _FLAGS), ("is_genuine", _B), ("explanation", _S),
)

DEAL_SCORE_VERSIONS_SCHEMA = _fields(
    ("deal_id", _L), ("updated_at", _TS), ("price", _D), ("value", _D), ("number_sold", _I), *_SCORE_COLUMNS,
)

DEAL_SCORES_BY_ID_SCHEMA = _fields(
    ("deal_id", _L), ("updated_at", _TS), *_SCORE_COLUMNS, ("prior_low_30d", _D), ("market_price", _D),
    ("market_sellers", _I), ("market_low", _D), ("market_high", _D), ("item_key", _S),
    ("category_slug", _S), ("parent_category", _S), ("merchant_id", _L),
)

OFFER_PRICES_BY_ITEM_SCHEMA = _fields(
    ("item_key", _S), ("deal_id", _L), ("observed_at", _TS), ("price", _D), ("value", _D), ("merchant_id", _L),
    ("merchant_name", _S), ("provider_name", _S), ("expires_at", _TS), ("title", _S),
)

_LISTING = (
    ("price", _D), ("value", _D), ("discount_pct", _D), ("title", _S), ("short_title", _S), ("merchant_name", _S),
    ("image_url", _S), ("online", _B), ("expires_at", _TS), ("merchant_locality", _S),
)

DEALS_BY_CATEGORY_VERIFIED_DISCOUNT_SCHEMA = _fields(
    ("category_slug", _S), ("verified_discount_pct", _D), ("deal_id", _L), *_LISTING,
    *[c for c in _SCORE_COLUMNS if c[0] != "verified_discount_pct"],
)

DEALS_BY_CATEGORY_VERIFIED_SAVING_SCHEMA = _fields(
    ("category_slug", _S), ("verified_saving", _D), ("deal_id", _L), *_LISTING,
    *[c for c in _SCORE_COLUMNS if c[0] != "verified_saving"],
)

DEAL_SCORES_BY_MERCHANT_SCHEMA = _fields(
    ("merchant_id", _L), ("deal_id", _L), ("merchant_name", _S), ("category_slug", _S), ("parent_category", _S),
    ("number_sold", _I), ("reference_kind", _S), ("is_genuine", _B), ("inflation_incidents", _I),
)

MERCHANT_HONESTY_BY_CATEGORY_SCHEMA = _fields(
    ("category_slug", _S), ("merchant_id", _L), ("merchant_name", _S), ("scored_deals", _I),
    ("verified_deals", _I), ("genuine_deals", _I), ("honest_share", _D), ("verified_share", _D),
    ("inflation_incidents", _I), ("deals_sold", _L),
)
