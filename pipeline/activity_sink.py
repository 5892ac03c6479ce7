"""The sinks both activity jobs share, and the transform chains in front of them.

Two sinks, because one is stateless and one is not:
- `ActivityEventsSink` takes raw records and writes what each event gives on its own: dead letters,
  late events, the purchase feed and each user's purchase history (keyed by event id).
- `ActivityWindowsSink` takes the windowed aggregation (update mode in streaming, a plain groupBy in
  batch) and writes trending buckets, sales per second, map cells and merchant sales (keyed by window
  and key).
Every write is an upsert on a deterministic key, so a replayed micro-batch rewrites the same rows.
"""
from __future__ import annotations

import logging
import time
from collections import Counter, deque
from dataclasses import dataclass
from datetime import datetime
from functools import partial

from pyspark.sql import DataFrame, Row
from pyspark.sql import functions as F

from conf.settings import Settings
from pipeline import activity_transforms as at
from pipeline.cassandra_io import SinkTables, append_rows, run_concurrently, run_side_by_side
from pipeline.deal_transforms import to_dead_letter_rows
from pipeline.driver_rows import held_on_driver
from pipeline.driver_sink import upsert_from_driver
from pipeline.review_sink import ReviewSink
from pipeline.sink import REPORTS_KEPT

log = logging.getLogger(__name__)


def judge_activity_records(raw_df: DataFrame, settings: Settings) -> DataFrame:
    """Raw records parsed, each with its rejection reason (null when valid)."""
    return (
        raw_df.transform(at.parse_activity_records)
        .transform(at.with_event_rejection_reason, future_tolerance_s=settings.activity_future_tolerance_s)
    )


def activity_events(raw_df: DataFrame, settings: Settings) -> DataFrame:
    """The valid events of raw records, typed."""
    return judge_activity_records(raw_df, settings).transform(at.filter_valid_events).transform(at.clean_events)


def activity_windows(raw_df: DataFrame, settings: Settings) -> DataFrame:
    """Raw records -> on-time, de-duplicated events -> windowed sums (streaming or batch alike)."""
    delay_s = settings.activity_allowed_lateness_s + settings.activity_watermark_margin_s
    return (
        activity_events(raw_df, settings)
        .transform(at.filter_on_time_events, allowed_lateness_s=settings.activity_allowed_lateness_s)
        .transform(at.with_event_watermark, delay_s=delay_s)
        .transform(at.drop_duplicate_events)
        .transform(at.aggregate_activity_windows)
    )


@dataclass(frozen=True)
class ActivityReport:
    batch_id: int | None
    rows: dict[str, int]
    seconds: float
    lag_s: float | None = None  # now minus the newest record's Kafka time (raw records only)


class _TablesWriter:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.reports: deque[ActivityReport] = deque(maxlen=REPORTS_KEPT)
        self._tables = SinkTables(settings)  # its driver session opens with the first small batch

    def _write_all(self, frames: dict[str, DataFrame], counts: dict[str, int]) -> None:
        """Write each non-empty table frame side by side (an empty one costs no Spark job)."""
        keyspace = self.settings.keyspace
        run_concurrently([
            partial(append_rows, rows_df, keyspace=keyspace, table=table)
            for table, rows_df in frames.items() if counts.get(table)
        ])

    def close(self) -> None:
        self._tables.close()

    def _report(self, batch_id: int | None, counts: dict[str, int], started: float,
                newest: datetime | None = None) -> ActivityReport:
        lag = None if newest is None else max(0.0, time.time() - newest.timestamp())
        report = ActivityReport(batch_id, counts, time.monotonic() - started, lag)
        self.reports.append(report)
        log.info("%s batch %s: %s in %.2fs%s", type(self).__name__, batch_id,
                 ", ".join(f"{n} {t}" for t, n in counts.items() if n) or "nothing", report.seconds,
                 "" if lag is None else f", lag {lag:.2f}s")
        return report


