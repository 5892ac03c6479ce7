"""The score sink: a micro-batch's clean deal versions in, every score table written.

`DealTablesSink` calls it once per micro-batch (streaming) or once over the lake (batch), after the
deal tables, so a live deal is scored in the micro-batch that stores it. It reads only the history
of the batch's own deals and items (by partition key), scores every version with the pure
transforms of `pipeline.deal_scores`, and writes in three rounds: versions, offers, the sorted
score tables and the deletes of stale sort rows; then the honesty of the merchants touched; then
`deal_scores_by_id` last — it records the keys each deal holds, so a replay after a crash anywhere
before finds the old keys again. Every write is an idempotent upsert on a deterministic key.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial

from cassandra.cluster import Session
from cassandra.concurrent import execute_concurrent_with_args
from cassandra.query import PreparedStatement
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import StructType

from conf.settings import Settings
from pipeline import deal_scores as ds
from pipeline import score_rows as sr
from pipeline import score_schemas as ss
from pipeline import table_rows as tr
from pipeline.cassandra_io import PartitionReader, append_rows, run_concurrently
from pipeline.item_keys import with_item_key
from pipeline.score_rules import ScoreRules

log = logging.getLogger(__name__)
DELETE_CONCURRENCY = 64


class DealScoreSink:
    """Scores a frame of clean deal versions and writes the score tables."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.rules = ScoreRules.from_settings(settings)
        self._session: Session | None = None
        self._reader = PartitionReader(self._driver_session, settings.keyspace, settings.sink_driver_max_keys)
        self._deletes: dict[str, PreparedStatement] = {}
        self._held: list[DataFrame] = []

    def __call__(self, clean_df: DataFrame, batch_id: int | None = None) -> int:
        """Score and write; returns the number of deals whose newest score was written."""
        try:
            return self._write(clean_df, batch_id)
        finally:
            for held_df in self._held:
                held_df.unpersist()
            self._held.clear()

    def _write(self, clean_df: DataFrame, batch_id: int | None) -> int:
        versions_df = self._hold(ds.distinct_versions(clean_df).transform(with_item_key))
        stored_versions_df, stored_offers_df, stored_keys_df = run_concurrently([
            lambda: self._read("deal_score_versions", versions_df.select("deal_id").distinct(),
                               ss.DEAL_SCORE_VERSIONS_SCHEMA),
            lambda: self._read("offer_prices_by_item", versions_df.select("item_key").distinct().dropna(),
                               ss.OFFER_PRICES_BY_ITEM_SCHEMA),
            lambda: self._read("deal_scores_by_id", versions_df.select("deal_id").distinct(),
                               ss.DEAL_SCORES_BY_ID_SCHEMA),
        ])
        scores_df = self._hold(ds.score_deal_versions(
            versions_df, sr.observations(versions_df, stored_versions_df),
            sr.offers(versions_df, stored_offers_df), self.rules))
        incidents_df = sr.inflation_incidents(scores_df, stored_versions_df)
        latest_df = sr.latest_score_deals(ds.latest_scores(scores_df), versions_df, incidents_df)
        fresh_df = self._hold(tr.filter_newer_than_stored(latest_df, stored_keys_df))
        replaced_df = self._hold(stored_keys_df.join(fresh_df.select("deal_id"), on="deal_id", how="left_semi")
                                 .withColumn("has_merchant", F.col("merchant_id").isNotNull()))
        counts = fresh_df.agg(F.count(F.lit(1)).alias("fresh"),
                              F.count(F.when(F.col("is_replacing"), 1)).alias("replacing")).first()
        assert counts is not None  # an aggregate without grouping has exactly one row
        split = (counts["fresh"] - counts["replacing"], counts["replacing"])
        writes: list[Callable[[], object]] = [
            partial(self._append, sr.to_score_version_rows(scores_df, versions_df), "deal_score_versions"),
            partial(self._append, sr.to_offer_rows(versions_df), "offer_prices_by_item"),
        ]
        if counts["replacing"]:
            writes.append(partial(self._delete_stale_rows, replaced_df, fresh_df))
        writes += [partial(self._upsert, fresh_df, partial(tr.to_sorted_table_rows, table=table), table.name, split)
                   for table in sr.SORTED_SCORE_TABLES]
        run_concurrently(writes)
        self._refresh_honesty(fresh_df, replaced_df)
        self._upsert(fresh_df, sr.to_deal_scores_by_id_rows, "deal_scores_by_id", split)
        log.info("batch %s: %d deals' scores written", batch_id, counts["fresh"])
        return int(counts["fresh"])

    def _refresh_honesty(self, fresh_df: DataFrame, replaced_df: DataFrame) -> None:
        """Recompute the honesty rows of every merchant this batch touched, old and new."""
        touched_df = self._hold(sr.listing_pairs(fresh_df.select(*sr.SCORE_KEY_COLUMNS))
                                .unionByName(sr.listing_pairs(replaced_df.select(*sr.SCORE_KEY_COLUMNS)))
                                .distinct())
        merchants_df = touched_df.select("merchant_id").distinct()
        scores_df = self._read("deal_scores_by_merchant", merchants_df, ss.DEAL_SCORES_BY_MERCHANT_SCHEMA)
        honesty_df = self._hold(sr.to_merchant_honesty_rows(scores_df))
        run_concurrently([
            partial(self._append, honesty_df, "merchant_honesty_by_category"),
            partial(self._append, sr.emptied_honesty_rows(touched_df, honesty_df), "merchant_honesty_by_category"),
        ])

    def _delete_stale_rows(self, replaced_df: DataFrame, fresh_df: DataFrame) -> int:
        """Delete the sorted score rows whose key the newer score no longer holds."""
        deleted = 0
        for table in sr.SORTED_SCORE_TABLES:
            stale_df = tr.stale_keys(tr.to_sorted_table_keys(replaced_df, table),
                                     tr.to_sorted_table_keys(fresh_df, table), table.keys)
            deleted += self._delete(table.name, table.keys, [tuple(row) for row in stale_df.collect()])
        return deleted

    def _upsert(self, fresh_df: DataFrame, to_rows: Callable[[DataFrame], DataFrame], table: str,
                split: tuple[int, int]) -> None:
        """New deals without nulls (no tombstones); replacing ones with nulls, so a dropped field clears.
        `split` is (new deals, replacing deals): an empty side costs no Spark job."""
        new_count, replacing_count = split
        if new_count:
            self._append(to_rows(fresh_df.filter(~F.col("is_replacing"))), table)
        if replacing_count:
            self._append(to_rows(fresh_df.filter(F.col("is_replacing"))), table, write_nulls=True)

    # -- I/O helpers ---------------------------------------------------------------------------

    def _hold(self, df: DataFrame) -> DataFrame:
        """Materialise now for this batch only (see `DealTablesSink._hold`)."""
        held_df = df.localCheckpoint(eager=True)
        self._held.append(held_df)
        return held_df

    def _read(self, table: str, keys_df: DataFrame, schema: StructType) -> DataFrame:
        return self._reader.read(keys_df, table, schema, self._hold)

    def _append(self, df: DataFrame, table: str, *, write_nulls: bool = False) -> None:
        append_rows(df, keyspace=self.settings.keyspace, table=table, write_nulls=write_nulls)

    def _delete(self, table: str, keys: tuple[str, ...], rows: list[tuple[object, ...]]) -> int:
        if not rows:
            return 0
        if table not in self._deletes:
            # Table and column names are code constants; values are always bound, never formatted in.
            where = " AND ".join(f"{key} = ?" for key in keys)
            cql = f"DELETE FROM {self.settings.keyspace}.{table} WHERE {where}"
            self._deletes[table] = self._driver_session().prepare(cql)
        results = execute_concurrent_with_args(self._driver_session(), self._deletes[table], rows,
                                               concurrency=DELETE_CONCURRENCY, raise_on_first_error=True)
        return sum(1 for ok, _ in results if ok)

    def _driver_session(self) -> Session:
        if self._session is None:
            from conf.clients import cassandra_cluster

            self._session = cassandra_cluster(self.settings).connect()
        return self._session

    def close(self) -> None:
        if self._session is not None:
            self._session.cluster.shutdown()
            self._session = None
