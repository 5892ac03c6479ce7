"""Pure DataFrame -> DataFrame transforms of interest matching, for the alerts stream.

Flow: valid deal records --alert_versions--> one row per deal version (the shared `clean_deals`, plus
      when it first arrived) --with_index_keys--> one row per index key --match_interests (equi-join on
      the key with the interests filed under it, then every criterion)--> candidate (interest, deal
      version) pairs --fired_alerts (the re-arm rule against the stored state)--> alerts.
Every join, window and dedup sits between projections (`version_records`, `matching`, `verified`,
`newer_matches`, `alerts_of`): a small batch runs those steps over rows on the driver
(`pipeline.alert_steps`) and only the projections in Spark, which computes them there without a job.
No I/O, no session access: safe in foreachBatch and in tests alike. The column expressions are built
once per JVM (`column_cache.reused`), not once per micro-batch.
"""
from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from pipeline import deal_transforms as dt
from pipeline.alert_keys import CATEGORY_PREFIX, CELL_PREFIX, NEW_MATCH, PRICE_DROP
from pipeline.column_cache import reused
from pipeline.geo import haversine_km

PAIR = ["interest_id", "deal_id"]
#: The order of a pair's versions, in which each is compared with the ones before it.
PAIR_ORDER = ("updated_at", "source_offset")


#: The columns of a deal version the matcher uses: its criteria, its index keys, the alert's rows, and
#: the record that dates it.
VERSION_COLUMNS = ("deal_id", "updated_at", "source_offset", "received_at", "title", "merchant_name",
                   "category_slug", "parent_category", "price", "discount_pct", "latitude", "longitude",
                   "expires_at", "geocell")


def version_records(valid_df: DataFrame) -> DataFrame:
    """One row per valid record with the columns the matcher uses (a projection: over a few rows held
    on the driver Spark computes it there, without a job)."""
    return dt.clean_deals(valid_df, "received_at").select(*VERSION_COLUMNS)


def alert_versions(valid_df: DataFrame) -> DataFrame:
    """One row per deal version (deal id, updated_at) with `received_at`, the version's first record.

    The first record, not the later one: a re-crawl of a version must not move when the alert is
    dated, so the alert is the same whether both records fall in one micro-batch or in two.
    """
    # Records of one deal share a Kafka partition (keyed by deal id): (deal id, offset) is unique.
    first = Window.partitionBy("deal_id", "updated_at").orderBy(F.col("source_offset").asc())
    return (version_records(valid_df).withColumn("record_rank", F.row_number().over(first))
            .filter(F.col("record_rank") == 1).drop("record_rank"))


def with_index_keys(versions_df: DataFrame) -> DataFrame:
    """One row per index key a version is looked up under: its cell, its category, its parent."""
    return versions_df.withColumn("index_key", F.explode(index_keys()))


@reused
def index_keys() -> Column:
    """The index keys a version is looked up under, as an array (a projection: over a few rows held
    on the driver Spark computes it there, without a job; see `pipeline.plan_templates`)."""
    keys = F.array(
        F.when(F.col("geocell").isNotNull(), F.concat(F.lit(CELL_PREFIX), F.col("geocell"))),
        F.concat(F.lit(CATEGORY_PREFIX), F.col("category_slug")),
        F.when(F.col("parent_category") != F.col("category_slug"),
               F.concat(F.lit(CATEGORY_PREFIX), F.col("parent_category"))),
    )
    return F.filter(keys, lambda key: key.isNotNull())


def _criteria(distance: Column) -> Column:
    """Every criterion of the joined interest holds for the joined deal version (an absent one holds)."""
    text = F.lower(F.concat_ws(" ", F.col("title"), F.col("merchant_name")))
    keywords = F.coalesce(F.col("keywords"), F.array().cast("array<string>"))
    return (
        (F.col("category").isNull() | (F.col("category_slug") == F.col("category"))
         | (F.col("parent_category") == F.col("category")))
        & (F.col("max_price").isNull() | (F.col("price") <= F.col("max_price")))
        & (F.col("min_discount").isNull() | (F.col("discount_pct") >= F.col("min_discount")))
        & (F.col("near_lat").isNull() | (F.col("latitude").isNotNull() & (distance <= F.col("near_radius_km"))))
        & F.forall(keywords, lambda word: text.contains(word))
        # an expired deal raises nothing, whatever else it matches
        & (F.col("expires_at").isNull() | (F.col("expires_at") > F.col("updated_at")))
    )


def match_interests(versions_df: DataFrame, interests_df: DataFrame) -> DataFrame:
    """Candidate pairs: an equi-join on the index key, then every criterion but the verified discount."""
    joined_df = with_index_keys(versions_df).join(interests_df, on="index_key")
    return matching(joined_df).drop("index_key").dropDuplicates([*PAIR, "updated_at"])


def matching(joined_df: DataFrame) -> DataFrame:
    """The (version, interest) rows whose every criterion holds, with `distance_km` (a projection)."""
    criteria, distance_km = _match_columns()
    return joined_df.filter(criteria).withColumn("distance_km", distance_km)


