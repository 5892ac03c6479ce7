"""Which deals offer the same item: a key from the normalised title, the market it is sold in.

Online deals share a key when their normalised titles match (street price across sellers); local
deals when the normalised title, the category and the area (a geohash-3 cell, ~156 km) match
(comparable offers nearby). A title is matchable only when it names a model or a measured service
(a letter next to a digit, as in "X200" or "60-Minute"): "Massage" or "Smart Watch" alone are too
generic to be the same offer.
"""
from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

#: Geohash precision of the area local comparables must share.
AREA_PRECISION = 3
#: What a title says about price and discount, not about the item (removed, in this order).
_NOISE_PATTERNS = (
    r"\(\s*\$?[0-9.,]+\s+value\s*\)",  # "($200 Value)"
    r"\$[0-9.,]+\s+for\s+(an?\s+)?(\$[0-9.,]+\s+worth\s+of\s+)?",  # "$92 for a", "$25 for $50 Worth of"
    r"(up\s+to\s+)?[0-9]+%\s+off(\s+at)?",  # "Up to 60% Off", "73% off at"
    r"\s+at\s+.*$",  # "... at <merchant>"
)
_IDENTIFYING = r"[a-z]-?[0-9]|[0-9]-?[a-z]"


def normalised_title(title: Column) -> Column:
    """Lower-case title without prices, discounts and merchant; hyphens kept inside words."""
    text = F.lower(title)
    for pattern in _NOISE_PATTERNS:
        text = F.regexp_replace(text, pattern, " ")
    text = F.regexp_replace(text, r"[^a-z0-9-]+", " ")
    return F.trim(F.regexp_replace(text, r"\s+", " "))


def with_item_key(deals_df: DataFrame) -> DataFrame:
    """Adds `item_key` (null when the title identifies no item or a local deal has no place)."""
    name = normalised_title(F.col("title"))
    area = F.substring(F.col("geohash"), 1, AREA_PRECISION)
    local = F.concat_ws("|", F.concat(F.lit("area:"), area), F.col("category_slug"), name)
    key = F.when(F.col("online"), F.concat(F.lit("online|"), name)).when(F.col("geohash").isNotNull(), local)
    return deals_df.withColumn("item_key", F.when(name.rlike(_IDENTIFYING), key))


def is_street_key(item_key: Column) -> Column:
    """Online items have a street price; local ones have comparable offers in their area."""
    return item_key.startswith("online|")
