"""The one sink both jobs share: a raw record frame in, every deal table of Cassandra written.

Streaming passes a `DealTablesSink` to `foreachBatch`; batch calls it once over the lake. Every
write is an idempotent upsert on a deterministic key, and their order makes a crash anywhere safe
to replay (foreachBatch is at-least-once): `deal_versions`, the record of which sort keys each deal
holds, is written last (see `DealTablesSink._write`).
"""
from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import partial

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from conf.settings import Settings
from pipeline import deal_transforms as dt
from pipeline import schemas
from pipeline import table_rows as tr
from pipeline.cassandra_io import SinkTables, run_concurrently, run_side_by_side
from pipeline.driver_rows import rows_frame
from pipeline.driver_sink import DealPlans, write_from_driver
from pipeline.plan_templates import SessionPlans
from pipeline.score_sink import DealScoreSink

log = logging.getLogger(__name__)
REPORTS_KEPT = 1000  # the latest batch reports, for tests and benchmarks; a stream runs for days


@dataclass(frozen=True)
class BatchReport:
    batch_id: int | None
    rows_in: int
    dead_letters: int
    deals_written: int
    stale_rows_deleted: int
    lag_s: float | None
    seconds: float
    rounds: tuple[tuple[str, float], ...] = ()  # (round, seconds) in order: where the batch's time went


class RoundClock:
    """Seconds spent in each named round of one batch (the breakdown `bench.pipeline` prints)."""

    def __init__(self) -> None:
        self._last = time.monotonic()
        self.rounds: list[tuple[str, float]] = []

    def lap(self, name: str) -> None:
        now = time.monotonic()
        self.rounds.append((name, now - self._last))
        self._last = now


@dataclass(frozen=True)
class _Written:
    """One batch through the deal tables: records in, dead letters among them, the newest record's
    arrival, its clean deals (for the scores), fresh versions written and stale rows deleted."""

    rows_in: int
    dead: int
    newest: datetime | None
    clean_df: DataFrame
    fresh: int
    deleted: int