@reused
def _match_columns() -> tuple[Column, Column]:
    """Every criterion (`_criteria`), and the distance to the interest's place (null without one)."""
    distance = haversine_km(F.col("latitude"), F.col("longitude"), F.col("near_lat"), F.col("near_lon"))
    return _criteria(distance), F.when(F.col("near_lat").isNotNull(), F.round(distance, 2))


def with_verified_discount(candidates_df: DataFrame, scores_df: DataFrame) -> DataFrame:
    """Apply `minVerifiedDiscount` with the score of each version (null when it has none: no match)."""
    return verified(candidates_df.join(scores_df, on=["deal_id", "updated_at"], how="left"))


def verified(scored_df: DataFrame) -> DataFrame:
    """The candidates (with `verified_discount_pct`) whose interest's `minVerifiedDiscount` holds."""
    return scored_df.filter(F.col("min_verified_discount").isNull()
                            | (F.col("verified_discount_pct") >= F.col("min_verified_discount")))


def fired_alerts(matched_df: DataFrame, state_df: DataFrame) -> DataFrame:
    """The matches that raise an alert: the first of a pair, or a price below the last alerted one.

    Versions of a pair are taken in `updated_at` order; the last alerted price is the lowest of the
    stored one and every earlier match (each alert lowers it), so the result does not depend on how
    versions are split into micro-batches, and a replayed batch finds its own alerts in the state.
    """
    joined_df = matched_df.join(state_df.select(*PAIR, "last_price", "last_updated_at"), on=PAIR, how="left")
    earlier = Window.partitionBy(*PAIR).orderBy(*PAIR_ORDER).rowsBetween(Window.unboundedPreceding, -1)
    return alerts_of(newer_matches(joined_df).withColumn("earlier_price", F.min("price").over(earlier)))


def newer_matches(with_state_df: DataFrame) -> DataFrame:
    """The matches newer than the stored state of their pair (`last_updated_at`; a projection)."""
    return with_state_df.filter(F.col("last_updated_at").isNull() | (F.col("updated_at") > F.col("last_updated_at")))


def alerts_of(newer_df: DataFrame) -> DataFrame:
    """The newer matches that alert (a projection), given `earlier_price`: the lowest price of the pair's
    newer matches before each one (`PAIR_ORDER`), null for the first."""
    previous, is_lower, kind = _rearm_columns()
    alerted_df = newer_df.withColumn("previous_price", previous).filter(is_lower).drop("earlier_price")
    # the alert is dated by when the platform received the version: fixed by the record, so replays agree
    return alerted_df.withColumns({"kind": kind, "alert_id": alert_id(), "reason": alert_reason(),
                                   "alert_at": F.col("received_at")})


@reused
def _rearm_columns() -> tuple[Column, Column, Column]:
    """The last alerted price; a price below it; the alert's kind."""
    previous = F.least(F.col("last_price"), F.col("earlier_price"))
    is_lower = F.col("previous_price").isNull() | (F.col("price") < F.col("previous_price"))
    kind = F.when(F.col("previous_price").isNull(), F.lit(NEW_MATCH)).otherwise(F.lit(PRICE_DROP))
    return previous, is_lower, kind


@reused
def alert_id() -> Column:
    """Deterministic: the same user, interest, deal and version always give the same id."""
    parts = F.concat_ws("|", F.col("user_id"), F.col("interest_id"), F.col("deal_id"), F.unix_micros("updated_at"))
    return F.substring(F.sha2(parts, 256), 1, 32)


def _money(col: Column) -> Column:
    return F.concat(F.lit("$"), F.format_number(col, 2))


def _percent(col: Column) -> Column:
    return F.concat(F.format_number(col * 100, 0), F.lit("%"))


@reused
def alert_reason() -> Column:
    """Why the alert fired, one clause per criterion the interest sets, e.g.
    'in restaurants; $12.00 within your max $20.00; 60% off (at least 50%); 3.1 km from your place'."""
    return F.concat_ws("; ",
        F.when(F.col("previous_price").isNotNull(), F.concat(
            F.lit("price dropped from "), _money(F.col("previous_price")), F.lit(" to "), _money(F.col("price")))),
        F.when(F.col("category").isNotNull(), F.concat(F.lit("in "), F.col("category_slug"))),
        F.when(F.col("max_price").isNotNull(), F.concat(
            _money(F.col("price")), F.lit(" within your max "), _money(F.col("max_price")))),
        F.when(F.col("min_discount").isNotNull(), F.concat(
            _percent(F.col("discount_pct")), F.lit(" off (at least "), _percent(F.col("min_discount")), F.lit(")"))),
        F.when(F.col("min_verified_discount").isNotNull(), F.concat(
            _percent(F.col("verified_discount_pct")), F.lit(" verified discount (at least "),
            _percent(F.col("min_verified_discount")), F.lit(")"))),
        F.when(F.col("near_lat").isNotNull(), F.concat(
            F.format_number(F.col("distance_km"), 1), F.lit(" km from your place (within "),
            F.format_number(F.col("near_radius_km"), 1), F.lit(" km)"))),
        F.when(F.size(F.coalesce(F.col("keywords"), F.array())) > 0,
               F.concat(F.lit("mentions "), F.array_join(F.col("keywords"), ", "))),
    )

