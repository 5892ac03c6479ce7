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
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import partial

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from conf.settings import Settings
from pipeline import activity_transforms as at
from pipeline.cassandra_io import SinkTables, append_rows, run_concurrently, run_side_by_side
from pipeline.deal_transforms import to_dead_letter_rows
from pipeline.driver_sink import FRESH, CollectedRows, upsert_collected
from pipeline.plan_templates import SessionPlans, Slot, Template
from pipeline.review_sink import ReviewSink
from pipeline.schemas import RAW_RECORD_SCHEMA
from pipeline.sink import REPORTS_KEPT
from pipeline.table_rows import to_json_rows

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


class _EventPlans:
    """`ActivityEventsSink`'s frames for a small batch, built once per session over slots
    (`plan_templates`): the records judged (held in a slot), their table rows as JSON, the valid events,
    their arrival times. All but the judging are filters and projections of the judged records' slot,
    which Spark computes on the driver (no job): each is collected on its own, as their union or an
    aggregate would be a job."""

    def __init__(self, spark: SparkSession, settings: Settings) -> None:
        self.raw = Slot(spark, RAW_RECORD_SCHEMA)
        judged_df = judge_activity_records(self.raw.df, settings)
        self.judge = Template(judged_df)
        self.judged = Slot(spark, judged_df.schema)
        frames = _event_frames(self.judged.df, settings)
        self.tables = list(frames)
        self.rows = [Template(to_json_rows(rows_df, FRESH, table)) for table, rows_df in frames.items()]
        self.arrivals = Template(self.judged.df.select("received_at"))
        self.events = Template(_valid_events(self.judged.df))

    def clear(self) -> None:
        self.raw.clear()
        self.judged.clear()


def _valid_events(judged_df: DataFrame) -> DataFrame:
    return judged_df.transform(at.filter_valid_events).transform(at.clean_events)


def _event_frames(judged_df: DataFrame, settings: Settings) -> dict[str, DataFrame]:
    """The rows of each table an event gives on its own, by table."""
    events_df = _valid_events(judged_df)
    lateness = settings.activity_allowed_lateness_s
    return {
        "dead_letters_by_day": to_dead_letter_rows(judged_df),
        "late_events_by_day": at.to_late_event_rows(at.filter_late_events(events_df, allowed_lateness_s=lateness)),
        "purchases_by_minute": at.to_purchases_by_minute_rows(events_df),
        "purchases_by_user": at.to_purchases_by_user_rows(events_df),
    }


