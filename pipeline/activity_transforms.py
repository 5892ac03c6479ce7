"""Pure DataFrame -> DataFrame transforms of user activity, shared by streaming and batch.

Flow: raw records --parse_activity_records--> --with_event_rejection_reason--> judged
      judged --to_dead_letter_rows (deal_transforms)--> dead letters
      judged --filter_valid_events--> --clean_events--> events (ACTIVITY_EVENT_SCHEMA)
      events --filter_late_events--> --to_late_event_rows--> late_events_by_day
      events --filter_on_time_events--> --with_event_watermark--> --aggregate_activity_windows--> windows
      windows --to_<table>_rows--> trending, sales per second, map cells, merchant sales
      events --to_purchases_by_<minute|user>_rows--> the purchase feed and histories

Lateness is decided per event from its own two times (received_at - occurred_at, the Kafka
timestamp being the receipt), not by Spark's watermark, whose drops depend on where micro-batch
boundaries fall: the batch layer replaying the same log then reaches the very same rows. Spark's
watermark (a margin beyond the allowed lateness) only bounds the aggregation state.
"""
from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from pipeline import activity_schemas as s
from pipeline import records
from pipeline.column_cache import reused
from pipeline.definitions import (
    CELL_PRECISIONS,
    EVENT_TYPES,
    REGION_PRECISION,
    SALES_BUCKET_S,
    SCORE_WEIGHTS,
    TREND_BUCKETS_S,
)
from pipeline.geo import geohash
from pipeline.taxonomy import PARENT_OF

REQUIRED_FIELDS = ("event_id", "event_type", "occurred_at", "user_id", "deal_id", "category_slug")
INTEGER_FIELDS = ("user_id", "deal_id", "merchant_id", "quantity", "rating")
DECIMAL_FIELDS = ("price", "lat", "lon")
HOUR_S = 3600
#: The state of every aggregate lives in its hour: dropped once the watermark passes the hour.
STATE_WINDOW = "1 hour"
MONEY = "decimal(18,2)"


#: Longest review text kept: a review is a few sentences, not a document.
MAX_REVIEW_TEXT = 500
#: Longest first name kept: a long "name" is more likely a message or an identifier than a name.
MAX_FIRST_NAME = 24


def _field(name: str) -> Column:
    return F.col("event").getField(name)


def public_name(name: Column) -> Column:
    """A buyer's name as the public feed may show it, "First L.", whatever form arrived: the first
    word (an e-mail address cut at its @) and the initial of the last word; nothing else is stored."""
    words = F.split(F.trim(name), r"\s+")
    first = F.substring(F.regexp_replace(words.getItem(0), "@.*$", ""), 1, MAX_FIRST_NAME)
    initial = F.upper(F.regexp_extract(F.element_at(words, -1), r"(\p{L})", 1))
    has_initial = (F.size(words) > 1) & (initial != "")
    reduced = F.when(has_initial, F.concat(first, F.lit(" "), initial, F.lit("."))).otherwise(first)
    return F.when(first != "", reduced)


def _bucket_start(ts: Column, seconds: int) -> Column:
    return F.timestamp_seconds(F.floor(ts.cast("double") / F.lit(seconds)) * F.lit(seconds))


def parse_activity_records(raw_df: DataFrame) -> DataFrame:
    """Parse each record's JSON once with the explicit payload schema; keep the raw payload."""
    return records.parse_records(raw_df, s.USER_EVENT_PAYLOAD_SCHEMA, "event")


