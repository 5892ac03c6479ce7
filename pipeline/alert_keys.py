"""How interests are indexed for the matcher, in plain Python (the API writes by it, Spark joins by it).

An interest with a place is filed under the geohash-4 cells its circle covers ('g:<cell>'); one
without a place under its category ('c:<slug>'). A deal is looked up under its own cell, its
category and its parent category, so a micro-batch reads only the interests its deals can match:
never a cross join of every interest with every deal.
"""
from __future__ import annotations

from pipeline.cells import cells_covering

CELL_PREFIX = "g:"
CATEGORY_PREFIX = "c:"
DELIVERIES = ("INSTANT", "HOURLY", "DAILY")
#: Alert kinds: the first match of a deal, or a further price drop after an alert (Keepa's re-arm rule).
NEW_MATCH, PRICE_DROP = "NEW_MATCH", "PRICE_DROP"


def interest_index_keys(category: str | None, near: tuple[float, float, float] | None) -> list[str]:
    """The index keys of an interest: its circle's cells when it has one, else its category."""
    if near is not None:
        lat, lon, radius_km = near
        return [CELL_PREFIX + cell for cell in cells_covering(lat, lon, radius_km)]
    if category is None:
        raise ValueError("an interest needs a category or a place to be indexed")
    return [CATEGORY_PREFIX + category]
