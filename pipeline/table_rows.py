"""Pure transforms from one-row-per-deal frames to the shape of each Cassandra query table.

The same rules shape the incoming versions and the stored `deal_versions`, so the rows a changed
deal leaves behind in a sorted table (its stale sort keys) are a plain anti-join.
"""
from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from pipeline import schemas
from pipeline.column_cache import reused, select_expressions
from pipeline.records import select_schema


def explode_listing_categories(deals_df: DataFrame) -> DataFrame:
    """One row per category a deal is listed under: its own slug and, if different, its parent."""
    return deals_df.withColumn("listing_category", _listing_categories())


@reused
def _listing_categories() -> Column:
    return F.explode(F.array_distinct(F.array("category_slug", "parent_category")))


def to_deals_by_id_rows(deals_df: DataFrame) -> DataFrame:
    return select_schema(deals_df, schemas.DEALS_BY_ID_SCHEMA)


@dataclass(frozen=True)
class SortedTable:
    """A query table whose primary key moves when a deal changes (price, discount, category...)."""

    name: str
    schema: T.StructType
    keys: tuple[str, ...]
    is_listed_by_category: bool = False  # one row per listing category (own slug and parent)
    only_if: str | None = None  # a boolean column: rows only for deals where it holds


def _shape_for(deals_df: DataFrame, table: SortedTable) -> DataFrame:
    """The deal rows a table holds, before projection: exploded by category, filtered."""
    if table.is_listed_by_category:
        listed_df = explode_listing_categories(deals_df).drop("category_slug")
        deals_df = listed_df.withColumnRenamed("listing_category", "category_slug")
    return deals_df.filter(F.col(table.only_if)) if table.only_if else deals_df


def to_sorted_table_rows(deals_df: DataFrame, table: SortedTable) -> DataFrame:
    return select_schema(_shape_for(deals_df, table), table.schema)


def to_sorted_table_keys(deal_versions_df: DataFrame, table: SortedTable) -> DataFrame:
    """Only the primary keys: needs only the DEAL_VERSIONS_SCHEMA columns, not the whole deal."""
    key_fields = T.StructType([f for f in table.schema.fields if f.name in table.keys])
    return select_schema(_shape_for(deal_versions_df, table), key_fields)


SORTED_DEAL_TABLES = (
    SortedTable("deals_by_category_discount", schemas.DEALS_BY_CATEGORY_DISCOUNT_SCHEMA,
                ("category_slug", "discount_pct", "deal_id"), is_listed_by_category=True),
    SortedTable("deals_by_category_price", schemas.DEALS_BY_CATEGORY_PRICE_SCHEMA,
                ("category_slug", "price", "deal_id"), is_listed_by_category=True),
    SortedTable("online_deals_by_category", schemas.ONLINE_DEALS_BY_CATEGORY_SCHEMA,
                ("parent_category", "discount_pct", "deal_id"), only_if="online"),
    SortedTable("deals_by_geocell", schemas.DEALS_BY_GEOCELL_SCHEMA, ("geocell", "deal_id"), only_if="has_geocell"),
    SortedTable("deals_by_merchant", schemas.DEALS_BY_MERCHANT_SCHEMA, ("merchant_id", "deal_id"),
                only_if="has_merchant"),
)


def with_sort_flags(deals_df: DataFrame) -> DataFrame:
    """The conditions `only_if` names, as columns (so deals and stored versions share them)."""
    return deals_df.withColumns(dict(_sort_flags()))


@reused
def _sort_flags() -> tuple[tuple[str, Column], ...]:
    return (("has_geocell", F.col("geocell").isNotNull()), ("has_merchant", F.col("merchant_id").isNotNull()))


def to_deal_versions_rows(deals_df: DataFrame) -> DataFrame:
    return select_schema(deals_df, schemas.DEAL_VERSIONS_SCHEMA)


