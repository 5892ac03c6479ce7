"""The deal tables of a small micro-batch, written from the Spark driver.

Through the connector a micro-batch of a few deals cost about eleven rounds of Spark jobs (counts,
seven writes, two reads, the merchant ranking, `deal_versions`), each with the fixed cost of a job:
seconds on two busy cores, whatever the batch's size. Here the same transforms shape every row, from
frames built once (`DealPlans`, `pipeline.plan_templates`); one Spark job collects them all as JSON
(`table_rows.to_json_rows`), and the driver sends them with prepared `INSERT ... JSON` statements,
many in flight; a second job ranks the merchants the batch touched. The rows are the ones the
connector would write: the table tests check both paths against the oracle.

The order of `DealTablesSink._write`, and so its crash-safety, is kept: the deal tables, price history,
dead letters and the deletes of stale sort rows first; then the merchant ranking (its rows, then its
rank keys); `deal_versions` last, so a replay after a crash anywhere before it finds the old sort keys
again. A stale sort key is one the stored version of a deal has and its fresh version has not; both
sides come from the same transform (`to_sorted_table_keys`) through the same JSON, so they compare
exactly on the driver.
"""
from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial, reduce
from typing import Any

from cassandra.query import PreparedStatement
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from pipeline import deal_transforms as dt
from pipeline import schemas
from pipeline import table_rows as tr
from pipeline.cassandra_io import SinkTables
from pipeline.plan_templates import Slot, Template

#: Kinds of collected rows: the rows of this batch's fresh versions, what the stored ones hold, and
#: facts of the batch itself.
FRESH, OLD_KEYS, BATCH = "fresh", "old-keys", "batch"
#: `table_rows.CQL_JSON_OPTIONS`' timestamps, read back in Python.
JSON_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%f%z"
#: The row shapes a fresh deal version writes, by table; `deal_versions` goes last of all.
FRESH_ROWS: tuple[tuple[str, Callable[[DataFrame], DataFrame]], ...] = (
    ("deals_by_id", tr.to_deals_by_id_rows),
    *((table.name, partial(tr.to_sorted_table_rows, table=table)) for table in tr.SORTED_DEAL_TABLES),
)
RANK_KEY = ("category_slug", "deals_sold", "merchant_id")  # merchants_by_category's primary key
ROW_KEY = ("merchant_id", "category_slug")  # merchant_rank_keys' primary key

Record = dict[str, Any]
Statements = list[tuple[PreparedStatement, Sequence[object]]]


class CollectedRows:
    """The JSON rows of a batch's frames of `to_json_rows` shape, by (kind, table)."""

    def __init__(self, frames: Sequence[DataFrame] | DataFrame, *, stack: bool = True) -> None:
        """Collect every frame of `to_json_rows` shape (or one frame of them stacked, `stacked`) in one
        Spark job; with `stack=False` each frame on its own, for frames Spark computes on the driver
        (projections of a slot's rows, `pipeline.plan_templates`: no job each, where their union is one)."""
        self._json: dict[tuple[str, str], list[str]] = defaultdict(list)
        one = [frames] if isinstance(frames, DataFrame) else [stacked(frames)] if stack else frames
        for frame in one:
            for row in frame.collect():
                self._json[row["kind"], row["table"]].append(row["json"])

    def json(self, kind: str, table: str) -> list[str]:
        return self._json.get((kind, table), [])

    def records(self, kind: str, table: str) -> list[Record]:
        return [json.loads(text) for text in self.json(kind, table)]


def stacked(frames: Sequence[DataFrame]) -> DataFrame:
    """Frames of `to_json_rows` shape as one, in one task (the rows are few)."""
    return reduce(DataFrame.union, frames).coalesce(1)  # same columns in the same order


def keys_of(records: Iterable[Record], keys: tuple[str, ...]) -> set[tuple[Any, ...]]:
    return {tuple(record.get(key) for key in keys) for record in records}