def _meaning_rules(*, future_tolerance_s: float) -> list[records.Rule]:
    kind, slug = F.lower(F.trim(_field("event_type"))), F.lower(F.trim(_field("category_slug")))
    occurred = _field("occurred_at").cast("timestamp")
    quantity, rating = records.integer(_field("quantity")), records.integer(_field("rating"))
    price = records.decimal(_field("price"))
    lat, lon = records.decimal(_field("lat")), records.decimal(_field("lon"))
    is_purchase, is_review = kind == "purchase", kind == "review"
    is_bad_place = (F.abs(lat) > 90) | (F.abs(lon) > 180) | (lat.isNull() != lon.isNull())
    is_future = occurred > F.col("received_at") + F.expr(f"INTERVAL {future_tolerance_s} SECONDS")
    return [
        (occurred.isNull(), F.lit("field 'occurred_at' is not an ISO-8601 time")),
        (~kind.isin(*EVENT_TYPES), F.concat(F.lit("unknown event_type '"), kind, F.lit("'"))),
        (records.lookup(PARENT_OF, slug).isNull(), F.concat(F.lit("unknown category '"), slug, F.lit("'"))),
        (is_purchase & F.coalesce(quantity < 1, F.lit(True)), F.lit("a purchase needs a quantity of at least 1")),
        (is_purchase & F.coalesce(price < 0, F.lit(True)), F.lit("a purchase needs a price of at least 0")),
        (is_review & F.coalesce(~rating.between(1, 5), F.lit(True)), F.lit("a review needs a rating of 1-5 stars")),
        (F.coalesce(is_bad_place, F.lit(False)), F.lit("lat/lon missing one half or out of range")),
        (is_future, F.lit("occurred_at is later than the event was received")),
    ]


def with_event_rejection_reason(parsed_df: DataFrame, *, future_tolerance_s: float) -> DataFrame:
    """Add `rejection_reason`: the first rule a parsed record breaks, null for a valid event."""
    return parsed_df.withColumn("rejection_reason", _event_rejection_reason(future_tolerance_s))


@reused
def _event_rejection_reason(future_tolerance_s: float) -> Column:
    """Built once per JVM and tolerance (`column_cache`)."""
    rules = [*records.envelope_rules("event"),
             *records.field_rules(_field, integers=INTEGER_FIELDS, decimals=DECIMAL_FIELDS, required=REQUIRED_FIELDS),
             *_meaning_rules(future_tolerance_s=future_tolerance_s)]
    return records.first_reason(rules)


def filter_valid_events(judged_df: DataFrame) -> DataFrame:
    return judged_df.filter(F.col("rejection_reason").isNull())


def clean_events(valid_df: DataFrame) -> DataFrame:
    """One typed row per valid event (ACTIVITY_EVENT_SCHEMA)."""
    return valid_df.select(*_clean_event_columns())


@reused
def _clean_event_columns() -> tuple[Column, ...]:
    """The columns of `clean_events` (built once per JVM: `column_cache`)."""
    slug = F.lower(F.trim(_field("category_slug")))
    columns = {
        "event_id": F.trim(_field("event_id")), "event_type": F.lower(F.trim(_field("event_type"))),
        "occurred_at": _field("occurred_at").cast("timestamp"), "received_at": F.col("received_at"),
        "user_id": records.integer(_field("user_id")),
        "user_name": public_name(records.blank_to_null(_field("user_name"))),  # "First L.", whatever arrived
        "user_city": records.blank_to_null(_field("user_city")),
        "latitude": records.decimal(_field("lat")), "longitude": records.decimal(_field("lon")),
        "deal_id": records.integer(_field("deal_id")), "deal_title": records.blank_to_null(_field("deal_title")),
        "category_slug": slug, "parent_category": records.lookup(PARENT_OF, slug),
        "merchant_id": records.integer(_field("merchant_id")),
        "merchant_name": records.blank_to_null(_field("merchant_name")),
        "price": F.round(records.decimal(_field("price")), 2), "quantity": records.integer(_field("quantity"), "int"),
        "rating": records.integer(_field("rating"), "int"),
        "review_text": F.substring(records.blank_to_null(_field("review_text")), 1, MAX_REVIEW_TEXT),
    }
    return tuple(columns[f.name].cast(f.dataType).alias(f.name) for f in s.ACTIVITY_EVENT_SCHEMA)


def _lateness_s(events_df: DataFrame) -> Column:
    return F.col("received_at").cast("double") - F.col("occurred_at").cast("double")


def filter_on_time_events(events_df: DataFrame, *, allowed_lateness_s: float) -> DataFrame:
    return events_df.filter(_lateness_s(events_df) <= F.lit(allowed_lateness_s))


def filter_late_events(events_df: DataFrame, *, allowed_lateness_s: float) -> DataFrame:
    return events_df.filter(_lateness_s(events_df) > F.lit(allowed_lateness_s))


