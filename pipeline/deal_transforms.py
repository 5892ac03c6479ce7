"""Pure DataFrame -> DataFrame transforms of deal records, shared by streaming and batch.

Flow: raw records --parse_deal_records--> parsed --filter_valid_deals--> --clean_deals--> clean deals
                                                 \\--to_dead_letter_rows--> dead letters
clean deals --latest_deal_versions--> one row per deal id --to_<table>_rows--> table-shaped frames
No I/O, no session access, no logging: every function here is safe in foreachBatch and batch alike.
"""
from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from pipeline.column_cache import reused
from pipeline.definitions import DISCOUNT_TOLERANCE
from pipeline.geo import DEAL_GEOHASH_PRECISION, GEOCELL_PRECISION, geohash_prefix, with_geohash
from pipeline.records import (
    Rule,
    blank_to_null,
    decimal,
    envelope_rules,
    field_rules,
    first_reason,
    integer,
    lookup,
    parse_records,
)
from pipeline.schemas import DEAL_PAYLOAD_SCHEMA
from pipeline.taxonomy import CATEGORY_NAMES, PARENT_OF

#: Fields a deal cannot be served without; a record missing one is a dead letter.
REQUIRED_FIELDS = ("id", "title", "price", "value", "category_slug", "updated_at")
#: Fields that must hold a JSON number (or numeric text) when present, and their Spark type.
DECIMAL_FIELDS = ("price", "value", "discount_percentage")
INTEGER_FIELDS = ("id", "number_sold")
TIMESTAMP_FORMATS = ("yyyy-MM-dd'T'HH:mm:ss'Z'", "yyyy-MM-dd'T'HH:mm:ss", "yyyy-MM-dd'T'HH:mm:ss.SSS'Z'")
#: Decoded in this order, `&amp;` last, so "&amp;lt;" becomes the text "&lt;" and not "<".
HTML_ENTITIES = (("&nbsp;", " "), ("&lt;", "<"), ("&gt;", ">"), ("&quot;", '"'), ("&#39;", "'"), ("&amp;", "&"))


def _timestamp(col: Column) -> Column:
    return F.coalesce(*[F.to_timestamp(col, fmt) for fmt in TIMESTAMP_FORMATS])


def _deal_field(name: str) -> Column:
    return F.col("deal").getField(name)


def _merchant_field(name: str) -> Column:
    return F.col("deal").getField("merchant").getField(name)


def parse_deal_records(raw_df: DataFrame) -> DataFrame:
    """Parse each record's JSON value once with the explicit payload schema; keep the raw payload."""
    return parse_records(raw_df, DEAL_PAYLOAD_SCHEMA, "deal")


@reused
def _rejection_reason() -> Column:
    """The first rule a parsed record breaks, as a readable reason; null for a valid record (built once
    per JVM: `column_cache`)."""
    rules: list[Rule] = [
        *envelope_rules("deal"),
        *field_rules(_deal_field, integers=INTEGER_FIELDS, decimals=DECIMAL_FIELDS, required=REQUIRED_FIELDS),
    ]
    price, value = decimal(_deal_field("price")), decimal(_deal_field("value"))
    pct = decimal(_deal_field("discount_percentage"))
    lat, lon = decimal(_merchant_field("latitude")), decimal(_merchant_field("longitude"))
    slug = F.lower(F.trim(_deal_field("category_slug")))
    is_bad_lat = lat.isNotNull() & ((lat < -90) | (lat > 90))
    is_bad_lon = lon.isNotNull() & ((lon < -180) | (lon > 180))
    is_bad_pct = pct.isNotNull() & ((pct < 0) | (pct > 1))
    rules += [
        (_timestamp(_deal_field("updated_at")).isNull(), F.lit("field 'updated_at' is not an ISO-8601 time")),
        (price < 0, F.concat(F.lit("negative price "), price.cast("string"))),
        (value < price, F.concat(F.lit("value "), value.cast("string"), F.lit(" below price "), price.cast("string"))),
        (is_bad_pct, F.concat(F.lit("discount_percentage not a fraction in [0, 1]: "), pct.cast("string"))),
        (lookup(PARENT_OF, slug).isNull(), F.concat(F.lit("unknown category '"), slug, F.lit("'"))),
        (is_bad_lat | is_bad_lon, F.lit("merchant coordinates out of range")),
    ]
    return first_reason(rules)


def with_rejection_reason(parsed_df: DataFrame) -> DataFrame:
    return parsed_df.withColumn("rejection_reason", _rejection_reason())


def filter_valid_deals(judged_df: DataFrame) -> DataFrame:
    """Records without a rejection reason (adds the reason first if it is not there yet)."""
    if "rejection_reason" not in judged_df.columns:
        judged_df = with_rejection_reason(judged_df)
    return judged_df.filter(F.col("rejection_reason").isNull())


def to_dead_letter_rows(judged_df: DataFrame) -> DataFrame:
    """Rejected records with the reason and the untouched raw payload, by UTC day received."""
    if "rejection_reason" not in judged_df.columns:
        judged_df = with_rejection_reason(judged_df)
    rejected_df = judged_df.filter(F.col("rejection_reason").isNotNull())
    return rejected_df.select(
        F.date_format("received_at", "yyyy-MM-dd").alias("day"),
        F.col("received_at"),
        F.col("record_id").alias("dead_letter_id"),
        F.col("rejection_reason").alias("reason"),
        F.col("raw_payload"),
        F.col("topic").alias("source"),
    )


