"""The score sink: a micro-batch's clean deal versions in, every score table written.

The speed layer runs it in a streaming query of its own (`from_raw`, see `streaming/deals_job.py`);
the batch layer's `DealTablesSink` calls it once over the lake, after the deal tables. It reads only the history
of the batch's own deals and items (by partition key), scores every version with the pure
transforms of `pipeline.deal_scores`, and writes in three rounds: versions, offers, the sorted
score tables and the deletes of stale sort rows; then the honesty of the merchants touched; then
`deal_scores_by_id` last — it records the keys each deal holds, so a replay after a crash anywhere
before finds the old keys again. Every write is an idempotent upsert on a deterministic key.

A small batch (read into the slots of frames built once, `_ScorePlans`, in the small session) goes
through the same rounds with its rows collected as JSON and sent from the driver, as the deal tables
do (`pipeline.driver_sink`): a score
batch of 60 records took 2.3–2.6 s that way against 3.0–4.0 s as the connector's jobs (quiet machine,
`local[2]`). A large one (a catch-up, the batch layer) is written by the connector.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial
from typing import Any

from cassandra.cluster import Session
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T
from pyspark.sql.types import StructType

from conf.settings import Settings
from pipeline import deal_scores as ds
from pipeline import deal_transforms as dt
from pipeline import schemas
from pipeline import score_rows as sr
from pipeline import score_schemas as ss
from pipeline import table_rows as tr
from pipeline.cassandra_io import SinkTables, run_concurrently
from pipeline.driver_sink import FRESH, OLD_KEYS, CollectedRows, keys_of, stacked, stale_sort_keys, upsert_statements
from pipeline.item_keys import with_item_key
from pipeline.plan_templates import SessionPlans, Slot, Template
from pipeline.score_rules import ScoreRules

log = logging.getLogger(__name__)
#: The (category, merchant) pairs a batch's deals are listed under, new and old: whose honesty changes.
TOUCHED = "touched-pairs"
TOUCHED_SCHEMA = T.StructType([T.StructField("category_slug", T.StringType()),
                               T.StructField("merchant_id", T.LongType())])


class DealScoreSink:
    """Scores a frame of clean deal versions and writes the score tables."""

    def __init__(self, settings: Settings, session: Callable[[], Session] | None = None) -> None:
        """`session`: the driver session of the sink this one runs inside, if any (else its own)."""
        self.settings = settings
        self.rules = ScoreRules.from_settings(settings)
        self._tables = SinkTables(settings, session)
        self._plans = SessionPlans(partial(_ScorePlans, rules=self.rules))  # the small batches' frames

    def from_raw(self, raw_df: DataFrame, batch_id: int | None = None) -> int:
        """Score a frame of raw deal records (the score stream's foreachBatch); malformed ones are
        the deal sink's to dead-letter, so they are only left out here. A batch of up to
        `sink_driver_max_keys` records is read into a slot and scored from templates (`_ScorePlans`)."""
        plans = self._plans.of(raw_df.sparkSession)
        try:
            if plans.raw.fill_at_most(raw_df, self.settings.sink_driver_max_keys) is None:
                return self(raw_df.transform(dt.clean_deal_records), batch_id)
            plans.clean.fill(plans.clean_from_raw.frame())
            return self._written_from_driver(plans, batch_id)
        finally:
            plans.clear()

    def __call__(self, clean_df: DataFrame, batch_id: int | None = None, *, on_driver: bool = False) -> int:
        """Score and write; returns the number of deals whose newest score was written. `on_driver`: the
        frame holds a small batch's rows (in the small session), so it is scored from templates and its
        tables are written from the driver, not as the connector's Spark jobs."""
        if not on_driver:
            try:
                return self._write(clean_df)
            finally:
                self._tables.release()
        plans = self._plans.of(clean_df.sparkSession)
        try:
            plans.clean.fill(clean_df)
            return self._written_from_driver(plans, batch_id)
        finally:
            plans.clear()

    def _written_from_driver(self, plans: _ScorePlans, batch_id: int | None) -> int:
        fresh = self._write_from_driver(plans)
        log.info("batch %s: %d deals' scores written from the driver", batch_id, fresh)
        return fresh

    def _write(self, clean_df: DataFrame) -> int:
        """A large batch (a catch-up, the batch layer): Spark joins and the connector's jobs."""
        versions_df = self._tables.hold(ds.distinct_versions(clean_df).transform(with_item_key))
        stored_versions_df, stored_offers_df, stored_keys_df = run_concurrently([
            lambda: self._read("deal_score_versions", versions_df.select("deal_id").distinct(),
                               ss.DEAL_SCORE_VERSIONS_SCHEMA),
            lambda: self._read("offer_prices_by_item", versions_df.select("item_key").distinct().dropna(),
                               ss.OFFER_PRICES_BY_ITEM_SCHEMA),
            lambda: self._read("deal_scores_by_id", versions_df.select("deal_id").distinct(),
                               ss.DEAL_SCORES_BY_ID_SCHEMA),
        ])
        scores_df = self._tables.hold(ds.score_deal_versions(
            versions_df, sr.observations(versions_df, stored_versions_df),
            sr.offers(versions_df, stored_offers_df), self.rules))
        incidents_df = sr.inflation_incidents(scores_df, stored_versions_df)
        latest_df = sr.latest_score_deals(ds.latest_scores(scores_df), versions_df, incidents_df)
        fresh_df = self._tables.hold(tr.filter_newer_than_stored(latest_df, stored_keys_df))
        replaced_df = self._tables.hold(stored_keys_df.join(fresh_df.select("deal_id"), on="deal_id", how="left_semi")
                                 .withColumn("has_merchant", F.col("merchant_id").isNotNull()))
        counts = fresh_df.agg(F.count(F.lit(1)).alias("fresh"),
                              F.count(F.when(F.col("is_replacing"), 1)).alias("replacing")).first()
        assert counts is not None  # an aggregate without grouping has exactly one row
        split = (counts["fresh"] - counts["replacing"], counts["replacing"])
        writes: list[Callable[[], object]] = [
            partial(self._tables.append, sr.to_score_version_rows(scores_df, versions_df), "deal_score_versions"),
            partial(self._tables.append, sr.to_offer_rows(versions_df), "offer_prices_by_item"),
        ]
        if counts["replacing"]:
            writes.append(partial(self._delete_stale_rows, replaced_df, fresh_df))
        writes += [partial(self._tables.upsert, fresh_df, partial(tr.to_sorted_table_rows, table=table),
                           table.name, split) for table in sr.SORTED_SCORE_TABLES]
        run_concurrently(writes)
        self._refresh_honesty(fresh_df, replaced_df)
        self._tables.upsert(fresh_df, sr.to_deal_scores_by_id_rows, "deal_scores_by_id", split)
        log.info("a batch of %d deals' scores written", counts["fresh"])
        return int(counts["fresh"])

    def _write_from_driver(self, plans: _ScorePlans) -> int:
        """The rounds of `_write` for a small batch in `plans.clean`: its versions and their stored rows
        held in slots, then one Spark job collects every table's rows as JSON (`driver_sink.CollectedRows`)
        and the driver sends them, in the same order (`deal_scores_by_id` last); a second job computes
        the honesty rows. Returns the deals whose newest score was written."""
        plans.versions.fill(plans.distinct_versions.frame())
        keys = plans.version_keys.frame().collect()
        deal_ids = sorted({row["deal_id"] for row in keys})
        item_keys = sorted({row["item_key"] for row in keys if row["item_key"] is not None})
        stored = run_concurrently([partial(self._tables.read_keys, table, key, values, schema)
                                   for table, key, values, schema in (
                                       ("deal_score_versions", "deal_id", deal_ids, ss.DEAL_SCORE_VERSIONS_SCHEMA),
                                       ("offer_prices_by_item", "item_key", item_keys, ss.OFFER_PRICES_BY_ITEM_SCHEMA),
                                       ("deal_scores_by_id", "deal_id", deal_ids, ss.DEAL_SCORES_BY_ID_SCHEMA))])
        slots = (plans.stored_versions, plans.stored_offers, plans.stored_keys)
        for slot, rows_read in zip(slots, stored, strict=True):
            slot.fill_rows(rows_read)
        plans.scores.fill(plans.score.frame())
        rows = CollectedRows(plans.rows.frame())
        stored_ids = {record["deal_id"] for record in rows.records(OLD_KEYS, "deal_scores_by_id")}
        fresh_ids = {record["deal_id"] for record in rows.records(FRESH, "deal_scores_by_id")}
        statements = upsert_statements(self._tables, rows, ["deal_score_versions", "offer_prices_by_item"])
        statements += upsert_statements(self._tables, rows, [t.name for t in sr.SORTED_SCORE_TABLES],
                                        replacing_ids=stored_ids)
        for table in sr.SORTED_SCORE_TABLES:
            statements += [(self._tables.delete_statement(table.name, table.keys), key)
                           for key in stale_sort_keys(rows, table, fresh_ids)]
        self._tables.execute(statements)
        touched = keys_of([*rows.records(FRESH, TOUCHED), *rows.records(OLD_KEYS, TOUCHED)],
                          ("category_slug", "merchant_id"))
        self._refresh_honesty_from_driver(plans, touched)
        self._tables.execute(upsert_statements(self._tables, rows, ["deal_scores_by_id"], replacing_ids=stored_ids))
        return len(fresh_ids)

    def _refresh_honesty_from_driver(self, plans: _ScorePlans, touched: set[tuple[Any, ...]]) -> None:
        """`_refresh_honesty` for the (category, merchant) pairs `touched`, read and written from the driver."""
        if not touched:
            return
        plans.merchant_scores.fill_rows(self._tables.read_keys(
            "deal_scores_by_merchant", "merchant_id", sorted({merchant for _, merchant in touched}),
            ss.DEAL_SCORES_BY_MERCHANT_SCHEMA))
        plans.touched.fill_rows(sorted(touched))
        rows = CollectedRows(plans.honesty.frame())
        self._tables.execute(upsert_statements(self._tables, rows, ["merchant_honesty_by_category"]))

    def _refresh_honesty(self, fresh_df: DataFrame, replaced_df: DataFrame) -> None:
        """Recompute the honesty rows of every merchant this batch touched, old and new."""
        touched_df = self._tables.hold(sr.listing_pairs(fresh_df.select(*sr.SCORE_KEY_COLUMNS))
                                .unionByName(sr.listing_pairs(replaced_df.select(*sr.SCORE_KEY_COLUMNS)))
                                .distinct())
        merchants_df = touched_df.select("merchant_id").distinct()
        scores_df = self._read("deal_scores_by_merchant", merchants_df, ss.DEAL_SCORES_BY_MERCHANT_SCHEMA)
        honesty_df = self._tables.hold(sr.to_merchant_honesty_rows(scores_df))
        emptied_df = sr.emptied_honesty_rows(touched_df, honesty_df)
        run_concurrently([partial(self._tables.append, frame, "merchant_honesty_by_category")
                          for frame in (honesty_df, emptied_df)])

    def _delete_stale_rows(self, replaced_df: DataFrame, fresh_df: DataFrame) -> int:
        """Delete the sorted score rows whose key the newer score no longer holds."""
        deleted = 0
        for table in sr.SORTED_SCORE_TABLES:
            stale_df = tr.stale_keys(tr.to_sorted_table_keys(replaced_df, table),
                                     tr.to_sorted_table_keys(fresh_df, table), table.keys)
            deleted += self._tables.delete(table.name, table.keys, [tuple(row) for row in stale_df.collect()])
        return deleted

    def _read(self, table: str, keys_df: DataFrame, schema: StructType) -> DataFrame:
        return self._tables.read(table, keys_df, schema)

    def close(self) -> None:
        self._tables.close()


class _ScorePlans:
    """`DealScoreSink`'s frames for a small batch, built once per session over slots (`plan_templates`):
    the clean records (from raw ones, or handed over by the deal sink), their distinct versions, the
    stored rows read for them, the scores (each held in a slot: several branches read them), every
    table's rows as JSON, and the honesty of the merchants touched."""

    def __init__(self, spark: SparkSession, rules: ScoreRules) -> None:
        self.raw = Slot(spark, schemas.RAW_RECORD_SCHEMA)
        self.clean_from_raw = Template(self.raw.df.transform(dt.clean_deal_records))
        self.clean = Slot(spark, self.clean_from_raw.schema)
        self.distinct_versions = Template(ds.distinct_versions(self.clean.df).transform(with_item_key))
        self.versions = Slot(spark, self.distinct_versions.schema)
        versions_df = self.versions.df
        self.version_keys = Template(versions_df.select("deal_id", "item_key"))
        self.stored_versions = Slot(spark, ss.DEAL_SCORE_VERSIONS_SCHEMA)
        self.stored_offers = Slot(spark, ss.OFFER_PRICES_BY_ITEM_SCHEMA)
        self.stored_keys = Slot(spark, ss.DEAL_SCORES_BY_ID_SCHEMA)
        self.score = Template(ds.score_deal_versions(
            versions_df, sr.observations(versions_df, self.stored_versions.df),
            sr.offers(versions_df, self.stored_offers.df), rules))
        self.scores = Slot(spark, self.score.schema)
        self.rows = Template(stacked(_score_json_frames(versions_df, self.scores.df, self.stored_versions.df,
                                                        self.stored_keys.df)))
        self.merchant_scores = Slot(spark, ss.DEAL_SCORES_BY_MERCHANT_SCHEMA)
        self.touched = Slot(spark, TOUCHED_SCHEMA)
        honesty_df = sr.to_merchant_honesty_rows(self.merchant_scores.df)
        emptied_df = sr.emptied_honesty_rows(self.touched.df, honesty_df)
        self.honesty = Template(stacked([tr.to_json_rows(frame, FRESH, "merchant_honesty_by_category")
                                         for frame in (honesty_df, emptied_df)]))

    def clear(self) -> None:
        for slot in (self.raw, self.clean, self.versions, self.stored_versions, self.stored_offers,
                     self.stored_keys, self.scores, self.merchant_scores, self.touched):
            slot.clear()


def _score_json_frames(versions_df: DataFrame, scores_df: DataFrame, stored_versions_df: DataFrame,
                       stored_keys_df: DataFrame) -> list[DataFrame]:
    """Every row a small batch's scores write and every stored key they may replace, as `to_json_rows`
    frames (the same rows `DealScoreSink._write` writes through the connector)."""
    incidents_df = sr.inflation_incidents(scores_df, stored_versions_df)
    latest_df = sr.latest_score_deals(ds.latest_scores(scores_df), versions_df, incidents_df)
    fresh_df = tr.filter_newer_than_stored(latest_df, stored_keys_df)
    replaced_df = (stored_keys_df.join(fresh_df.select("deal_id"), on="deal_id", how="left_semi")
                   .withColumn("has_merchant", F.col("merchant_id").isNotNull()))
    stored_with_merchant_df = stored_keys_df.withColumn("has_merchant", F.col("merchant_id").isNotNull())
    return [
        tr.to_json_rows(sr.to_score_version_rows(scores_df, versions_df), FRESH, "deal_score_versions"),
        tr.to_json_rows(sr.to_offer_rows(versions_df), FRESH, "offer_prices_by_item"),
        tr.to_json_rows(sr.to_deal_scores_by_id_rows(fresh_df), FRESH, "deal_scores_by_id"),
        tr.to_json_rows(stored_keys_df.select("deal_id"), OLD_KEYS, "deal_scores_by_id"),
        *(tr.to_json_rows(tr.to_sorted_table_rows(fresh_df, table), FRESH, table.name)
          for table in sr.SORTED_SCORE_TABLES),
        *(tr.to_json_rows(tr.to_sorted_table_keys(stored_with_merchant_df, table), OLD_KEYS, table.name)
          for table in sr.SORTED_SCORE_TABLES),
        tr.to_json_rows(sr.listing_pairs(fresh_df.select(*sr.SCORE_KEY_COLUMNS)), FRESH, TOUCHED),
        tr.to_json_rows(sr.listing_pairs(replaced_df.select(*sr.SCORE_KEY_COLUMNS)), OLD_KEYS, TOUCHED),
    ]