def to_late_event_rows(late_df: DataFrame) -> DataFrame:
    rows_df = late_df.select(
        F.date_format("received_at", "yyyy-MM-dd").alias("day"), "received_at", "event_id", "occurred_at",
        F.round(_lateness_s(late_df), 3).alias("lateness_s"), "event_type", "category_slug", "user_id",
    )
    return records.select_schema(rows_df, s.LATE_EVENTS_BY_DAY_SCHEMA)


def with_event_watermark(events_df: DataFrame, *, delay_s: float) -> DataFrame:
    """Bound the aggregation state (no effect on a batch frame)."""
    return events_df.withWatermark("occurred_at", f"{int(delay_s * 1000)} milliseconds")


def drop_duplicate_events(events_df: DataFrame) -> DataFrame:
    """One row per event id: a producer retry must not count twice (state bounded by the watermark)."""
    if events_df.isStreaming:
        return events_df.dropDuplicatesWithinWatermark(["event_id"])
    return events_df.dropDuplicates(["event_id"])


def _metric(name: str, seconds: int, key: Column, key2: Column | None = None) -> Column:
    start = _bucket_start(F.col("occurred_at"), seconds)
    return F.struct(F.lit(name).alias("metric"), F.lit(seconds).alias("bucket_seconds"), start.alias("bucket_start"),
                    key.cast("string").alias("key"), (key2 if key2 is not None else F.lit(None)).cast("string")
                    .alias("key2"))


def explode_metric_rows(events_df: DataFrame) -> DataFrame:
    """One row per (event, metric it feeds): trend buckets, sales second, map cells, merchant hour."""
    is_purchase = F.col("event_type") == "purchase"
    has_place = F.col("cell5").isNotNull()
    has_merchant = is_purchase & F.col("merchant_id").isNotNull()
    has_parent = has_merchant & (F.col("parent_category") != F.col("category_slug"))
    metrics = [_metric("trend", b, F.col("category_slug")) for b in TREND_BUCKETS_S]
    metrics.append(F.when(is_purchase, _metric("sales", SALES_BUCKET_S, F.lit("all"))))
    metrics += [F.when(has_place, _metric("cell", HOUR_S, F.substring("cell5", 1, p))) for p in CELL_PRECISIONS]
    metrics.append(F.when(has_merchant, _metric("merchant", HOUR_S, F.col("category_slug"), F.col("merchant_id"))))
    metrics.append(F.when(has_parent, _metric("merchant", HOUR_S, F.col("parent_category"), F.col("merchant_id"))))
    with_cell_df = events_df.withColumn("cell5", geohash(F.col("latitude"), F.col("longitude"), max(CELL_PRECISIONS)))
    listed = F.filter(F.array(*metrics), lambda m: m.isNotNull())
    return with_cell_df.withColumn("m", F.explode(listed)).select("*", "m.*").drop("m", "cell5")


def _count_of(event_type: str) -> Column:
    return F.sum((F.col("event_type") == event_type).cast("long"))


def aggregate_activity_windows(events_df: DataFrame) -> DataFrame:
    """Sum every metric per (hour, metric, bucket, key): ACTIVITY_WINDOW_SCHEMA. Exact sums (decimal
    money, distinct user sets), so any grouping of the same events into batches gives equal rows."""
    is_purchase, is_cell = F.col("event_type") == "purchase", F.col("metric") == "cell"
    amount = (F.col("price") * F.col("quantity")).cast(MONEY)
    windows_df = (
        explode_metric_rows(events_df)
        .groupBy(F.window("occurred_at", STATE_WINDOW).alias("window"), "metric", "bucket_seconds", "bucket_start",
                 "key", "key2")
        .agg(_count_of("view").alias("views"), _count_of("click").alias("clicks"),
             _count_of("purchase").alias("purchases"), _count_of("review").alias("reviews"),
             F.sum(F.when(is_purchase, F.col("quantity"))).alias("units"),
             F.sum(F.when(is_purchase, amount)).alias("revenue"),
             F.size(F.collect_set(F.when(is_cell, F.col("user_id")))).alias("users"),
             F.max(F.when(F.col("metric") == "merchant", F.col("merchant_name"))).alias("merchant_name"),
             F.sum(F.when(F.col("event_type") == "review", F.col("rating"))).alias("stars"))
    )
    return records.select_schema(windows_df.withColumn("hour", F.col("window.start")), s.ACTIVITY_WINDOW_SCHEMA)


