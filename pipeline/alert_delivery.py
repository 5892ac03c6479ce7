"""Pure transforms deciding when each alert is delivered: now, or in one digest later.

Every time here is the alert's `alert_at` — when the platform received the deal version (the Kafka
record's timestamp) — so a replayed micro-batch decides exactly as the first attempt did:
- INSTANT interests are delivered at `alert_at`, unless it falls in the interest's quiet hours (UTC,
  start inclusive, end exclusive; it may wrap midnight): then in a digest when they end; and
  only the first `maxPerDay` of an interest's instant alerts of a UTC day (those stored by earlier
  micro-batches, then this batch's by alert_at and id): the rest in a digest at the end of that day;
- HOURLY and DAILY interests get one digest at the end of the hour or day (moved to the end of the
  quiet hours when it would fall in them).
A digest is every alert of one interest with the same delivery time; its id is derived from both.
"""
from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from pipeline.alert_schemas import ALERT_STATE_BY_DEAL_SCHEMA, ALERTS_BY_INTEREST_DAY_SCHEMA, ALERTS_BY_USER_SCHEMA
from pipeline.column_cache import reused
from pipeline.records import select_schema

HOUR_S, DAY_S = 3600, 86_400


def _seconds(ts: Column) -> Column:
    return ts.cast("double")


def _hour_of_day(seconds: Column) -> Column:
    return F.floor(seconds / HOUR_S) % 24


def in_quiet_hours(seconds: Column) -> Column:
    start, end, hour = F.col("quiet_start_hour"), F.col("quiet_end_hour"), _hour_of_day(seconds)
    return (F.when(start.isNull() | end.isNull() | (start == end), F.lit(False))
            .when(start < end, (hour >= start) & (hour < end))
            .otherwise((hour >= start) | (hour < end)))


def _quiet_end_after(seconds: Column) -> Column:
    """The first end of the quiet hours after `seconds` (epoch seconds)."""
    end_today = F.floor(seconds / DAY_S) * DAY_S + F.col("quiet_end_hour") * HOUR_S
    return F.when(end_today > seconds, end_today).otherwise(end_today + DAY_S)


def _out_of_quiet(seconds: Column) -> Column:
    return F.when(in_quiet_hours(seconds), _quiet_end_after(seconds)).otherwise(seconds)


def _digest_due(seconds: Column) -> Column:
    next_hour = (F.floor(seconds / HOUR_S) + 1) * HOUR_S
    next_day = (F.floor(seconds / DAY_S) + 1) * DAY_S
    return F.when(F.col("delivery") == "HOURLY", next_hour).otherwise(next_day)


def with_delivery(alerts_df: DataFrame, stored_day_df: DataFrame) -> DataFrame:
    """Add `deliver_at`, `delivery` (how it is delivered) and `digest_id` to each alert.

    `stored_day_df` holds the stored alerts of the same interests and days (ALERTS_BY_INTEREST_DAY),
    so the daily cap counts what earlier micro-batches already delivered at once.
    """
    dated_df = dated(alerts_df)
    positions_df = _cap_positions(dated_df, stored_day_df)
    return decided(dated_df.join(positions_df, on="alert_id", how="left"))


def dated(alerts_df: DataFrame) -> DataFrame:
    """Each alert with its UTC `day` and `is_candidate`: whether it may go at once (a projection)."""
    day, is_candidate = _dating_columns()
    return alerts_df.withColumns({"day": day, "is_candidate": is_candidate})


def decided(positioned_df: DataFrame) -> DataFrame:
    """Dated alerts with their `position` under the daily cap (null for a non-candidate) -> their
    `deliver_at`, `delivery_mode` and `digest_id` (a projection)."""
    deliver_at, how, digest_id = _decision_columns()
    with_due_df = positioned_df.withColumns({"deliver_at": deliver_at, "delivery_mode": how})
    return with_due_df.withColumn("digest_id", digest_id).drop("position")


@reused
def _dating_columns() -> tuple[Column, Column]:
    """The alert's UTC day, and whether it may go at once (an instant interest outside its quiet hours)."""
    seconds = _seconds(F.col("alert_at"))
    return F.date_format("alert_at", "yyyy-MM-dd"), (F.col("delivery") == "INSTANT") & ~in_quiet_hours(seconds)


