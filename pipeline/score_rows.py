"""Pure transforms from scored deal versions to the shape of each score table (no I/O)."""
from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from pipeline import score_rules as sr
from pipeline import score_schemas as ss
from pipeline import table_rows as tr
from pipeline.records import select_schema

#: Score tables whose primary key moves when a score changes; stale keys are found like the deal tables'.
VERIFIED_DISCOUNT_TABLE = tr.SortedTable(
    "deals_by_category_verified_discount", ss.DEALS_BY_CATEGORY_VERIFIED_DISCOUNT_SCHEMA,
    ("category_slug", "verified_discount_pct", "deal_id"), is_listed_by_category=True)
VERIFIED_SAVING_TABLE = tr.SortedTable(
    "deals_by_category_verified_saving", ss.DEALS_BY_CATEGORY_VERIFIED_SAVING_SCHEMA,
    ("category_slug", "verified_saving", "deal_id"), is_listed_by_category=True)
SCORES_BY_MERCHANT_TABLE = tr.SortedTable(
    "deal_scores_by_merchant", ss.DEAL_SCORES_BY_MERCHANT_SCHEMA, ("merchant_id", "deal_id"),
    only_if="has_merchant")
SORTED_SCORE_TABLES = (VERIFIED_DISCOUNT_TABLE, VERIFIED_SAVING_TABLE, SCORES_BY_MERCHANT_TABLE)
#: Columns of a stored deal_scores_by_id row that locate the deal in the sorted score tables.
SCORE_KEY_COLUMNS = ("deal_id", "updated_at", "category_slug", "parent_category", "verified_discount_pct",
                     "verified_saving", "merchant_id")


def observations(versions_df: DataFrame, stored_versions_df: DataFrame) -> DataFrame:
    """Every known (deal_id, observed_at, price, number_sold, flags): stored versions and this batch's."""
    batch_df = versions_df.select("deal_id", F.col("updated_at").alias("observed_at"), "price", "number_sold")
    stored_df = stored_versions_df.select("deal_id", F.col("updated_at").alias("observed_at"), "price",
                                          "number_sold")
    return batch_df.unionByName(stored_df).dropDuplicates(["deal_id", "observed_at"])


def to_offer_rows(versions_df: DataFrame) -> DataFrame:
    priced_df = versions_df.filter(F.col("item_key").isNotNull()).withColumnRenamed("updated_at", "observed_at")
    return select_schema(priced_df, ss.OFFER_PRICES_BY_ITEM_SCHEMA)


def offers(versions_df: DataFrame, stored_offers_df: DataFrame) -> DataFrame:
    """Every known observation of the items of this batch: stored and this batch's."""
    return (to_offer_rows(versions_df).unionByName(stored_offers_df.select(*ss.OFFER_PRICES_BY_ITEM_SCHEMA.names))
            .dropDuplicates(["item_key", "deal_id", "observed_at"]))


def to_score_version_rows(scores_df: DataFrame, versions_df: DataFrame) -> DataFrame:
    sold_df = versions_df.select("deal_id", "updated_at", "number_sold")
    return select_schema(scores_df.join(sold_df, on=["deal_id", "updated_at"]), ss.DEAL_SCORE_VERSIONS_SCHEMA)


def inflation_incidents(scores_df: DataFrame, stored_versions_df: DataFrame) -> DataFrame:
    """Per deal: how many of its known versions claimed an inflated value."""
    flags_df = scores_df.select("deal_id", "updated_at", "flags").unionByName(
        stored_versions_df.select("deal_id", "updated_at", "flags")).dropDuplicates(["deal_id", "updated_at"])
    inflated = F.array_contains(F.col("flags"), sr.INFLATED_VALUE)
    return flags_df.groupBy("deal_id").agg(F.count(F.when(inflated, 1)).cast("int").alias("inflation_incidents"))


def latest_score_deals(latest_scores_df: DataFrame, versions_df: DataFrame, incidents_df: DataFrame) -> DataFrame:
    """The newest score of each deal beside its listing fields (what every per-deal table needs)."""
    listing_df = versions_df.drop("price", "value", "item_key", "advertised_discount_pct")
    return (latest_scores_df.join(listing_df, on=["deal_id", "updated_at"])
            .join(incidents_df, on="deal_id", how="left")
            .withColumn("has_merchant", F.col("merchant_id").isNotNull()))


def to_deal_scores_by_id_rows(deals_df: DataFrame) -> DataFrame:
    return select_schema(deals_df, ss.DEAL_SCORES_BY_ID_SCHEMA)


def to_merchant_honesty_rows(merchant_scores_df: DataFrame) -> DataFrame:
    """Per (listing category, merchant): scored deals, genuine and verified shares, inflation incidents."""
    verified = F.col("reference_kind") != sr.CLAIMED_VALUE
    totals_df = (
        tr.explode_listing_categories(merchant_scores_df)
        .groupBy("listing_category", "merchant_id")
        .agg(F.count("deal_id").alias("scored_deals"), F.count(F.when(verified, 1)).alias("verified_deals"),
             F.count(F.when(F.col("is_genuine"), 1)).alias("genuine_deals"),
             F.sum(F.coalesce("inflation_incidents", F.lit(0))).alias("inflation_incidents"),
             F.sum(F.coalesce("number_sold", F.lit(0))).alias("deals_sold"),
             F.max("merchant_name").alias("merchant_name"))
    )
    shares_df = totals_df.withColumns({
        "honest_share": F.round(F.col("genuine_deals") / F.col("scored_deals"), 4),
        "verified_share": F.round(F.col("verified_deals") / F.col("scored_deals"), 4),
    })
    return select_schema(shares_df.withColumnRenamed("listing_category", "category_slug"),
                         ss.MERCHANT_HONESTY_BY_CATEGORY_SCHEMA)


def emptied_honesty_rows(left_pairs_df: DataFrame, honesty_df: DataFrame) -> DataFrame:
    """Rows with scored_deals = 0 for (category, merchant) pairs a merchant no longer has deals in."""
    gone_df = left_pairs_df.join(honesty_df.select("category_slug", "merchant_id"),
                                 on=["category_slug", "merchant_id"], how="left_anti")
    zero = {name: F.lit(0) for name in ("scored_deals", "verified_deals", "genuine_deals", "inflation_incidents",
                                        "deals_sold")}
    zeroed_df = gone_df.withColumns({**zero, "honest_share": F.lit(0.0), "verified_share": F.lit(0.0),
                                     "merchant_name": F.lit(None).cast("string")})
    return select_schema(zeroed_df, ss.MERCHANT_HONESTY_BY_CATEGORY_SCHEMA)


def listing_pairs(score_keys_df: DataFrame) -> DataFrame:
    """(category_slug, merchant_id) pairs deals are listed under, from score keys."""
    exploded_df = tr.explode_listing_categories(score_keys_df.filter(F.col("merchant_id").isNotNull()))
    return exploded_df.select(F.col("listing_category").alias("category_slug"), "merchant_id").distinct()
