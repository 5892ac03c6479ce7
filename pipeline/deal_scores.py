"""Is this discount real? The deal score as pure DataFrame -> DataFrame transforms (no I/O).

For each deal version the reference price is the LOWEST of the prices it can be checked against:
  - PRIOR_30_DAY_LOW: the lowest price of this deal applied in the 30 days before this version
    (Omnibus) — evidence when the price moved in that window, or when the "sale" has run at no
    higher price for `perpetual_days` (then the sale price is the regular price);
  - STREET_PRICE: the median current price of the same item at >= `min_other_sellers` other sellers
    (online deals) — or AREA_COMPARABLE: the same for offers of the same category and area (local);
  - CLAIMED_VALUE: the merchant's own "value", used alone only when nothing else is known.
A discount is only real if it is real against every piece of evidence, hence the lowest; on a tie
the kind listed first wins (evidence before the claim). verified = max(0, (reference - price) /
reference); the verdict is genuine when the advertised discount exceeds it by at most
`verdict_tolerance`. Other sellers count once per merchant (their best price), with the last price
observed at or before this version, from the prior 30 days, of deals not expired by then — so the
score of a version depends only on what was known at its time, in streaming and batch alike.
Money is compared in whole cents: an even median of cents rounds half up.
"""
from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from pipeline import score_rules as sr
from pipeline.column_cache import reused
from pipeline.item_keys import is_street_key
from pipeline.records import select_schema
from pipeline.score_explain import explanation
from pipeline.score_schemas import DEAL_SCORE_SCHEMA

DAY_S = 86_400
_VERSION_KEY = ["deal_id", "updated_at"]


def distinct_versions(clean_df: DataFrame) -> DataFrame:
    """One row per (deal id, updated_at): a re-crawl of a version collapses to the later record."""
    later_first = Window.partitionBy(*_VERSION_KEY).orderBy(F.col("source_offset").desc())
    ranked_df = clean_df.withColumn("record_rank", F.row_number().over(later_first))
    return ranked_df.filter(F.col("record_rank") == 1).drop("record_rank")


def latest_scores(scores_df: DataFrame) -> DataFrame:
    """The score of each deal's newest version."""
    newest_first = Window.partitionBy("deal_id").orderBy(F.col("updated_at").desc())
    ranked_df = scores_df.withColumn("score_rank", F.row_number().over(newest_first))
    return ranked_df.filter(F.col("score_rank") == 1).drop("score_rank")


def _age_s(then: Column) -> Column:
    return F.col("updated_at").cast("long") - then.cast("long")


def own_history(versions_df: DataFrame, observations_df: DataFrame, rules: sr.ScoreRules) -> DataFrame:
    """Per version, what the deal's own earlier observations say (prior lows, last price, sales trend).

    The 30-day low is over the prices applied in the window: those observed in it and the one
    observed last before it, which was still in effect when the window opened."""
    obs_df = observations_df.select(
        F.col("deal_id"), F.col("observed_at"), F.col("price").alias("o_price"), F.col("number_sold").alias("o_sold"))
    joined_df = versions_df.select(*_VERSION_KEY).join(obs_df, on="deal_id").filter(
        F.col("observed_at") < F.col("updated_at"))
    aggregates, in_effect = _history_columns(rules)
    return joined_df.groupBy(*_VERSION_KEY).agg(*aggregates).withColumns(dict(in_effect))


