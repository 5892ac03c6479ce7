"""The shopper-readable sentence of a deal score, e.g. "The merchant claims $200.00; 4 other
sellers offer it for $92.00–$105.00; the real discount is 9%, not 55%."."""
from __future__ import annotations

from pyspark.sql import Column
from pyspark.sql import functions as F

from pipeline import score_rules as sr
from pipeline.column_cache import reused


def pct_text(fraction: Column) -> Column:
    """0.0912 -> '9%' (half up, as the API rounds)."""
    return F.format_string("%d%%", F.round(fraction * 100, 0).cast("int"))


def _money(amount: Column) -> Column:
    return F.format_string("$%.2f", amount)


def _evidence() -> Column:
    kind = F.col("reference_kind")
    spread = (F.col("market_sellers"), F.col("market_low"), F.col("market_high"))
    return (
        F.when(kind == sr.PRIOR_30_DAY_LOW,
               F.concat(F.lit("its lowest price in the prior 30 days was "), _money(F.col("prior_low_30d"))))
        .when(kind == sr.STREET_PRICE, F.format_string("%d other sellers offer it for $%.2f–$%.2f", *spread))
        .when(kind == sr.AREA_COMPARABLE, F.format_string("%d comparable offers nearby cost $%.2f–$%.2f", *spread))
        .otherwise(F.lit("there is no price history or other seller to check it against"))
    )


def _conclusion() -> Column:
    verified, advertised = pct_text(F.col("verified_discount_pct")), pct_text(F.col("advertised_discount_pct"))
    return (
        F.when(F.col("reference_kind") == sr.CLAIMED_VALUE, F.concat(F.lit("the "), advertised,
                                                                     F.lit(" discount is unverified.")))
        .when(F.col("is_genuine") & (verified == advertised),
              F.concat(F.lit("the "), verified, F.lit(" discount is genuine.")))
        .when(F.col("is_genuine"), F.concat(F.lit("the real discount is "), verified, F.lit(" (advertised "),
                                            advertised, F.lit("), close enough to be genuine.")))
        .otherwise(F.concat(F.lit("the real discount is "), verified, F.lit(", not "), advertised, F.lit(".")))
    )


@reused
def explanation() -> Column:
    """Claim; evidence; conclusion — from the score columns of `deal_scores`."""
    return F.concat(F.lit("The merchant claims "), _money(F.col("value")), F.lit("; "), _evidence(),
                    F.lit("; "), _conclusion())