class DealPlans:
    """The frames of a small deals batch, built once per session over slots (`plan_templates`) and run
    on each batch's rows: the records judged, the newest version of each deal, every table row as JSON,
    the merchant ranking. What the templates compute is what `DealTablesSink._write_large` computes
    with the same transforms; the table tests check both paths against the oracle."""

    def __init__(self, spark: SparkSession) -> None:
        self.raw = Slot(spark, schemas.RAW_RECORD_SCHEMA)
        judged_df = self.raw.df.transform(dt.parse_deal_records).transform(dt.with_rejection_reason)
        self.judge = Template(judged_df)
        # Held in slots (computed once per batch, not once per branch that reads them): the judged
        # records and the newest versions, which a window ranks.
        self.judged = Slot(spark, judged_df.schema)
        clean_df = self.judged.df.transform(dt.filter_valid_deals).transform(dt.clean_deals)
        self.clean = Template(clean_df)
        latest_df = clean_df.transform(dt.latest_deal_versions).transform(tr.with_sort_flags)
        self.newest = Template(latest_df)
        self.latest = Slot(spark, latest_df.schema)
        self.latest_ids = Template(self.latest.df.select("deal_id"))
        self.stored = Slot(spark, schemas.DEAL_VERSIONS_SCHEMA)
        self.rows = Template(stacked(_table_json_frames(self.judged.df, clean_df, self.latest.df,
                                                        self.stored.df.transform(tr.with_sort_flags))))
        self.merchant_deals = Slot(spark, schemas.DEALS_BY_MERCHANT_SCHEMA)
        ranking_df = tr.to_merchants_by_category_rows(self.merchant_deals.df)
        self.ranking = Template(stacked([
            tr.to_json_rows(ranking_df, FRESH, "merchants_by_category"),
            tr.to_json_rows(tr.to_merchant_rank_keys_rows(ranking_df), FRESH, "merchant_rank_keys")]))

    def clear(self) -> None:
        for slot in (self.raw, self.judged, self.latest, self.stored, self.merchant_deals):
            slot.clear()


def _table_json_frames(judged_df: DataFrame, clean_df: DataFrame, latest_df: DataFrame,
                       stored_df: DataFrame) -> list[DataFrame]:
    """Every row the batch writes and every stored key it may replace, as `to_json_rows` frames.

    Whether a row replaces a stored version, and so clears the fields it no longer has, is told on
    the driver from the stored deal ids; so is the batch's newest arrival (its lag)."""
    fresh_df = tr.filter_newer_than_stored(latest_df, stored_df)
    frames = [tr.to_json_rows(to_rows(fresh_df), FRESH, table)
              for table, to_rows in (*FRESH_ROWS, ("deal_versions", tr.to_deal_versions_rows))]
    frames.append(tr.to_json_rows(stored_df.select("deal_id"), OLD_KEYS, "deal_versions"))
    frames += [tr.to_json_rows(tr.to_sorted_table_keys(stored_df, table), OLD_KEYS, table.name)
               for table in tr.SORTED_DEAL_TABLES]
    frames.append(tr.to_json_rows(dt.to_price_history_rows(clean_df), FRESH, "price_history_by_deal"))
    frames.append(tr.to_json_rows(dt.to_dead_letter_rows(judged_df), FRESH, "dead_letters_by_day"))
    frames.append(arrivals_frame(judged_df))
    return frames


def arrivals_frame(judged_df: DataFrame) -> DataFrame:
    """The newest arrival among judged records, as a `to_json_rows` frame (read back by `newest_arrival`)."""
    return tr.to_json_rows(judged_df.agg(F.max("received_at").alias("newest")), BATCH, "arrivals")


def newest_arrival(rows: CollectedRows) -> datetime | None:
    """The newest arrival `arrivals_frame` collected; None for a batch without records."""
    newest = next(iter(rows.records(BATCH, "arrivals")), {}).get("newest")
    return None if newest is None else datetime.strptime(newest, JSON_TIME_FORMAT)


@dataclass(frozen=True)
class DriverWrite:
    """What `write_from_driver` did: fresh versions written, rows deleted, dead letters written, and
    the newest arrival among the batch's records (None for an empty batch)."""

    fresh: int
    deleted: int
    dead_letters: int
    newest: datetime | None


def write_from_driver(tables: SinkTables, plans: DealPlans, *, lap: Callable[[str], None]) -> DriverWrite:
    """Every deal table for the batch in `plans.raw`, in the order of `DealTablesSink._write`."""
    plans.judged.fill(plans.judge.frame())
    lap("parse")
    plans.latest.fill(plans.newest.frame())
    lap("latest")
    ids = [row["deal_id"] for row in plans.latest_ids.frame().collect()]
    plans.stored.fill_rows(tables.read_keys("deal_versions", "deal_id", ids, schemas.DEAL_VERSIONS_SCHEMA))
    lap("stored")
    rows = CollectedRows(plans.rows.frame())
    lap("collect")

    stored_ids = {record["deal_id"] for record in rows.records(OLD_KEYS, "deal_versions")}
    statements = upsert_statements(tables, rows, [table for table, _ in FRESH_ROWS], replacing_ids=stored_ids)
    statements += upsert_statements(tables, rows, ["price_history_by_deal", "dead_letters_by_day"])
    fresh_ids = {record["deal_id"] for record in rows.records(FRESH, "deal_versions")}
    stale_by_table = {table.name: stale_sort_keys(rows, table, fresh_ids) for table in tr.SORTED_DEAL_TABLES}
    for table in tr.SORTED_DEAL_TABLES:
        statements += [(tables.delete_statement(table.name, table.keys), key) for key in stale_by_table[table.name]]
    tables.execute(statements)
    lap("writes")

    merchants = {key[0] for key in stale_by_table["deals_by_merchant"]}  # (merchant_id, deal_id)
    merchants |= {record["merchant_id"] for record in rows.records(FRESH, "deals_by_merchant")}
    deleted = sum(len(keys) for keys in stale_by_table.values())
    deleted += rank_merchants(tables, plans, merchants)
    lap("ranking")
    tables.execute(upsert_statements(tables, rows, ["deal_versions"], replacing_ids=stored_ids))
    lap("versions")
    return DriverWrite(len(fresh_ids), deleted, len(rows.json(FRESH, "dead_letters_by_day")), newest_arrival(rows))