@reused
def _history_columns(rules: sr.ScoreRules) -> tuple[tuple[Column, ...], tuple[tuple[str, Column], ...]]:
    """The aggregates of `own_history`, and the columns it adds after them."""
    age = _age_s(F.col("observed_at"))
    return (
        F.min(F.when(age <= sr.OMNIBUS_DAYS * DAY_S, F.col("o_price"))).alias("low_within_30d"),
        F.max(F.when(age <= sr.OMNIBUS_DAYS * DAY_S, F.col("o_price"))).alias("high_within_30d"),
        F.max(F.when(age > sr.OMNIBUS_DAYS * DAY_S, F.struct("observed_at", "o_price"))).alias("in_effect_30d_ago"),
        F.min(F.when(age <= sr.LOW_WINDOW_DAYS * DAY_S, F.col("o_price"))).alias("prior_low_90d"),
        F.min("o_price").alias("prior_low_all"),
        F.max(F.when(age <= rules.perpetual_days * DAY_S, F.col("o_price"))).alias("recent_high"),
        F.max(age).alias("first_seen_age_s"),
        F.max(F.struct("observed_at", "o_price")).getField("o_price").alias("previous_price"),
        F.min(F.when(age <= sr.SALES_TREND_DAYS * DAY_S, F.struct("observed_at", "o_sold"))).alias("trend_start"),
    ), (  # the price still in effect when the window opened was applied in it too (Art. 6a)
        ("prior_low_30d", F.least("low_within_30d", F.col("in_effect_30d_ago").getField("o_price"))),
        ("prior_high_30d", F.greatest("high_within_30d", F.col("in_effect_30d_ago").getField("o_price"))),
    )


def market_prices(versions_df: DataFrame, offers_df: DataFrame) -> DataFrame:
    """Per version with an item key: the sorted best prices (cents) of the other sellers of that item."""
    mine_df = versions_df.filter(F.col("item_key").isNotNull()).select(
        *_VERSION_KEY, "item_key", F.col("merchant_id").alias("v_merchant"))
    theirs_df = offers_df.select(
        "item_key", F.col("deal_id").alias("o_deal"), F.col("merchant_id").alias("o_merchant"),
        "observed_at", F.col("price").alias("o_price"), F.col("expires_at").alias("o_expires"))
    joined_df = mine_df.join(theirs_df, on="item_key").filter(
        (F.col("o_deal") != F.col("deal_id"))
        & F.coalesce(F.col("o_merchant") != F.col("v_merchant"), F.lit(True))
        & (F.col("observed_at") <= F.col("updated_at"))
        & (_age_s(F.col("observed_at")) <= sr.MARKET_FRESH_DAYS * DAY_S)
        & (F.col("o_expires").isNull() | (F.col("o_expires") > F.col("updated_at"))))
    last_first = Window.partitionBy(*_VERSION_KEY, "o_deal").orderBy(F.col("observed_at").desc())
    last_df = joined_df.withColumn("obs_rank", F.row_number().over(last_first)).filter(F.col("obs_rank") == 1)
    seller = F.coalesce(F.col("o_merchant"), -F.col("o_deal")).alias("seller")
    best_df = last_df.groupBy(*_VERSION_KEY, seller).agg(F.min("o_price").alias("best"))
    cents = F.round(F.col("best") * 100).cast("long")
    return best_df.groupBy(*_VERSION_KEY).agg(F.sort_array(F.collect_list(cents)).alias("market_cents"))


def _median_cents(cents: Column) -> Column:
    n = F.size(cents)
    lower, upper = F.element_at(cents, F.floor(n / 2).cast("int")), F.element_at(cents, F.floor(n / 2).cast("int") + 1)
    return F.when(n % 2 == 1, upper).otherwise(F.floor((lower + upper + 1) / 2))


def _with_market(df: DataFrame, rules: sr.ScoreRules) -> DataFrame:
    return df.withColumns(dict(_market_columns(rules)))


@reused
def _market_columns(rules: sr.ScoreRules) -> tuple[tuple[str, Column], ...]:
    cents = F.col("market_cents")
    enough = F.coalesce(F.size(cents) >= rules.min_other_sellers, F.lit(False))
    return (
        ("market_price", F.when(enough, _median_cents(cents) / 100.0)),
        ("market_sellers", F.when(enough, F.size(cents))),
        ("market_low", F.when(enough, F.element_at(cents, 1) / 100.0)),
        ("market_high", F.when(enough, F.element_at(cents, -1) / 100.0)),
    )


def _with_reference(df: DataFrame, rules: sr.ScoreRules) -> DataFrame:
    reference, is_genuine = _reference_columns(rules)
    return df.withColumns(dict(reference)).withColumn("is_genuine", is_genuine)


