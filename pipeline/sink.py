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
from functools import partial

from cassandra.cluster import Session
from cassandra.concurrent import execute_concurrent_with_args
from cassandra.query import PreparedStatement
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import StructType

from conf.settings import Settings
from pipeline import deal_transforms as dt
from pipeline import schemas
from pipeline import table_rows as tr
from pipeline.cassandra_io import PartitionReader, append_rows, run_concurrently, run_side_by_side
from pipeline.score_sink import DealScoreSink

log = logging.getLogger(__name__)
DELETE_CONCURRENCY = 64
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


class DealTablesSink:
    """Writes a raw record frame to every deal table; callable as a foreachBatch function."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._session: Session | None = None  # cassandra-driver session for deletes, opened on first need
        self._deletes: dict[str, PreparedStatement] = {}
        self._reader = PartitionReader(self._driver_session, settings.keyspace, settings.sink_driver_max_keys)
        self._scores = DealScoreSink(settings)  # issue 12: deal scores, written after the deal tables
        self._held: list[DataFrame] = []  # frames materialised for the current batch
        self.reports: deque[BatchReport] = deque(maxlen=REPORTS_KEPT)

    def __call__(self, raw_df: DataFrame, batch_id: int | None = None) -> BatchReport:
        started = time.monotonic()
        try:
            report = self._write(raw_df, batch_id, started)
        finally:
            for held_df in self._held:
                held_df.unpersist()
            self._held.clear()
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
        """One micro-batch (or the whole lake), in rounds of Spark jobs run side by side.

        1. parse and judge every record (held: everything below starts from these rows);
        2. the newest version of each deal (and the batch's counts), then what `deal_versions`
           stores for those ids — read before any write, because re-read after our own upserts it
           would hide the stale rows;
        3. the versions newer than stored (`fresh`) and how many there are;
        4. concurrently: deals_by_id, the sorted tables, the deletes of stale sort rows (never a key
           the new rows use), price history and dead letters;
        5. the merchant ranking, from the updated deals_by_merchant;
        6. `deal_versions` last, so a replay after a crash anywhere before finds the old keys again.
        """
        clock = RoundClock()
        judged_df = self._hold(raw_df.transform(dt.parse_deal_records).transform(dt.with_rejection_reason))
        clock.lap("parse")
        clean_df = judged_df.transform(dt.filter_valid_deals).transform(dt.clean_deals)
        latest_df, stats = run_side_by_side(
            lambda: self._hold(clean_df.transform(dt.latest_deal_versions).transform(tr.with_sort_flags)),
            lambda: judged_df.agg(F.count(F.lit(1)).alias("rows_in"), F.count("rejection_reason").alias("dead"),
                                  F.max("received_at").alias("newest")).first(),
        )
        clock.lap("latest")
        # Stored versions of a small batch come from the driver as a local frame: the join below is
        # cheap to recompute, so `fresh` is not held (holding it would cost a Spark job of its own).
        stored_df = self._read_keys("deal_versions", latest_df.select("deal_id"), schemas.DEAL_VERSIONS_SCHEMA)
        stored_df = stored_df.transform(tr.with_sort_flags)
        fresh_df = tr.filter_newer_than_stored(latest_df, stored_df)
        counts = fresh_df.agg(F.count(F.lit(1)).alias("fresh"),
                              F.count(F.when(F.col("is_replacing"), 1)).alias("replacing")).first()
        assert stats is not None and counts is not None  # an aggregate without grouping has exactly one row
        clock.lap("stored+counts")
        split = (counts["fresh"] - counts["replacing"], counts["replacing"])
        writes: list[Callable[[], object]] = [
            partial(self._upsert_versions, fresh_df, tr.to_deals_by_id_rows, "deals_by_id", split)
        ]
        writes += [partial(self._upsert_versions, fresh_df, partial(tr.to_sorted_table_rows, table=table),
                           table.name, split) for table in tr.SORTED_DEAL_TABLES]
        writes.append(partial(self._append, dt.to_price_history_rows(clean_df), "price_history_by_deal"))
        if stats["dead"]:
            writes.append(partial(self._append, dt.to_dead_letter_rows(judged_df), "dead_letters_by_day"))
        if counts["replacing"]:
            replaced_df = stored_df.join(fresh_df.select("deal_id"), on="deal_id", how="left_semi")
            writes.append(partial(self._delete_stale_sort_rows, replaced_df, fresh_df))
        results = run_concurrently(writes)
        clock.lap("writes")
        deleted, stale_merchants = next((r for r in results if isinstance(r, tuple)), (0, set()))
        deleted += self._refresh_merchant_ranking(fresh_df, stale_merchants)
        clock.lap("ranking")
        self._upsert_versions(fresh_df, tr.to_deal_versions_rows, "deal_versions", split)
        clock.lap("versions")
        if stats["rows_in"] > stats["dead"]:  # an empty (or all-malformed) batch has nothing to score
            self._scores(clean_df, batch_id)  # issue 12: score this batch's versions (pipeline/score_sink.py)
        clock.lap("scores")
        lag = None if stats["newest"] is None else max(0.0, time.time() - stats["newest"].timestamp())
        return BatchReport(batch_id, stats["rows_in"], stats["dead"], counts["fresh"], deleted, lag,
                           time.monotonic() - started, tuple(clock.rounds))

    def _hold(self, df: DataFrame) -> DataFrame:
        """Materialise `df` now and keep it for this batch only.

        A local checkpoint, not a cache: later plans start from these rows instead of re-optimising
        the parse/clean expressions (which costs more than running them on a micro-batch), and
        reads of Cassandra are never repeated after our own writes changed what they would see.
        """
        held_df = df.localCheckpoint(eager=True)
        self._held.append(held_df)
        return held_df

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
            deleted += self._delete(table.name, table.keys, rows)
        old_merchants = {row["merchant_id"] for row in collected if row["table"] == "deals_by_merchant"}
        return deleted, old_merchants

    def _upsert_versions(
        self, fresh_df: DataFrame, to_rows: Callable[[DataFrame], DataFrame], table: str, split: tuple[int, int]
    ) -> None:
        """Upsert without writing nulls for new deals (no tombstones), but clear the fields that
        became null in a replacing version, or the old value would linger. `split` is
        (new deals, replacing deals); an empty side costs no Spark job."""
        new_count, replacing_count = split
        if new_count and not replacing_count:
            self._append(to_rows(fresh_df), table)
            return
        if new_count:
            self._append(to_rows(fresh_df.filter(~F.col("is_replacing"))), table)
        if replacing_count:
            self._append(to_rows(fresh_df.filter(F.col("is_replacing"))), table, write_nulls=True)

    def _refresh_merchant_ranking(self, fresh_df: DataFrame, stale_merchants: set[int]) -> int:
        """Recompute the ranking rows of the merchants this batch touched, from deals_by_merchant."""
        spark = fresh_df.sparkSession
        merchant_ids_df = fresh_df.select("merchant_id").filter(F.col("merchant_id").isNotNull())
        if stale_merchants:
            extra_df = spark.createDataFrame([(m,) for m in sorted(stale_merchants)], "merchant_id long")
            merchant_ids_df = merchant_ids_df.union(extra_df)
        merchant_ids_df = merchant_ids_df.distinct()
        merchant_ids_df = self._hold(merchant_ids_df)
        merchant_deals_df, old_keys_df = run_side_by_side(
            lambda: self._read_keys("deals_by_merchant", merchant_ids_df, schemas.DEALS_BY_MERCHANT_SCHEMA),
            lambda: self._read_keys("merchant_rank_keys", merchant_ids_df, schemas.MERCHANT_RANK_KEYS_SCHEMA),
        )
        ranking_df = self._hold(tr.to_merchants_by_category_rows(merchant_deals_df))
        rank_key, row_key = ("category_slug", "deals_sold", "merchant_id"), ("merchant_id", "category_slug")
        # Deletes of stale rows and upserts of new ones touch disjoint keys, so each pair runs side by
        # side; the rank keys go second, like deal_versions, so after a crash they still find old rows.
        deleted, _ = run_side_by_side(
            lambda: self._delete("merchants_by_category", rank_key,
                                 [tuple(r) for r in tr.stale_keys(old_keys_df, ranking_df, rank_key).collect()]),
            lambda: self._append(ranking_df, "merchants_by_category"),
        )
        gone, _ = run_side_by_side(
            lambda: self._delete("merchant_rank_keys", row_key,
                                 [tuple(r) for r in tr.stale_keys(old_keys_df, ranking_df, row_key).collect()]),
            lambda: self._append(tr.to_merchant_rank_keys_rows(ranking_df), "merchant_rank_keys"),
        )
        return deleted + gone

    # -- I/O helpers ---------------------------------------------------------------------------

    def _read_keys(self, table: str, keys_df: DataFrame, schema: StructType) -> DataFrame:
        """Stored rows of `table` for the partition keys in `keys_df`, as of now (`PartitionReader`)."""
        return self._reader.read(keys_df, table, schema, self._hold)

    def _append(self, df: DataFrame, table: str, *, write_nulls: bool = False) -> None:
        append_rows(df, keyspace=self.settings.keyspace, table=table, write_nulls=write_nulls)

    def _delete(self, table: str, keys: tuple[str, ...], rows: list[tuple[object, ...]]) -> int:
        """Delete rows by full primary key. Only changed deals get here, so the set is small."""
        if not rows:
            return 0
        statement = self._delete_statement(table, keys)
        results = execute_concurrent_with_args(self._driver_session(), statement, rows,
                                               concurrency=DELETE_CONCURRENCY, raise_on_first_error=True)
        return sum(1 for ok, _ in results if ok)

    def _delete_statement(self, table: str, keys: tuple[str, ...]) -> PreparedStatement:
        if table not in self._deletes:
            # Table and column names are code constants; values are always bound, never formatted in.
            where = " AND ".join(f"{key} = ?" for key in keys)
            cql = f"DELETE FROM {self.settings.keyspace}.{table} WHERE {where}"
            self._deletes[table] = self._driver_session().prepare(cql)
        return self._deletes[table]

    def _driver_session(self) -> Session:
        if self._session is None:
            from conf.clients import cassandra_cluster

            self._session = cassandra_cluster(self.settings).connect()
        return self._session

    def close(self) -> None:
        self._scores.close()  # issue 12
        if self._session is not None:
            self._session.cluster.shutdown()
            self._session = None


def deal_tables_sink(settings: Settings) -> Callable[[DataFrame, int | None], BatchReport]:
    """The sink function for `foreachBatch` (streaming) or a direct call (batch)."""
    return DealTablesSink(settings)