class ActivityEventsSink(_TablesWriter):
    """Raw user_events records -> dead letters, late events, purchase feed, purchase histories; beside
    (settings.activity_reviews) the reviews and ratings, through `ReviewSink`."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.reviews = ReviewSink(settings) if settings.activity_reviews else None
        self._plans = SessionPlans(partial(_EventPlans, settings=settings))

    def __call__(self, raw_df: DataFrame, batch_id: int | None = None) -> ActivityReport:
        """A batch of up to `sink_driver_max_keys` records is read into a slot and written from the driver
        (`_EventPlans`, in `driver_rows.small_session`); a larger one (a catch-up, the lake) in Spark jobs
        and the connector."""
        started = time.monotonic()
        plans = self._plans.of(raw_df.sparkSession)
        rows_in = plans.raw.fill_at_most(raw_df, self.settings.sink_driver_max_keys)
        judged_df = None
        try:
            write: Callable[[], tuple[dict[str, int], datetime | None]]
            if rows_in is None:
                judged_df = judge_activity_records(raw_df, self.settings).localCheckpoint()
                events_df = _valid_events(judged_df)
                write = partial(self._write_tables, judged_df, _event_frames(judged_df, self.settings))
            else:
                plans.judged.fill(plans.judge.frame())
                events_df = plans.events.frame()
                write = partial(self._write_from_driver, plans, rows_in)
            # the review tables are written beside the others (they share no table): a review batch is
            # a few small Spark jobs, and two cores overlap them with these writes' jobs
            if self.reviews is None:
                counts, newest = write()
            else:
                (counts, newest), reviewed = run_side_by_side(write, partial(self.reviews, events_df, batch_id))
                counts |= {f"reviews.{k}": n for k, n in reviewed.items()}
        finally:
            if judged_df is not None:
                judged_df.unpersist()
            plans.clear()
        return self._report(batch_id, counts, started, newest)

    def _write_tables(self, judged_df: DataFrame, frames: dict[str, DataFrame]) -> tuple[dict[str, int],
                                                                                       datetime | None]:
        counts, newest = _counts(judged_df, self.settings.activity_allowed_lateness_s)
        self._write_all(frames, counts)
        return counts, newest

    def _write_from_driver(self, plans: _EventPlans, rows_in: int) -> tuple[dict[str, int], datetime | None]:
        rows = CollectedRows([template.frame() for template in plans.rows], stack=False)
        newest = max((row[0] for row in plans.arrivals.frame().collect()), default=None)
        return {"records": rows_in, **upsert_collected(self._tables, rows, plans.tables)}, newest

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


class _WindowPlans:
    """`ActivityWindowsSink`'s frames for a small batch (an update-mode micro-batch holds only the windows
    its events touched, a few hundred rows), built once per session over a slot (`plan_templates`)."""

    def __init__(self, spark: SparkSession, settings: Settings, schema: T.StructType) -> None:
        self.windows = Slot(spark, schema)
        frames = _window_frames(self.windows.df, settings)
        self.tables = list(frames)
        # filters and projections of the slot, which Spark computes on the driver: collected one by one,
        # no job (their union would be one)
        self.rows = [Template(to_json_rows(rows_df, FRESH, table)) for table, rows_df in frames.items()]

    def clear(self) -> None:
        self.windows.clear()


def _window_frames(windows_df: DataFrame, settings: Settings) -> dict[str, DataFrame]:
    """The rows of each windowed table, by table."""
    min_users = settings.activity_min_users_per_cell
    frames = {
        "trending_categories_by_bucket": at.to_trending_rows(windows_df),
        "sales_by_second": at.to_sales_by_second_rows(windows_df),
        "activity_by_cell": at.to_activity_by_cell_rows(windows_df, min_users=min_users),
        "merchant_sales_by_category": at.to_merchant_sales_rows(windows_df),
    }
    if settings.activity_reviews:  # issue 18: average stars per map cell
        frames["ratings_by_cell"] = at.to_ratings_by_cell_rows(windows_df, min_users=min_users)
    return frames


class ActivityWindowsSink(_TablesWriter):
    """Windowed sums -> trending buckets, sales per second, map cells over the floor, merchant sales."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self._plans: SessionPlans[_WindowPlans] | None = None

    def __call__(self, windows_df: DataFrame, batch_id: int | None = None) -> ActivityReport:
        """Up to `sink_driver_max_keys` window rows are read into a slot, and their table rows made from
        it (`_WindowPlans`) and written from the driver: no checkpoint, count or connector job per table.
        A large frame (a catch-up, the batch layer) is checkpointed, counted and written in Spark."""
        started = time.monotonic()
        if self._plans is None:  # the slot takes the windows' schema, the same every batch
            self._plans = SessionPlans(partial(_WindowPlans, settings=self.settings, schema=windows_df.schema))
        plans = self._plans.of(windows_df.sparkSession)
        try:
            if plans.windows.fill_at_most(windows_df, self.settings.sink_driver_max_keys) is None:
                counts = self._write_large(windows_df)
            else:
                rows = CollectedRows([template.frame() for template in plans.rows], stack=False)
                counts = upsert_collected(self._tables, rows, plans.tables)
        finally:
            plans.clear()
        return self._report(batch_id, counts, started)

    def _write_large(self, windows_df: DataFrame) -> dict[str, int]:
        held_df = windows_df.localCheckpoint()
        try:
            counted = held_df.groupBy("metric").agg(F.count(F.lit(1)).alias("n")).collect()
            by_metric = {row["metric"]: row["n"] for row in counted}
            counts = {table: by_metric.get(metric, 0) for table, metric in _TABLE_METRIC.items()}
            self._write_all(_window_frames(held_df, self.settings), counts)
            return counts
        finally:
            held_df.unpersist()


_TABLE_METRIC = {"trending_categories_by_bucket": "trend", "sales_by_second": "sales",
                 "activity_by_cell": "cell", "merchant_sales_by_category": "merchant", "ratings_by_cell": "cell"}