@reused
def _reference_columns(rules: sr.ScoreRules) -> tuple[tuple[tuple[str, Column], ...], Column]:
    """The reference price and what follows from it, and the verdict (over those columns)."""
    market_kind = F.when(is_street_key(F.col("item_key")), F.lit(sr.STREET_PRICE)).otherwise(F.lit(sr.AREA_COMPARABLE))
    price = F.col("price")
    # the own history is evidence when the price moved in the window, or a "sale" never ended
    moved = (F.col("prior_low_30d") < price) | (F.col("prior_high_30d") > price) | _is_perpetual(rules)
    own = F.when(moved, F.col("prior_low_30d"))
    ref = F.least("value", own, "market_price")
    kind = (F.when(own == ref, F.lit(sr.PRIOR_30_DAY_LOW))
            .when(F.col("market_price") == ref, market_kind).otherwise(F.lit(sr.CLAIMED_VALUE)))
    verified = F.when(ref > 0, F.round(F.greatest(F.lit(0.0), (ref - price) / ref), 4)).otherwise(F.lit(0.0))
    reference = (
        ("reference_price", ref), ("reference_kind", kind), ("verified_discount_pct", verified),
        ("verified_saving", F.round(F.greatest(F.lit(0.0), ref - price), 2)),
        ("advertised_discount_pct", F.col("discount_pct")),
    )
    gap = F.round(F.col("advertised_discount_pct") - F.col("verified_discount_pct"), 4)
    return reference, gap <= rules.verdict_tolerance


def _is_perpetual(rules: sr.ScoreRules) -> Column:
    """On "sale" for `perpetual_days` and never at a higher price in that time."""
    return ((F.col("first_seen_age_s") >= rules.perpetual_days * DAY_S) & (F.col("recent_high") <= F.col("price"))
            & (F.col("discount_pct") > rules.verdict_tolerance))


@reused
def _flags(rules: sr.ScoreRules) -> Column:
    price, updated = F.col("price"), F.col("updated_at")
    expires = F.col("expires_at")
    trend_from = F.col("trend_start").getField("observed_at")
    trend_days = _age_s(trend_from) / DAY_S
    sold_per_day = (F.col("number_sold") - F.col("trend_start").getField("o_sold")) / trend_days
    conditions = {
        sr.INFLATED_VALUE: F.col("value") > F.col("market_price") * rules.inflation_ratio,
        sr.RAISED_BEFORE_DISCOUNT: (price < F.col("previous_price")) & (price >= F.col("prior_low_30d")),
        sr.PERPETUAL_SALE: _is_perpetual(rules),
        sr.NEW_HISTORIC_LOW: price < F.col("prior_low_all"),
        sr.LOWEST_IN_90_DAYS: price <= F.col("prior_low_90d"),
        sr.ENDS_SOON: (expires > updated) & (_age_s(expires) >= -rules.ends_soon_hours * 3600),
        sr.LIKELY_TO_SELL_OUT: (trend_days >= 1 / 24) & (sold_per_day >= rules.sell_out_units_per_day),
    }
    return F.array_compact(F.array(*[F.when(conditions[name], F.lit(name)) for name in sr.FLAGS]))


def score_deal_versions(versions_df: DataFrame, observations_df: DataFrame, offers_df: DataFrame,
                        rules: sr.ScoreRules) -> DataFrame:
    """Score every version in `versions_df` (clean deal rows with `item_key`).

    Args:
        versions_df: one row per deal version to score.
        observations_df: every known (deal_id, observed_at, price, number_sold) of those deals.
        offers_df: every known (item_key, deal_id, merchant_id, observed_at, price, expires_at).
    """
    scored_df = (
        versions_df.join(own_history(versions_df, observations_df, rules), on=_VERSION_KEY, how="left")
        .join(market_prices(versions_df, offers_df), on=_VERSION_KEY, how="left")
        .transform(lambda df: _with_market(df, rules))
        .transform(lambda df: _with_reference(df, rules))
    )
    flagged_df = scored_df.withColumn("flags", _flags(rules))
    return select_schema(flagged_df.withColumn("explanation", explanation()), DEAL_SCORE_SCHEMA)

