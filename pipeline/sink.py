"""The one sink both jobs share: a raw record frame in, every deal table of Cassandra written.

Streaming passes `write_deal_tables` to `foreachBatch`; batch calls it once over the lake. Order
of writes makes a crash at any point safe to replay (foreachBatch is at-least-once):
stale sort rows are deleted first, then the sorted tables are upserted, and `deals_by_id` — the
record of what is current — is written last.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from cassandra.concurrent import execute_concurrent_with_args
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from conf.settings import Settings
from pipeline import deal_transforms as dt
from pipeline import table_rows as tr

log = logging.getLogger(__name__)
CASSANDRA_FORMAT = "org.apache.spark.sql.cassandra"
DELETE_CONCURRENCY = 64


@dataclass(frozen=True)
class BatchReport:
    batch_id: int | None
    rows_in: int
    dead_letters: int
    deals_written: int
    stale_rows_deleted: int
    lag_s: float | None
    seconds: float


class DealTablesSink:
    """Writes a raw record frame to every deal table; callable as a foreachBatch function."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._session = None  # cassandra-driver session for deletes, opened on first need
        self._deletes: dict[str, object] = {}
        self.reports: list[BatchReport] = []

    def __call__(self, raw_df: DataFrame, batch_id: int | None = None) -> BatchReport:
        started = time.monotonic()
        raw_df = raw_df.persist()
        try:
            report = self._write(raw_df, batch_id, started)
        finally:
            raw_df.unpersist()
        self.reports.append(report)
        log.info(
            "batch %s: %d rows in, %d deals written, %d dead letters, %d stale rows deleted, lag %s, %.2fs",
            batch_id, report.rows_in, report.deals_written, report.dead_letters, report.stale_rows_deleted,
            "n/a" if report.lag_s is None else f"{report.lag_s:.2f}s", report.seconds,
        )
        return report

    # -- the steps -----------------------------------------------------------------------------

    def _write(self, raw_df: DataFrame, batch_id: int | None, started: float) -> BatchReport:
        parsed_df = raw_df.transform(dt.parse_deal_records).persist()
        dead_df = dt.to_dead_letter_rows(parsed_df).persist()
        clean_df = parsed_df.transform(dt.filter_valid_deals).transform(dt.clean_deals).persist()
        try:
            dead_count = dead_df.count()
            self._append(dead_df, "dead_letters_by_day")
            self._append(dt.to_price_history_rows(clean_df), "price_history_by_deal")
            written, deleted = self._write_current_deals(clean_df.transform(dt.latest_deal_versions))
            stats = raw_df.agg(F.count(F.lit(1)).alias("n"), F.max("timestamp").alias("newest")).first()
        finally:
            for df in (parsed_df, dead_df, clean_df):
                df.unpersist()
        lag = None if stats["newest"] is None else max(0.0, time.time() - stats["newest"].timestamp())
        return BatchReport(batch_id, stats["n"], dead_count, written, deleted, lag, time.monotonic() - started)

    def _write_current_deals(self, latest_df: DataFrame) -> tuple[int, int]:
        spark = latest_df.sparkSession
        latest_df = latest_df.localCheckpoint(eager=True)
        ids_df = latest_df.select("deal_id")
        # Materialised before any write: the stored versions must not be re-read after we update them.
        stored_df = self._read("deals_by_id").join(ids_df, on="deal_id", how="inner").localCheckpoint(eager=True)
        fresh_df = tr.filter_newer_than_stored(latest_df, stored_df).localCheckpoint(eager=True)
        replaced_df = stored_df.join(fresh_df.select("deal_id"), on="deal_id", how="left_semi")
        has_replacements = not replaced_df.isEmpty()
        deleted = 0
        touched_merchants_df = spark.createDataFrame([], "merchant_id long")
        for table, (to_rows, keys) in tr.SORTED_DEAL_TABLES.items():
            new_rows_df = to_rows(fresh_df)
            if has_replacements:
                stale_df = tr.stale_keys(to_rows(replaced_df), new_rows_df, keys)
                deleted += self._delete(table, keys, stale_df)
            self._upsert_versions(fresh_df, to_rows, table, has_replacements=has_replacements)
            if table == "deals_by_merchant":
                touched_merchants_df = new_rows_df.select("merchant_id")
                if has_replacements:
                    touched_merchants_df = touched_merchants_df.union(stale_df.select("merchant_id"))
        deleted += self._refresh_merchant_ranking(touched_merchants_df.distinct())
        self._upsert_versions(fresh_df, tr.to_deals_by_id_rows, "deals_by_id", has_replacements=has_replacements)
        return fresh_df.count(), deleted

    def _upsert_versions(self, fresh_df: DataFrame, to_rows, table: str, *, has_replacements: bool) -> None:  # type: ignore[no-untyped-def]
        """Upsert without writing nulls for new deals (no tombstones), but clear the fields that
        became null in a replacing version, or the old value would linger."""
        if not has_replacements:
            self._append(to_rows(fresh_df), table)
            return
        self._append(to_rows(fresh_df.filter(~F.col("is_replacing"))), table)
        self._append(to_rows(fresh_df.filter(F.col("is_replacing"))), table, write_nulls=True)

    def _refresh_merchant_ranking(self, merchant_ids_df: DataFrame) -> int:
        """Recompute the ranking rows of the merchants this batch touched, from deals_by_merchant."""
        merchant_ids_df = merchant_ids_df.localCheckpoint(eager=True)
        if merchant_ids_df.isEmpty():
            return 0
        deals_df = self._read("deals_by_merchant").join(merchant_ids_df, on="merchant_id", how="inner")
        ranking_df = tr.to_merchants_by_category_rows(deals_df).localCheckpoint(eager=True)
        old_keys_df = self._read("merchant_rank_keys").join(merchant_ids_df, on="merchant_id", how="inner")
        old_keys_df = old_keys_df.localCheckpoint(eager=True)
        rank_key = ("category_slug", "deals_sold", "merchant_id")
        deleted = self._delete("merchants_by_category", rank_key, tr.stale_keys(old_keys_df, ranking_df, rank_key))
        deleted += self._delete("merchant_rank_keys", ("merchant_id", "category_slug"),
                                tr.stale_keys(old_keys_df, ranking_df, ("merchant_id", "category_slug")))
        self._append(ranking_df, "merchants_by_category")
        self._append(tr.to_merchant_rank_keys_rows(ranking_df), "merchant_rank_keys")
        return deleted

    # -- I/O helpers ---------------------------------------------------------------------------

    def _read(self, table: str) -> DataFrame:
        from pyspark.sql import SparkSession

        spark = SparkSession.getActiveSession()
        assert spark is not None, "the sink runs inside a Spark job"
        return spark.read.format(CASSANDRA_FORMAT).options(keyspace=self.settings.keyspace, table=table).load()

    def _append(self, df: DataFrame, table: str, *, write_nulls: bool = False) -> None:
        (
            df.write.format(CASSANDRA_FORMAT)
            .options(keyspace=self.settings.keyspace, table=table)
            .option("spark.cassandra.output.ignoreNulls", str(not write_nulls).lower())
            .mode("append")
            .save()
        )

    def _delete(self, table: str, keys: tuple[str, ...], keys_df: DataFrame) -> int:
        """Delete rows by full primary key. Only changed deals get here, so the set is small."""
        rows = [tuple(row) for row in keys_df.toLocalIterator()]
        if not rows:
            return 0
        statement = self._delete_statement(table, keys)
        results = execute_concurrent_with_args(self._driver_session(), statement, rows,
                                               concurrency=DELETE_CONCURRENCY, raise_on_first_error=True)
        return sum(1 for ok, _ in results if ok)

    def _delete_statement(self, table: str, keys: tuple[str, ...]):  # type: ignore[no-untyped-def]
        if table not in self._deletes:
            # Table and column names are code constants; values are always bound, never formatted in.
            where = " AND ".join(f"{key} = ?" for key in keys)
            cql = f"DELETE FROM {self.settings.keyspace}.{table} WHERE {where}"
            self._deletes[table] = self._driver_session().prepare(cql)
        return self._deletes[table]

    def _driver_session(self):  # type: ignore[no-untyped-def]
        if self._session is None:
            from stack.cql import cluster_for

            self._session = cluster_for(self.settings).connect()
        return self._session

    def close(self) -> None:
        if self._session is not None:
            self._session.cluster.shutdown()
            self._session = None


def deal_tables_sink(settings: Settings) -> Callable[[DataFrame, int | None], BatchReport]:
    """The sink function for `foreachBatch` (streaming) or a direct call (batch)."""
    return DealTablesSink(settings)