class ActivityEventsSink(_TablesWriter):
    """Raw user_events records -> dead letters, late events, purchase feed, purchase histories; beside
    (settings.activity_reviews) the reviews and ratings, through `ReviewSink`."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.reviews = ReviewSink(settings) if settings.activity_reviews else None

    def __call__(self, raw_df: DataFrame, batch_id: int | None = None) -> ActivityReport:
        """A batch of up to `sink_driver_max_keys` records is held on the driver and written from it
        (`driver_rows.small_session`); a larger one (a catch-up, the lake) in Spark jobs and the connector."""
        started = time.monotonic()
        held = held_on_driver(raw_df, self.settings.sink_driver_max_keys)
        if held is None:
            judged_df = judge_activity_records(raw_df, self.settings).localCheckpoint()
        else:  # its rows are on the driver already: later plans start from them, nothing to checkpoint
            judged_df = judge_activity_records(held.df, self.settings)
        events_df = judged_df.transform(at.filter_valid_events).transform(at.clean_events)
        lateness = self.settings.activity_allowed_lateness_s
        frames = {
            "dead_letters_by_day": to_dead_letter_rows(judged_df),
            "late_events_by_day": at.to_late_event_rows(at.filter_late_events(events_df, allowed_lateness_s=lateness)),
            "purchases_by_minute": at.to_purchases_by_minute_rows(events_df),
            "purchases_by_user": at.to_purchases_by_user_rows(events_df),
        }
        try:
            # the review tables are written beside the others (they share no table): a review batch is
            # a few small Spark jobs, and two cores overlap them with these writes' jobs
            write = (partial(self._write_tables, judged_df, frames) if held is None
                     else partial(self._write_from_driver, held.rows, frames))
            if self.reviews is None:
                counts, newest = write()
            else:
                (counts, newest), reviewed = run_side_by_side(write, partial(self.reviews, events_df, batch_id))
                counts |= {f"reviews.{k}": n for k, n in reviewed.items()}
        finally:
            judged_df.unpersist()
        return self._report(batch_id, counts, started, newest)

    def _write_tables(self, judged_df: DataFrame, frames: dict[str, DataFrame]) -> tuple[dict[str, int],
                                                                                       datetime | None]:
        counts, newest = _counts(judged_df, self.settings.activity_allowed_lateness_s)
        self._write_all(frames, counts)
        return counts, newest

    def _write_from_driver(self, raw_rows: list[Row], frames: dict[str, DataFrame]) -> tuple[dict[str, int],
                                                                                           datetime | None]:
        counts = {"records": len(raw_rows), **upsert_from_driver(self._tables, frames)}
        return counts, max((row["timestamp"] for row in raw_rows if row["timestamp"] is not None), default=None)

    def close(self) -> None:
        if self.reviews is not None:
            self.reviews.close()
        super().close()


def _counts(judged_df: DataFrame, lateness_s: float) -> tuple[dict[str, int], datetime | None]:
    """Rows each table will get, and the newest record's receipt, in one pass over the records."""
    is_valid = F.col("rejection_reason").isNull()
    kind = F.lower(F.trim(F.col("event").getField("event_type")))
    received, occurred = F.col("received_at").cast("double"), F.col("event").getField("occurred_at").cast("timestamp")
    is_late = is_valid & (received - occurred.cast("double") > F.lit(lateness_s))
    is_purchase = is_valid & (kind == "purchase")
    row = judged_df.agg(
        F.count(F.lit(1)).alias("records"), F.count("rejection_reason").alias("dead_letters_by_day"),
        F.count(F.when(is_late, 1)).alias("late_events_by_day"),
        F.count(F.when(is_purchase, 1)).alias("purchases_by_minute"), F.max("received_at").alias("newest"),
    ).first()
    counts = row.asDict() if row is not None else {}
    newest = counts.pop("newest", None)
    counts["purchases_by_user"] = counts.get("purchases_by_minute", 0)
    return counts, newest


class ActivityWindowsSink(_TablesWriter):
    """Windowed sums -> trending buckets, sales per second, map cells over the floor, merchant sales."""

    def __call__(self, windows_df: DataFrame, batch_id: int | None = None) -> ActivityReport:
        started = time.monotonic()
        windows_df, by_metric, on_driver = _held_windows(windows_df, self.settings.sink_driver_max_keys)
        frames = {
            "trending_categories_by_bucket": at.to_trending_rows(windows_df),
            "sales_by_second": at.to_sales_by_second_rows(windows_df),
            "activity_by_cell": at.to_activity_by_cell_rows(
                windows_df, min_users=self.settings.activity_min_users_per_cell),
            "merchant_sales_by_category": at.to_merchant_sales_rows(windows_df),
        }
        if self.settings.activity_reviews:  # issue 18: average stars per map cell
            frames["ratings_by_cell"] = at.to_ratings_by_cell_rows(
                windows_df, min_users=self.settings.activity_min_users_per_cell)
        try:
            counts = {table: by_metric.get(metric, 0) for table, metric in _TABLE_METRIC.items()}
            if on_driver:
                upsert_from_driver(self._tables, {table: rows_df for table, rows_df in frames.items() if counts[table]})
            else:
                self._write_all(frames, counts)
        finally:
            windows_df.unpersist()
        return self._report(batch_id, counts, started)


def _held_windows(windows_df: DataFrame, max_rows: int) -> tuple[DataFrame, dict[str, int], bool]:
    """The batch's window rows materialised once, how many rows each metric has, and whether they
    are held on the driver.

    An update-mode micro-batch holds only the windows its events touched (a few hundred rows): one
    collect brings them to the driver (`driver_rows.small_session`), and their table rows are made
    there and written from it, which saves a checkpoint, a count and a connector job per table. A
    large frame (a catch-up, the batch layer) is checkpointed and counted in Spark instead.
    """
    held = held_on_driver(windows_df, max_rows)
    if held is not None:
        return held.df, dict(Counter(row["metric"] for row in held.rows)), True
    held_df = windows_df.localCheckpoint()
    counted = held_df.groupBy("metric").agg(F.count(F.lit(1)).alias("n")).collect()
    return held_df, {row["metric"]: row["n"] for row in counted}, False


_TABLE_METRIC = {"trending_categories_by_bucket": "trend", "sales_by_second": "sales",
                 "activity_by_cell": "cell", "merchant_sales_by_category": "merchant", "ratings_by_cell": "cell"}
