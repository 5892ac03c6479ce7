"""Definitions the pipeline writes by and the API reads by: one place, no Spark import.

What counts as a consistent advertised discount, which events exist and how they score a trend,
the bucket sizes of the trend windows, and the precisions of the activity map.
"""
from __future__ import annotations

#: Advertised and recomputed discount may differ by rounding to 2 decimals (sqoot_api.md §5.4).
DISCOUNT_TOLERANCE = 0.01

EVENT_TYPES = ("view", "click", "purchase", "review")
#: How much one interaction of each type says about a category trending.
SCORE_WEIGHTS = {"view": 1, "click": 3, "purchase": 10, "review": 2}

#: Trend window -> (bucket size in seconds, buckets summed): 10 x 1 s serve "last 10 s",
#: 6 x 10 s "last minute", 12 x 5 min "last hour".
TREND_WINDOWS = {"TEN_SECONDS": (1, 10), "ONE_MINUTE": (10, 6), "ONE_HOUR": (300, 12)}
#: Bucket sizes the pipeline counts trends in.
TREND_BUCKETS_S = tuple(size for size, _ in TREND_WINDOWS.values())
SALES_BUCKET_S = 1

#: Map cell precisions served (geohash 3 ~ 156 km, 4 ~ 39 km, 5 ~ 4.9 km) and the region prefix
#: that partitions them.
CELL_PRECISIONS = (3, 4, 5)
REGION_PRECISION = 2


def score_formula() -> str:
    """The trend score in words, e.g. 'views + 3 x clicks + 10 x purchases + 2 x reviews'."""
    terms = [f"{kind}s" if weight == 1 else f"{weight} x {kind}s" for kind, weight in SCORE_WEIGHTS.items()]
    return " + ".join(terms)

#: Recommendations (issue 13): how much one interaction of each type says about a user wanting a
#: deal — the confidence of implicit-feedback ALS and the weight of a popularity count. A purchase
#: says far more than a glance; a review follows a purchase, so it adds less on its own.
INTERACTION_CONFIDENCE = {"view": 1.0, "click": 4.0, "purchase": 10.0, "review": 5.0}
#: Geohash precision of a recommendation "area" (about 156 km x 156 km): popularity is counted per
#: area of the users' homes, and the anonymous fallback reads the area of a point and its neighbours.
AREA_PRECISION = 3