def to_merchants_by_category_rows(merchant_deals_df: DataFrame) -> DataFrame:
    """Rank merchants per listing category by the deals they sold (unknown number_sold counts 0)."""
    totals_df = (
        explode_listing_categories(merchant_deals_df)
        .groupBy("listing_category", "merchant_id")
        .agg(
            F.sum(F.coalesce("number_sold", F.lit(0))).alias("deals_sold"),
            F.count("deal_id").alias("deal_count"),
            F.max("merchant_name").alias("merchant_name"),
        )
    )
    return select_schema(totals_df.withColumnRenamed("listing_category", "category_slug"),
                          schemas.MERCHANTS_BY_CATEGORY_SCHEMA)


def to_merchant_rank_keys_rows(ranking_df: DataFrame) -> DataFrame:
    return select_schema(ranking_df, schemas.MERCHANT_RANK_KEYS_SCHEMA)


def stale_keys(old_rows_df: DataFrame, new_rows_df: DataFrame, keys: tuple[str, ...]) -> DataFrame:
    """Primary keys present in the old rows but not among the new rows: to be deleted.

    The new keys are broadcast: they come from one micro-batch (or the deals of one recompute that
    replaced stored ones), and a shuffle join costs more than the rows it compares.
    """
    return old_rows_df.select(*keys).join(F.broadcast(new_rows_df.select(*keys)), on=list(keys), how="left_anti")


#: Every key column of the sorted tables with its type, so their keys stack into one frame.
SORT_KEY_TYPES = {
    "category_slug": "string", "parent_category": "string", "geocell": "string",
    "discount_pct": "double", "price": "double", "deal_id": "long", "merchant_id": "long",
}


def union_keyed_rows(keys_by_table: dict[str, DataFrame]) -> DataFrame:
    """Stack key frames of different shapes as (table, every key column) rows, for one collect."""
    frames = [
        keys_df.select(
            F.lit(table).alias("table"),
            *[(F.col(c) if c in keys_df.columns else F.lit(None)).cast(t).alias(c) for c, t in SORT_KEY_TYPES.items()],
        )
        for table, keys_df in keys_by_table.items()
    ]
    stacked_df = frames[0]
    for frame in frames[1:]:
        stacked_df = stacked_df.unionByName(frame)
    return stacked_df


def filter_newer_than_stored(latest_df: DataFrame, stored_df: DataFrame) -> DataFrame:
    """Drop incoming versions older than what is stored: a late replay never overwrites newer data.

    Adds `is_replacing`: the deal is already stored, so a field that became null must be cleared.
    """
    stored_times_df = stored_df.select("deal_id", F.col("updated_at").alias("stored_updated_at"))
    joined_df = latest_df.join(stored_times_df, on="deal_id", how="left")
    is_new = F.col("stored_updated_at").isNull()
    is_newer = F.col("updated_at") >= F.col("stored_updated_at")
    return (
        joined_df.filter(is_new | is_newer)
        .withColumn("is_replacing", ~is_new)
        .drop("stored_updated_at")
    )


#: Timestamps as CQL's `INSERT ... JSON` reads them back as the same instant (the session is UTC); a
#: null field is left out, so the statement's DEFAULT (UNSET or NULL) decides what it does.
CQL_JSON_OPTIONS = {"timestampFormat": "yyyy-MM-dd'T'HH:mm:ss.SSSZ", "ignoreNullFields": "true"}


def to_json_rows(rows_df: DataFrame, kind: str, table: str) -> DataFrame:
    """Rows of any table shape as (kind, table, json): frames of different shapes stacked for one collect.

    One SQL select (one call to the JVM, see `records.select_schema`); kind and table are code constants.
    """
    # double-quoted SQL strings: the timestamp format holds single quotes
    options = ", ".join(f'"{key}", "{value}"' for key, value in CQL_JSON_OPTIONS.items())
    return select_expressions(rows_df, (f"'{kind}' AS kind", f"'{table}' AS table",
                                        f"to_json(struct(*), map({options})) AS json"))
