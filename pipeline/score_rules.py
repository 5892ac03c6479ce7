"""What the deal score is judged by: reference kinds, flags and thresholds. No Spark import.

The pipeline writes by these and the API and the bench read by them, so they live in one place.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

#: Reference kinds, in the order that wins a tie (evidence before the merchant's own claim).
PRIOR_30_DAY_LOW = "PRIOR_30_DAY_LOW"
STREET_PRICE = "STREET_PRICE"
AREA_COMPARABLE = "AREA_COMPARABLE"
CLAIMED_VALUE = "CLAIMED_VALUE"
REFERENCE_KINDS = (PRIOR_30_DAY_LOW, STREET_PRICE, AREA_COMPARABLE, CLAIMED_VALUE)

#: Flags, in the order a score lists them.
INFLATED_VALUE = "INFLATED_VALUE"
RAISED_BEFORE_DISCOUNT = "RAISED_BEFORE_DISCOUNT"
PERPETUAL_SALE = "PERPETUAL_SALE"
NEW_HISTORIC_LOW = "NEW_HISTORIC_LOW"
LOWEST_IN_90_DAYS = "LOWEST_IN_90_DAYS"
ENDS_SOON = "ENDS_SOON"
LIKELY_TO_SELL_OUT = "LIKELY_TO_SELL_OUT"
FLAGS = (INFLATED_VALUE, RAISED_BEFORE_DISCOUNT, PERPETUAL_SALE, NEW_HISTORIC_LOW, LOWEST_IN_90_DAYS,
         ENDS_SOON, LIKELY_TO_SELL_OUT)

#: Days of a deal's own history that define its prior price (EU Omnibus Directive, Art. 6a).
OMNIBUS_DAYS = 30
#: Days behind "lowest in 90 days" (Keepa's isLowest90, Wirecutter's baseline).
LOW_WINDOW_DAYS = 90
#: Days another seller's last observed price still counts towards a street price.
MARKET_FRESH_DAYS = 30
#: Days over which the number_sold trend is measured.
SALES_TREND_DAYS = 7


class ScoreSettings(Protocol):
    """The fields of `conf.settings.Settings` the score reads (a protocol: no upward import)."""

    score_min_other_sellers: int
    score_inflation_ratio: float
    score_verdict_tolerance: float
    score_perpetual_days: int
    score_ends_soon_hours: float
    score_sell_out_units_per_day: float


@dataclass(frozen=True)
class ScoreRules:
    """Thresholds of the score; defaults equal the settings' defaults."""

    min_other_sellers: int = 2  # a street price needs this many other sellers of the same item
    inflation_ratio: float = 1.25  # claimed value above this x the street price is inflated
    verdict_tolerance: float = 0.05  # advertised may exceed verified by this much and still be genuine
    perpetual_days: int = 30  # on sale at no higher price for this long: a perpetual sale
    ends_soon_hours: float = 48.0
    sell_out_units_per_day: float = 100.0

    @classmethod
    def from_settings(cls, settings: ScoreSettings) -> ScoreRules:
        return cls(
            min_other_sellers=settings.score_min_other_sellers, inflation_ratio=settings.score_inflation_ratio,
            verdict_tolerance=settings.score_verdict_tolerance, perpetual_days=settings.score_perpetual_days,
            ends_soon_hours=settings.score_ends_soon_hours,
            sell_out_units_per_day=settings.score_sell_out_units_per_day,
        )