def _of_metric(windows_df: DataFrame, metric: str) -> DataFrame:
    return windows_df.filter(F.col("metric") == metric)


def to_trending_rows(windows_df: DataFrame) -> DataFrame:
    rows_df = _of_metric(windows_df, "trend").select(*_trending_columns())
    return records.select_schema(rows_df, s.TRENDING_CATEGORIES_BY_BUCKET_SCHEMA)


@reused
def _trending_columns() -> tuple[Column, ...]:
    score = sum((F.col(f"{kind}s") * F.lit(weight) for kind, weight in SCORE_WEIGHTS.items()), F.lit(0))
    return (F.col("bucket_seconds"), F.col("bucket_start"), F.col("key").alias("category_slug"),
            records.lookup(PARENT_OF, F.col("key")).alias("parent_category"),
            F.col("views"), F.col("clicks"), F.col("purchases"), F.col("reviews"), score.alias("score"))


def to_sales_by_second_rows(windows_df: DataFrame) -> DataFrame:
    rows_df = _of_metric(windows_df, "sales").select(
        F.date_trunc("minute", "bucket_start").alias("minute"), F.col("bucket_start").alias("second"),
        "purchases", F.coalesce("units", F.lit(0)).alias("units"), F.coalesce("revenue", F.lit(0.0)).alias("revenue"))
    return records.select_schema(rows_df, s.SALES_BY_SECOND_SCHEMA)


def to_activity_by_cell_rows(windows_df: DataFrame, *, min_users: int) -> DataFrame:
    """Cells with at least `min_users` distinct users: a smaller cell could single someone out."""
    rows_df = _of_metric(windows_df, "cell").filter(F.col("users") >= F.lit(min_users)).select(*_cell_columns())
    return records.select_schema(rows_df, s.ACTIVITY_BY_CELL_SCHEMA)


@reused
def _cell_columns() -> tuple[Column, ...]:
    return (F.length("key").alias("precision"), F.substring("key", 1, REGION_PRECISION).alias("region"),
            F.col("hour"), F.col("key").alias("cell"), F.col("users"),
            (F.col("views") + F.col("clicks") + F.col("purchases") + F.col("reviews")).alias("events"),
            F.col("purchases"))


def to_merchant_sales_rows(windows_df: DataFrame) -> DataFrame:
    rows_df = _of_metric(windows_df, "merchant").select(
        F.col("key").alias("category_slug"), F.date_format("hour", "yyyy-MM-dd").alias("day"),
        F.col("key2").cast("long").alias("merchant_id"), "hour", "merchant_name", "purchases",
        F.coalesce("units", F.lit(0)).alias("units"), F.coalesce("revenue", F.lit(0.0)).alias("revenue"))
    return records.select_schema(rows_df, s.MERCHANT_SALES_BY_CATEGORY_SCHEMA)


def _purchases(events_df: DataFrame) -> DataFrame:
    return events_df.filter(F.col("event_type") == "purchase").withColumn(
        "amount", (F.col("price") * F.col("quantity")).cast(MONEY))


def to_purchases_by_minute_rows(events_df: DataFrame) -> DataFrame:
    rows_df = _purchases(events_df).withColumn("minute", F.date_trunc("minute", "occurred_at"))
    return records.select_schema(rows_df, s.PURCHASES_BY_MINUTE_SCHEMA)


def to_purchases_by_user_rows(events_df: DataFrame) -> DataFrame:
    rows_df = _purchases(events_df).withColumn("month", F.date_format("occurred_at", "yyyy-MM"))
    return records.select_schema(rows_df, s.PURCHASES_BY_USER_SCHEMA)


def to_ratings_by_cell_rows(windows_df: DataFrame, *, min_users: int) -> DataFrame:
    """Average stars of the cell's reviews in the hour, for cells over the map's anonymity floor only."""
    is_shown = (F.col("users") >= F.lit(min_users)) & (F.col("reviews") > 0)
    rows_df = _of_metric(windows_df, "cell").filter(is_shown).select(
        F.length("key").alias("precision"), F.substring("key", 1, REGION_PRECISION).alias("region"), "hour",
        F.col("key").alias("cell"), "users", "reviews", "stars",
        (F.col("stars") / F.col("reviews")).alias("average_rating"))
    return records.select_schema(rows_df, s.RATINGS_BY_CELL_SCHEMA)