def _plain_text(col: Column) -> Column:
    """HTML to plain text: tags dropped, common entities decoded, whitespace collapsed, '' -> null."""
    text = F.when(col.contains("<"), F.regexp_replace(col, r"<[^>]*>", " ")).otherwise(col)
    decoded = text
    for entity, char in HTML_ENTITIES:
        decoded = F.regexp_replace(decoded, entity, char)
    # Most texts have no entity at all: skip the six passes for them.
    text = F.when(text.contains("&"), decoded).otherwise(text)
    text = F.trim(F.regexp_replace(text, r"\s+", " "))
    return F.when(text != "", text)


def _coordinate(col: Column, *, is_online: Column) -> Column:
    # Online merchants have no place; providers also send 0.0 for "unknown".
    return F.when(~is_online & col.isNotNull() & (col != 0.0), col)


def clean_deals(valid_df: DataFrame, *passed: str) -> DataFrame:
    """One clean row per valid record: plain text, canonical category, recomputed savings, geohash;
    with the record's columns `passed` as they are (the alerts stream keeps `received_at`)."""
    return valid_df.select(*_clean_deal_columns(), *passed).transform(with_geohash_cells)


@reused
def _clean_deal_columns() -> tuple[Column, ...]:
    """The columns of `clean_deals` (built once per JVM: about 500 calls to it; `column_cache`)."""
    d = F.col("deal")
    slug = F.lower(F.trim(d.getField("category_slug")))
    price, value = F.round(decimal(d.getField("price")), 2), F.round(decimal(d.getField("value")), 2)
    is_online = F.coalesce(d.getField("online"), F.lit(False))
    lat = _coordinate(decimal(_merchant_field("latitude")), is_online=is_online)
    lon = _coordinate(decimal(_merchant_field("longitude")), is_online=is_online)
    discount_pct = F.when(value > 0, F.round((value - price) / value, 4)).otherwise(F.lit(0.0))
    advertised = decimal(d.getField("discount_percentage"))
    return (
        integer(d.getField("id")).alias("deal_id"),
        F.trim(d.getField("title")).alias("title"),
        blank_to_null(d.getField("short_title")).alias("short_title"),
        _plain_text(d.getField("description")).alias("description"),
        _plain_text(d.getField("fine_print")).alias("fine_print"),
        integer(d.getField("number_sold"), "int").alias("number_sold"),
        blank_to_null(d.getField("url")).alias("url"),
        blank_to_null(d.getField("untracked_url")).alias("untracked_url"),
        blank_to_null(d.getField("image_url")).alias("image_url"),
        price.alias("price"), value.alias("value"),
        F.round(value - price, 2).alias("discount_amount"),
        discount_pct.alias("discount_pct"),
        advertised.alias("advertised_discount_pct"),
        (F.abs(advertised - discount_pct) <= DISCOUNT_TOLERANCE).alias("is_discount_consistent"),
        blank_to_null(d.getField("provider_name")).alias("provider_name"),
        blank_to_null(d.getField("provider_slug")).alias("provider_slug"),
        slug.alias("category_slug"),
        lookup(CATEGORY_NAMES, slug).alias("category_name"),
        lookup(PARENT_OF, slug).alias("parent_category"),
        is_online.alias("online"),
        _timestamp(d.getField("expires_at")).alias("expires_at"),
        _timestamp(d.getField("created_at")).alias("created_at"),
        _timestamp(d.getField("updated_at")).alias("updated_at"),
        integer(_merchant_field("id")).alias("merchant_id"),
        blank_to_null(_merchant_field("name")).alias("merchant_name"),
        blank_to_null(_merchant_field("address")).alias("merchant_address"),
        blank_to_null(_merchant_field("locality")).alias("merchant_locality"),
        blank_to_null(_merchant_field("region")).alias("merchant_region"),
        blank_to_null(_merchant_field("postal_code")).alias("merchant_postal_code"),
        blank_to_null(_merchant_field("country")).alias("merchant_country"),
        blank_to_null(_merchant_field("phone_number")).alias("merchant_phone"),
        blank_to_null(_merchant_field("url")).alias("merchant_url"),
        lat.alias("latitude"), lon.alias("longitude"),
        F.col("offset").alias("source_offset"),
    )


def clean_deal_records(raw_df: DataFrame) -> DataFrame:
    """Raw records to clean deal rows, the malformed ones left out (the deal sink dead-letters them)."""
    return raw_df.transform(parse_deal_records).transform(filter_valid_deals).transform(clean_deals)


def with_geohash_cells(deals_df: DataFrame) -> DataFrame:
    """The deal's geohash (precision 7) and its map cell (precision 4), null for online deals."""
    hashed_df = with_geohash(deals_df, lat_col="latitude", lon_col="longitude", out_col="geohash",
                             precision=DEAL_GEOHASH_PRECISION)
    return hashed_df.withColumn("geocell", geohash_prefix(F.col("geohash"), GEOCELL_PRECISION))


def latest_deal_versions(clean_df: DataFrame) -> DataFrame:
    """Keep one row per deal id: the newest `updated_at`, ties broken by the later record."""
    newest_first = Window.partitionBy("deal_id").orderBy(F.col("updated_at").desc(), F.col("source_offset").desc())
    return (
        clean_df.withColumn("version_rank", F.row_number().over(newest_first))
        .filter(F.col("version_rank") == 1)
        .drop("version_rank")
    )


def to_price_history_rows(clean_df: DataFrame) -> DataFrame:
    """Every observed (price, value) of every deal version, keyed by the version's updated_at.

    Two records of one version (a re-crawl) collapse to the later record, as in the deal tables.
    """
    later_first = Window.partitionBy("deal_id", "updated_at").orderBy(F.col("source_offset").desc())
    return (
        clean_df.withColumn("record_rank", F.row_number().over(later_first))
        .filter(F.col("record_rank") == 1)
        .select("deal_id", F.col("updated_at").alias("observed_at"), "price", "value", "discount_pct")
    )