class DealTablesSink:
    """Writes a raw record frame to every deal table; callable as a foreachBatch function."""

    def __init__(self, settings: Settings, *, scores: bool = True) -> None:
        """`scores=False`: the deal tables only, for a stream whose scores run in a query of their own
        (`streaming.deals_job.start_scores_stream`); batch and direct calls score in the same pass."""
        self.settings = settings
        self._tables = SinkTables(settings)
        # written after the deal tables, on the same driver session
        self._scores = DealScoreSink(settings, session=self._tables.session) if scores else None
        self.reports: deque[BatchReport] = deque(maxlen=REPORTS_KEPT)
        self._plans = SessionPlans(DealPlans)  # the small batches' frames (`driver_sink.DealPlans`)

    def __call__(self, raw_df: DataFrame, batch_id: int | None = None) -> BatchReport:
        started = time.monotonic()
        try:
            report = self._write(raw_df, batch_id, started)
        finally:
            self._tables.release()
        self.reports.append(report)
        log.info(
            "batch %s: %d rows in, %d deals written, %d dead letters, %d stale rows deleted, lag %s, %.2fs (%s)",
            batch_id, report.rows_in, report.deals_written, report.dead_letters, report.stale_rows_deleted,
            "n/a" if report.lag_s is None else f"{report.lag_s:.2f}s", report.seconds,
            ", ".join(f"{name} {seconds:.2f}s" for name, seconds in report.rounds),
        )
        return report

    # -- the steps -----------------------------------------------------------------------------

    def _write(self, raw_df: DataFrame, batch_id: int | None, started: float) -> BatchReport:
        """One micro-batch (or the whole lake), in rounds:

        1. parse and judge every record (a large batch holds them: everything below starts from these rows);
        2. the newest version of each deal (and the batch's counts), then what `deal_versions`
           stores for those ids — read before any write, because re-read after our own upserts it
           would hide the stale rows;
        3. the versions newer than stored (`fresh`), then concurrently: deals_by_id, the sorted tables,
           the deletes of stale sort rows (never a key the new rows use), price history and dead letters;
        4. the merchant ranking, from the updated deals_by_merchant;
        5. `deal_versions` last, so a replay after a crash anywhere before finds the old keys again.

        A batch of up to `sink_driver_max_rows` records (and no more than `sink_driver_max_keys`, so its
        stored versions are read from the driver too) is read into the slot of `driver_sink.DealPlans`
        and runs from frames built once (`pipeline.plan_templates`) in the small session
        (`driver_rows.small_session`), steps 3 to 5 from the driver; a larger one runs in the
        application's session, steps 3 to 5 as the connector's Spark jobs.
        """
        clock = RoundClock()
        max_on_driver = min(self.settings.sink_driver_max_rows, self.settings.sink_driver_max_keys)
        plans = self._plans.of(raw_df.sparkSession) if max_on_driver else None
        rows_in = plans.raw.fill_at_most(raw_df, max_on_driver) if plans is not None else None
        try:
            if plans is None or rows_in is None:
                done = self._write_large(raw_df, clock)
            else:
                done = self._write_small(plans, rows_in, clock)
            if self._scores is not None and done.rows_in > done.dead:  # else nothing to score
                self._scores(done.clean_df, batch_id, on_driver=rows_in is not None)
        finally:
            if plans is not None:
                plans.clear()
        clock.lap("scores")
        lag = None if done.newest is None else max(0.0, time.time() - done.newest.timestamp())
        return BatchReport(batch_id, done.rows_in, done.dead, done.fresh, done.deleted, lag,
                           time.monotonic() - started, tuple(clock.rounds))

    def _write_small(self, plans: DealPlans, rows_in: int, clock: RoundClock) -> _Written:
        """A batch held in `plans.raw`, in the small session: steps 1 to 5 from its templates, and 3 to 5
        from the driver (`pipeline.driver_sink`)."""
        done = write_from_driver(self._tables, plans, lap=clock.lap)
        return _Written(rows_in, done.dead_letters, done.newest, plans.clean.frame(), done.fresh, done.deleted)

    def _write_large(self, raw_df: DataFrame, clock: RoundClock) -> _Written:
        """A batch too large for the driver, in the application's session: steps 3 to 5 as the
        connector's Spark jobs."""
        judged_df = self._tables.hold(raw_df.transform(dt.parse_deal_records).transform(dt.with_rejection_reason))
        clock.lap("parse")
        clean_df = judged_df.transform(dt.filter_valid_deals).transform(dt.clean_deals)
        latest_df, stats = run_side_by_side(
            lambda: self._tables.hold(clean_df.transform(dt.latest_deal_versions).transform(tr.with_sort_flags)),
            lambda: judged_df.agg(F.count(F.lit(1)).alias("rows_in"), F.count("rejection_reason").alias("dead"),
                                  F.max("received_at").alias("newest")).first(),
        )
        assert stats is not None  # an aggregate without grouping has exactly one row
        clock.lap("latest")
        fresh, deleted = self._write_through_connector(judged_df, clean_df, latest_df,
                                                       self._read_stored_versions(latest_df),
                                                       has_dead_letters=bool(stats["dead"]), clock=clock)
        return _Written(stats["rows_in"], stats["dead"], stats["newest"], clean_df, fresh, deleted)

    def _read_stored_versions(self, latest_df: DataFrame) -> DataFrame:
        """What `deal_versions` holds for the batch's deals, read now (before any write of the batch).

        Read from the driver for a small batch, as a local frame: the join with it is cheap to
        recompute, so `fresh` is not held (holding it would cost a Spark job of its own)."""
        stored_df = self._tables.read("deal_versions", latest_df.select("deal_id"), schemas.DEAL_VERSIONS_SCHEMA)
        return stored_df.transform(tr.with_sort_flags)

    def _write_through_connector(self, judged_df: DataFrame, clean_df: DataFrame, latest_df: DataFrame,
                                 stored_df: DataFrame, *, has_dead_letters: bool, clock: RoundClock) -> tuple[int, int]:
        """Steps 3 to 5 of `_write` as Spark jobs of the connector; returns (fresh versions, rows deleted)."""
        fresh_df = tr.filter_newer_than_stored(latest_df, stored_df)
        counts = fresh_df.agg(F.count(F.lit(1)).alias("fresh"),
                              F.count(F.when(F.col("is_replacing"), 1)).alias("replacing")).first()
        assert counts is not None  # an aggregate without grouping has exactly one row
        clock.lap("stored+counts")
        split = (counts["fresh"] - counts["replacing"], counts["replacing"])
        writes: list[Callable[[], object]] = [
            partial(self._tables.upsert, fresh_df, tr.to_deals_by_id_rows, "deals_by_id", split)
        ]
        writes += [partial(self._tables.upsert, fresh_df, partial(tr.to_sorted_table_rows, table=table),
                           table.name, split) for table in tr.SORTED_DEAL_TABLES]
        writes.append(partial(self._tables.append, dt.to_price_history_rows(clean_df), "price_history_by_deal"))
        if has_dead_letters:
            writes.append(partial(self._tables.append, dt.to_dead_letter_rows(judged_df), "dead_letters_by_day"))
        if counts["replacing"]:
            replaced_df = stored_df.join(fresh_df.select("deal_id"), on="deal_id", how="left_semi")
            writes.append(partial(self._delete_stale_sort_rows, replaced_df, fresh_df))
        results = run_concurrently(writes)
        clock.lap("writes")
        deleted, stale_merchants = next((r for r in results if isinstance(r, tuple)), (0, set()))
        deleted += self._refresh_merchant_ranking(fresh_df, stale_merchants)
        clock.lap("ranking")
        self._tables.upsert(fresh_df, tr.to_deal_versions_rows, "deal_versions", split)
        clock.lap("versions")
        return counts["fresh"], deleted

    def _delete_stale_sort_rows(self, replaced_df: DataFrame, fresh_df: DataFrame) -> tuple[int, set[int]]:
        """Delete the sort rows the replaced versions leave behind, all tables in one Spark job."""
        stale_by_table = {
            table.name: tr.stale_keys(tr.to_sorted_table_keys(replaced_df, table),
                                      tr.to_sorted_table_keys(fresh_df, table), table.keys)
            for table in tr.SORTED_DEAL_TABLES
        }
        collected = tr.union_keyed_rows(stale_by_table).collect()
        deleted = 0
        for table in tr.SORTED_DEAL_TABLES:
            rows = [tuple(row[k] for k in table.keys) for row in collected if row["table"] == table.name]
            deleted += self._tables.delete(table.name, table.keys, rows)
        old_merchants = {row["merchant_id"] for row in collected if row["table"] == "deals_by_merchant"}
        return deleted, old_merchants

    def _refresh_merchant_ranking(self, fresh_df: DataFrame, stale_merchants: set[int]) -> int:
        """Recompute the ranking rows of the merchants this batch touched, from deals_by_merchant."""
        spark = fresh_df.sparkSession
        merchant_ids_df = fresh_df.select("merchant_id").filter(F.col("merchant_id").isNotNull())
        if stale_merchants:
            extra_df = rows_frame(spark, [(m,) for m in sorted(stale_merchants)], schemas.MERCHANT_ID_SCHEMA)
            merchant_ids_df = merchant_ids_df.union(extra_df)
        merchant_ids_df = merchant_ids_df.distinct()
        merchant_ids_df = self._tables.hold(merchant_ids_df)
        merchant_deals_df, old_keys_df = run_side_by_side(
            lambda: self._tables.read("deals_by_merchant", merchant_ids_df, schemas.DEALS_BY_MERCHANT_SCHEMA),
            lambda: self._tables.read("merchant_rank_keys", merchant_ids_df, schemas.MERCHANT_RANK_KEYS_SCHEMA),
        )
        ranking_df = self._tables.hold(tr.to_merchants_by_category_rows(merchant_deals_df))
        rank_key, row_key = ("category_slug", "deals_sold", "merchant_id"), ("merchant_id", "category_slug")
        # Deletes of stale rows and upserts of new ones touch disjoint keys, so each pair runs side by
        # side; the rank keys go second, like deal_versions, so after a crash they still find old rows.
        deleted, _ = run_side_by_side(
            lambda: self._tables.delete("merchants_by_category", rank_key,
                                 [tuple(r) for r in tr.stale_keys(old_keys_df, ranking_df, rank_key).collect()]),
            lambda: self._tables.append(ranking_df, "merchants_by_category"),
        )
        gone, _ = run_side_by_side(
            lambda: self._tables.delete("merchant_rank_keys", row_key,
                                 [tuple(r) for r in tr.stale_keys(old_keys_df, ranking_df, row_key).collect()]),
            lambda: self._tables.append(tr.to_merchant_rank_keys_rows(ranking_df), "merchant_rank_keys"),
        )
        return deleted + gone

    def close(self) -> None:
        if self._scores is not None:
            self._scores.close()
        self._tables.close()


def deal_tables_sink(settings: Settings, *, scores: bool = True) -> Callable[[DataFrame, int | None], BatchReport]:
    """The sink function for `foreachBatch` (streaming) or a direct call (batch)."""
    return DealTablesSink(settings, scores=scores)