@reused
def _decision_columns() -> tuple[Column, Column, Column]:
    """`deliver_at`, `delivery_mode` and `digest_id` of an alert with its place under the cap (`position`)."""
    seconds = _seconds(F.col("alert_at"))
    within_cap = F.col("max_per_day").isNull() | (F.col("position") <= F.col("max_per_day"))
    is_now = F.col("is_candidate") & within_cap
    over_cap_due = (F.floor(seconds / DAY_S) + 1) * DAY_S
    due = (F.when(is_now, seconds)
           .when(F.col("is_candidate"), _out_of_quiet(over_cap_due))
           .when(F.col("delivery") == "INSTANT", _quiet_end_after(seconds))
           .otherwise(_out_of_quiet(_digest_due(seconds))))
    how = (F.when(is_now, F.lit("INSTANT")).when(F.col("is_candidate"), F.lit("DAILY_CAP_DIGEST"))
           .when(F.col("delivery") == "INSTANT", F.lit("QUIET_HOURS_DIGEST"))
           .otherwise(F.concat(F.col("delivery"), F.lit("_DIGEST"))))
    digest = F.substring(F.sha2(F.concat_ws("|", F.col("interest_id"), F.unix_micros("deliver_at")), 256), 1, 32)
    return F.timestamp_seconds(due), how, F.when(~is_now, digest)


def _cap_positions(dated_df: DataFrame, stored_day_df: DataFrame) -> DataFrame:
    """(alert_id, position): the place of each candidate among its interest-day's instant alerts.

    The instant alerts stored by earlier micro-batches come first (those of this batch's own ids are a
    replay's first attempt: not counted, so a replay decides as the first attempt did), then this
    batch's candidates in time order. The cap therefore holds whatever order the partitions arrive in.
    """
    day = ["interest_id", "day"]
    earlier_df = (stored_day_df.filter(F.col("delivery") == "INSTANT")
                  .join(dated_df.select("alert_id"), on="alert_id", how="left_anti")
                  .groupBy(*day).agg(F.count(F.lit(1)).alias("earlier")))
    order = Window.partitionBy(*day).orderBy("alert_at", "alert_id")
    ranked_df = dated_df.filter(F.col("is_candidate")).withColumn("rank", F.row_number().over(order))
    return (ranked_df.join(earlier_df, on=day, how="left")
            .select("alert_id", (F.coalesce(F.col("earlier"), F.lit(0)) + F.col("rank")).alias("position")))


def to_alerts_by_user_rows(decided_df: DataFrame) -> DataFrame:
    return select_schema(decided_df.withColumns({"deal_updated_at": F.col("updated_at"),
                                                 "delivery": F.col("delivery_mode")}), ALERTS_BY_USER_SCHEMA)


def to_alerts_by_interest_day_rows(decided_df: DataFrame) -> DataFrame:
    """The alerts delivered at once: all the daily cap counts (a digested alert never takes a place)."""
    instant_df = decided_df.filter(F.col("delivery_mode") == "INSTANT")
    return select_schema(instant_df.withColumn("delivery", F.col("delivery_mode")), ALERTS_BY_INTEREST_DAY_SCHEMA)


def to_alert_state_rows(decided_df: DataFrame) -> DataFrame:
    """The re-arm state per pair: the lowest alerted price and the newest alerted version."""
    state_df = decided_df.groupBy("deal_id", "interest_id").agg(
        F.min("price").alias("last_price"), F.max("updated_at").alias("last_updated_at"))
    return select_schema(state_df, ALERT_STATE_BY_DEAL_SCHEMA)


MESSAGE_FIELDS = ("alert_id", "user_id", "interest_id", "deal_id", "kind", "reason", "delivery", "digest_id",
                  "deliver_at", "alert_at", "deal_updated_at", "title", "price", "previous_price", "discount_pct",
                  "category_slug", "merchant_name", "distance_km")


def to_deal_alert_messages(decided_df: DataFrame) -> DataFrame:
    """Kafka `deal_alerts` records: key = user id (one user's alerts stay in order), value = JSON."""
    rows_df = to_alerts_by_user_rows(decided_df)
    return rows_df.select(F.col("user_id").cast("string").alias("key"),
                          F.to_json(F.struct(*MESSAGE_FIELDS)).alias("value"))