def rank_merchants(tables: SinkTables, plans: DealPlans, merchants: set[int]) -> int:
    """Recompute the ranking rows of `merchants` from deals_by_merchant (as `DealTablesSink` does
    through the connector); returns the stale ranking rows deleted."""
    if not merchants:
        return 0
    merchant_ids = sorted(merchants)
    plans.merchant_deals.fill_rows(tables.read_keys("deals_by_merchant", "merchant_id", merchant_ids,
                                                    schemas.DEALS_BY_MERCHANT_SCHEMA))
    rank_keys_schema = schemas.MERCHANT_RANK_KEYS_SCHEMA
    old_keys = [dict(zip(rank_keys_schema.fieldNames(), row, strict=True))
                for row in tables.read_keys("merchant_rank_keys", "merchant_id", merchant_ids, rank_keys_schema)]
    rows = CollectedRows(plans.ranking.frame())
    ranking = rows.records(FRESH, "merchants_by_category")
    stale_ranks = keys_of(old_keys, RANK_KEY) - keys_of(ranking, RANK_KEY)
    stale_rows = keys_of(old_keys, ROW_KEY) - keys_of(ranking, ROW_KEY)
    # Deletes and upserts of one table touch disjoint keys, so they go together; the rank keys go
    # second, like deal_versions, so after a crash they still find the old ranking rows.
    tables.execute(upsert_statements(tables, rows, ["merchants_by_category"])
                   + [(tables.delete_statement("merchants_by_category", RANK_KEY), key) for key in stale_ranks])
    tables.execute(upsert_statements(tables, rows, ["merchant_rank_keys"])
                   + [(tables.delete_statement("merchant_rank_keys", ROW_KEY), key) for key in stale_rows])
    return len(stale_ranks) + len(stale_rows)


def upsert_from_driver(tables: SinkTables, frames: Mapping[str, DataFrame]) -> dict[str, int]:
    """Upsert small frames (by table) from the driver: one Spark job collects them all as JSON, the
    driver sends them (fields a row lacks are left as stored). Returns each table's rows written."""
    if not frames:
        return {}
    return upsert_collected(tables, CollectedRows([tr.to_json_rows(rows_df, FRESH, table)
                                                   for table, rows_df in frames.items()]), list(frames))


def upsert_collected(tables: SinkTables, rows: CollectedRows, table_names: Sequence[str]) -> dict[str, int]:
    """`upsert_from_driver` of rows collected already (a template's, `plan_templates`)."""
    tables.execute(upsert_statements(tables, rows, table_names))
    return {table: len(rows.json(FRESH, table)) for table in table_names}


def upsert_statements(tables: SinkTables, rows: CollectedRows, table_names: Iterable[str],
                      replacing_ids: set[int] | None = None) -> Statements:
    """The bound upserts of the fresh rows of `table_names`. Fields a row lacks are left as stored (the
    connector's ignoreNulls), except in a row of a deal in `replacing_ids`: it replaces a stored
    version, so they are cleared (`DEFAULT NULL`)."""
    statements: Statements = []
    for table in table_names:
        keep, clear = (tables.insert_json_statement(table, write_nulls=nulls) for nulls in (False, True))
        for text in rows.json(FRESH, table):
            is_replacing = replacing_ids is not None and json.loads(text)["deal_id"] in replacing_ids
            statements.append((clear if is_replacing else keep, (text,)))
    return statements


def stale_sort_keys(rows: CollectedRows, table: tr.SortedTable, fresh_ids: set[int]) -> set[tuple[Any, ...]]:
    """Keys the stored versions of this batch's fresh deals hold in `table` and their fresh versions do not
    (a deal whose incoming version was older than stored keeps its rows)."""
    old = keys_of((record for record in rows.records(OLD_KEYS, table.name) if record["deal_id"] in fresh_ids),
                  table.keys)
    return old - keys_of(rows.records(FRESH, table.name), table.keys)
