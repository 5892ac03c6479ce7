"""The alerts sink: a raw deal record frame in, the alerts of its new or changed versions out.

Per micro-batch: the shared deal transforms (parse, judge, clean) -> one row per deal version ->
the interests filed under the batch's cells and categories (`InterestIndex`) -> candidate pairs ->
the verified-discount criterion (scores written by the deals stream) -> the re-arm rule against
`alert_state_by_deal` -> the delivery decision against `alerts_by_interest_day` -> writes.

Exactly once as users see it, with foreachBatch at-least-once: alert ids are derived from (user,
interest, deal, version), every write is an idempotent upsert on them, and the order is
alerts_by_user + alerts_by_interest_day, then Kafka `deal_alerts`, then `alert_state_by_deal` last —
so a replay after a crash anywhere recomputes the same alerts (the same ids, the same decisions),
and a replay after the state was written finds them already alerted. Kafka may carry an alert
twice after such a replay; consumers drop repeats by `alert_id` (the API reads Cassandra).

A small batch (up to `sink_driver_max_rows` records) runs every rule from frames built once over
slots (`_AlertPlans`, `pipeline.plan_templates`) and its joins, windows and ranks over rows on the
driver (`alert_steps`), and its alerts are delivered from the driver (`_send`): the rows of the three
tables and the Kafka records are projections of the decided alerts' slot, and the driver sends them in
the same order. Through the connector and Spark's Kafka writer, each of the four writes was a Spark
job of its own, and with the counts between the steps a batch of 30 deals ran about 16 jobs (2.7 s on
a quiet 2-core machine; `_AlertPlans` says what runs now). A large batch goes through Spark and, for
many alerts, the connector.
"""
from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any

from kafka import KafkaProducer
from pyspark.sql import DataFrame, Row, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from conf.clients import kafka_producer
from conf.settings import Settings
from pipeline import alert_delivery as ad
from pipeline import alert_steps as steps
from pipeline import alert_transforms as at
from pipeline import deal_transforms as dt
from pipeline import schemas
from pipeline.alert_interests import InterestIndex
from pipeline.alert_schemas import (
    ALERT_STATE_BY_DEAL_SCHEMA,
    ALERTS_BY_INTEREST_DAY_SCHEMA,
    INTERESTS_BY_KEY_SCHEMA,
    VERSION_SCORE_SCHEMA,
)
from pipeline.cassandra_io import SinkTables, run_concurrently, run_side_by_side
from pipeline.driver_rows import Held, rows_frame
from pipeline.driver_sink import FRESH, CollectedRows, upsert_statements
from pipeline.plan_templates import SessionPlans, Slot, Template
from pipeline.sink import RoundClock
from pipeline.table_rows import to_json_rows

log = logging.getLogger(__name__)
SCORE_POLL_S = 0.25
#: Interests under a held batch's keys above which it is matched in the application's session.
SMALL_MAX_INTERESTS = 20_000
MESSAGE = "message"  # kind of the collected Kafka records (`delivery_frames`)


@dataclass(frozen=True)
class AlertReport:
    batch_id: int | None
    versions: int
    candidates: int
    alerts: int
    instant: int
    seconds: float
    rounds: tuple[tuple[str, float], ...] = ()  # (round, seconds) of a small batch: where its time went


class AlertSink:
    """Matches a raw deal record frame against the saved interests; callable as a foreachBatch function."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._tables = SinkTables(settings)
        self._interests = InterestIndex(self._tables.session, settings.keyspace)
        self._plans = SessionPlans(partial(_AlertPlans, topic=settings.topic_deal_alerts))  # small batches' frames
        self.reports: list[AlertReport] = []
        self._producer: KafkaProducer | None = None  # opened by the first batch delivered from the driver

    def __call__(self, raw_df: DataFrame, batch_id: int | None = None) -> AlertReport:
        started = time.monotonic()
        try:
            report = self._write(raw_df, batch_id, started)
        finally:
            self._tables.release()
        self.reports = [*self.reports[-999:], report]
        log.info("alerts batch %s: %d versions, %d candidates, %d alerts (%d instant), %.2fs (%s)", batch_id,
                 report.versions, report.candidates, report.alerts, report.instant, report.seconds,
                 ", ".join(f"{name} {seconds:.2f}s" for name, seconds in report.rounds) or "large")
        return report

    def _write(self, raw_df: DataFrame, batch_id: int | None, started: float) -> AlertReport:
        # A batch of up to `sink_driver_max_rows` records is matched from templates in the small session
        # (`_AlertPlans`): the steady stream's batches of a few dozen deals. One whose keys hold many
        # interests is matched in the application's session: its candidate pairs are too many for one
        # interpreted task (100k interests: 351k pairs for 1,000 deals).
        plans, clock = self._plans.of(raw_df.sparkSession), RoundClock()
        try:
            small = plans.raw.fill_at_most(raw_df, self.settings.sink_driver_max_rows) is not None
            clock.lap("read")
            counts = self._write_small(plans, clock.lap) if small else None
            if counts is None:
                return AlertReport(batch_id, *self._write_large(raw_df), time.monotonic() - started)
            return AlertReport(batch_id, *counts, time.monotonic() - started, tuple(clock.rounds))
        finally:
            plans.clear()

    def _write_small(self, plans: _AlertPlans, lap: Callable[[str], None]) -> tuple[int, int, int, int] | None:
        """(versions, candidates, alerts, instant ones) of the batch in `plans.raw` (`small_batch_rows`);
        None (nothing written) when the batch's keys hold more than SMALL_MAX_INTERESTS interests."""
        found = small_batch_rows(plans, self._interests_of, self._stored_of, lap)
        if found is None:
            return None
        versions, candidates, rows = found
        if rows is None:
            return versions, candidates, 0, 0
        alerts, instant = self._send(rows)
        lap("send")
        return versions, candidates, alerts, instant

    def _interests_of(self, keys: set[str]) -> list[tuple[Any, ...]] | None:
        """The interests filed under `keys`; None when they are more than SMALL_MAX_INTERESTS."""
        interests = self._interests.rows(keys) if keys else []
        return None if len(interests) > SMALL_MAX_INTERESTS else interests

    def _stored_of(self, matched: list[Row]) -> Stored:
        """The three reads of a small batch's matches, side by side: the scores (`_scores_of`, which may
        wait for the deals stream), the re-arm state of the matched deals, and what was delivered at once
        on the matches' days (an alert is dated by its version's receipt, `fired_alerts`: the days of
        the matches are those of the alerts). Cassandra's driver alone in the threads: a Spark call from
        a new thread is a new JVM thread too."""
        scores, state, stored_days = run_concurrently([
            partial(self._scores_of, steps.needing_scores(matched)),
            partial(self._tables.read_keys, "alert_state_by_deal", "deal_id",
                    sorted({row["deal_id"] for row in matched}), ALERT_STATE_BY_DEAL_SCHEMA),
            partial(self._tables.read_rows, "alerts_by_interest_day", ("interest_id", "day"),
                    steps.capped_days(matched), ALERTS_BY_INTEREST_DAY_SCHEMA)])
        return Stored(scores, state, stored_days)

    def _write_large(self, raw_df: DataFrame) -> tuple[int, int, int, int]:
        """(versions, candidates, alerts, instant ones) of a large batch, in the application's session."""
        valid_df = raw_df.transform(dt.parse_deal_records).transform(dt.filter_valid_deals)
        versions = self._tables.materialise(at.alert_versions(valid_df))
        keys = {row[0] for row in at.with_index_keys(versions.df).select("index_key").distinct().collect()}
        interests_df = self._interests.frame(versions.df.sparkSession, keys) if keys else None
        if interests_df is None:
            return versions.count, 0, 0, 0
        matched = self._tables.materialise(at.match_interests(versions.df, interests_df))
        if not matched.count:
            return versions.count, 0, 0, 0
        candidates_df = self._with_scores(matched.df)
        fired = self._tables.materialise(at.fired_alerts(candidates_df, self._alert_state(candidates_df, matched)))
        if not fired.count:
            return versions.count, matched.count, 0, 0
        stored_days_df = self._tables.read("alerts_by_interest_day", day_keys(fired.df), ALERTS_BY_INTEREST_DAY_SCHEMA)
        decided_df = ad.with_delivery(fired.df, stored_days_df)
        if fired.rows is not None:
            alerts, instant = self._send(CollectedRows(delivery_frames(
                decided_df, ad.to_alert_state_rows(decided_df), self.settings.topic_deal_alerts)))
        else:
            alerts, instant = self._deliver_by_connector(self._tables.hold(decided_df))
        return versions.count, matched.count, alerts, instant

    def _alert_state(self, candidates_df: DataFrame, matched: Held) -> DataFrame:
        """The stored re-arm state of the candidates' deals (their ids from the driver when it holds them)."""
        if matched.rows is None:
            return self._tables.read("alert_state_by_deal", candidates_df.select("deal_id").distinct(),
                                     ALERT_STATE_BY_DEAL_SCHEMA)
        deal_ids = sorted({row["deal_id"] for row in matched.rows})
        return self._tables.read_keys_frame(candidates_df.sparkSession, "alert_state_by_deal", "deal_id", deal_ids,
                                            ALERT_STATE_BY_DEAL_SCHEMA)

    def _deliver_by_connector(self, decided_df: DataFrame) -> tuple[int, int]:
        """The two alert tables side by side, then Kafka (a consumer may then find the rows), then the
        state; returns (alerts, instant ones)."""
        run_side_by_side(lambda: self._tables.append(ad.to_alerts_by_user_rows(decided_df), "alerts_by_user"),
                         lambda: self._tables.append(ad.to_alerts_by_interest_day_rows(decided_df),
                                                     "alerts_by_interest_day"))
        (ad.to_deal_alert_messages(decided_df).write.format("kafka")
         .option("kafka.bootstrap.servers", self.settings.kafka_bootstrap)
         .option("kafka.acks", "all").option("kafka.enable.idempotence", "true")
         .option("topic", self.settings.topic_deal_alerts).save())
        self._tables.append(ad.to_alert_state_rows(decided_df), "alert_state_by_deal")  # last: see the module doc
        totals = decided_df.agg(F.count(F.lit(1)).alias("alerts"),
                                F.count(F.when(F.col("delivery_mode") == "INSTANT", 1)).alias("instant")).first()
        assert totals is not None
        return totals["alerts"], totals["instant"]

    def _send(self, rows: CollectedRows) -> tuple[int, int]:
        """The same writes in the same order for a few alerts, collected by one Spark job
        (`delivery_frames`): the driver sends them (prepared upserts; its own Kafka producer)."""
        self._tables.execute(upsert_statements(self._tables, rows, ["alerts_by_user", "alerts_by_interest_day"]))
        producer = self._kafka_producer()
        for message in rows.json(MESSAGE, self.settings.topic_deal_alerts):
            # the key the connector path writes: the user id as text (one user's alerts stay in order)
            producer.send(self.settings.topic_deal_alerts, key=str(json.loads(message)["user_id"]).encode(),
                          value=message.encode())
        producer.flush()
        self._tables.execute(upsert_statements(self._tables, rows, ["alert_state_by_deal"]))  # last: the module doc
        # alerts_by_interest_day holds exactly the instant ones (`to_alerts_by_interest_day_rows`)
        return len(rows.json(FRESH, "alerts_by_user")), len(rows.json(FRESH, "alerts_by_interest_day"))

    def _kafka_producer(self) -> KafkaProducer:
        if self._producer is None:
            self._producer = kafka_producer(self.settings, linger_ms=0)
        return self._producer

    def _with_scores(self, candidates_df: DataFrame) -> DataFrame:
        """Candidates with `verified_discount_pct` (`_scores_of`)."""
        wanted = {(r[0], r[1]) for r in versions_needing_scores(candidates_df).distinct().collect()}
        if not wanted:
            return candidates_df.withColumn("verified_discount_pct", F.lit(None).cast("double"))
        scores_df = rows_frame(candidates_df.sparkSession, self._scores_of(wanted), VERSION_SCORE_SCHEMA)
        return at.with_verified_discount(candidates_df, scores_df)

    def _scores_of(self, wanted: set[tuple[int, datetime]]) -> list[tuple[Any, ...]]:
        """The stored scores of the (deal id, updated_at) versions `wanted`, waiting briefly for those the
        deals stream is writing (`alert_score_wait_s`)."""
        if not wanted:
            return []
        # Spark hands back local times, the driver naive UTC ones: both compared as aware UTC
        wanted = {(deal, updated_at.astimezone(UTC)) for deal, updated_at in wanted}
        deadline = time.monotonic() + self.settings.alert_score_wait_s
        while True:
            rows = self._tables.read_keys("deal_score_versions", "deal_id", sorted({deal for deal, _ in wanted}),
                                          VERSION_SCORE_SCHEMA)
            if wanted <= {(r[0], r[1]) for r in rows} or time.monotonic() >= deadline:
                return rows
            time.sleep(SCORE_POLL_S)

    def close(self) -> None:
        if self._producer is not None:
            self._producer.close()
            self._producer = None
        self._tables.close()


def alert_sink(settings: Settings) -> Callable[[DataFrame, int | None], AlertReport]:
    return AlertSink(settings)


# The keys a large batch reads by (a small one takes the same from its rows: `alert_steps`). Each repeats
# a key once per alert or candidate that has it (`PartitionReader` drops repeats as it reads); a large
# batch collecting them adds `distinct()`.

def versions_needing_scores(candidates_df: DataFrame) -> DataFrame:
    """The (deal id, updated_at) of candidates whose interest asks for a verified discount."""
    return candidates_df.filter(F.col("min_verified_discount").isNotNull()).select("deal_id", "updated_at")


def day_keys(candidates_df: DataFrame) -> DataFrame:
    """(interest, day) of the candidates (or fired alerts) whose day's cap matters: only an instant alert
    of a capped interest needs what earlier batches delivered that day. An alert's day is that of its
    version's receipt (`fired_alerts` dates it so), known before the re-arm rule runs."""
    capped_df = candidates_df.filter((F.col("delivery") == "INSTANT") & F.col("max_per_day").isNotNull())
    return capped_df.select("interest_id", F.date_format("received_at", "yyyy-MM-dd").alias("day"))


def delivery_frames(decided_df: DataFrame, state_df: DataFrame, topic: str) -> list[DataFrame]:
    """The rows of the three alert tables (the state's given: `to_alert_state_rows`, an aggregate a
    small batch computes on the driver) and the Kafka records, as `to_json_rows` frames."""
    messages_df = ad.to_deal_alert_messages(decided_df).selectExpr(
        f"'{MESSAGE}' AS kind", f"'{topic}' AS table", "value AS json")
    return [to_json_rows(ad.to_alerts_by_user_rows(decided_df), FRESH, "alerts_by_user"),
            to_json_rows(ad.to_alerts_by_interest_day_rows(decided_df), FRESH, "alerts_by_interest_day"),
            to_json_rows(state_df, FRESH, "alert_state_by_deal"),
            messages_df]


@dataclass(frozen=True)
class Stored:
    """What a small batch's matches read: VERSION_SCORE_SCHEMA, ALERT_STATE_BY_DEAL_SCHEMA and
    ALERTS_BY_INTEREST_DAY_SCHEMA rows."""

    scores: list[tuple[Any, ...]]
    state: list[tuple[Any, ...]]
    stored_days: list[tuple[Any, ...]]


def small_batch_rows(plans: _AlertPlans, interests_of: Callable[[set[str]], list[tuple[Any, ...]] | None],
                     stored_of: Callable[[list[Row]], Stored],
                     lap: Callable[[str], None]) -> tuple[int, int, CollectedRows | None] | None:
    """(versions, candidates, the rows to deliver: None without alerts) of the batch in `plans.raw`:
    the joins, windows and ranks over rows in Python (`alert_steps`), every rule of a row in Spark's
    projections of the slots, which it computes on the driver (no job). None when `interests_of` finds
    too many interests under the batch's keys. The same alerts as `_write_large`'s Spark steps
    (tests/unit/test_alert_steps.py)."""
    versions = steps.first_records(plans.versions.frame().collect())
    lap("versions")
    interests = interests_of({key for row in versions for key in row["index_keys"]})
    if interests is None:
        return None
    lap("interests")
    pairs = steps.joined_pairs(versions, interests)
    if not pairs:
        return len(versions), 0, None
    plans.joined.fill_rows(pairs)
    matched = plans.match.frame().collect()
    lap("match")
    if not matched:
        return len(versions), 0, None
    stored = stored_of(matched)
    lap("reads")
    plans.scored.fill_rows(steps.with_stored(matched, stored.scores, stored.state))
    newer = plans.newer.frame().collect()
    plans.ordered.fill_rows([(*row, price) for row, price in zip(newer, steps.earlier_prices(newer), strict=True)])
    fired = plans.fire.frame().collect()
    lap("re-arm")
    if not fired:
        return len(versions), len(matched), None
    positions = steps.cap_positions(fired, stored.stored_days)
    plans.positioned.fill_rows([(*row, place) for row, place in zip(fired, positions, strict=True)])
    plans.state.fill_rows(steps.state_rows(fired))
    lap("decide")
    rows = CollectedRows([template.frame() for template in plans.rows], stack=False)
    lap("collect")
    return len(versions), len(matched), rows


def _with_fields(schema: T.StructType, *fields: tuple[str, T.DataType]) -> T.StructType:
    return T.StructType([*schema.fields, *(T.StructField(name, kind) for name, kind in fields)])


class _AlertPlans:
    """`AlertSink`'s frames for a small batch, built once per session over slots (`plan_templates`).

    Spark runs a job for a join, a window or an aggregate, and computes a filter or projection of a
    slot's rows on the driver. So the small path alternates: a projection collected (no job), a step
    over its rows in Python (`alert_steps`), the result in the next slot:
    records -> versions (with their index keys) -> joined with the interests -> `match` (the criteria)
    -> scored (with the version's score and the pair's state) -> `newer` (the verified discount, newer
    than the state) -> ordered (with the pair's earlier lowest price) -> `fire` (re-arm rule, ids,
    reasons, dating) -> positioned (the place under the daily cap) -> the rows (delivery decision).
    The Spark jobs left read the micro-batch's records into `raw` and each Python step's rows into its
    slot (Arrow batches in, one stage, no shuffle: 20-45 ms each on a quiet machine).

    Beside the deals stream on two cores (bench.alerts, 2026-12-08), a batch of 30-40 deals ran four
    jobs there, match 0.4-0.7 s, re-arm 0.2-0.5 s, decide 0.4-0.7 s and the rows 0.2-0.4 s: 1.5 of
    its 2.1 s. On a quiet machine (40 records, 390 pairs) the match's job took 0.38 s, and its slot's
    fill and projection 0.07 s. This way, in the same benchmark an hour later, a batch of 11-22 deals
    took 0.5-1.1 s in all (match 0.04-0.2 s, re-arm 0.05-0.27 s, decide 0.03-0.2 s)."""

    def __init__(self, spark: SparkSession, topic: str) -> None:
        self.raw = Slot(spark, schemas.RAW_RECORD_SCHEMA)
        valid_df = self.raw.df.transform(dt.parse_deal_records).transform(dt.filter_valid_deals)
        versions_df = at.version_records(valid_df).withColumn("index_keys", at.index_keys())
        self.versions = Template(versions_df)
        # a joined row: the version's columns but its keys (the last), then the interest's but its key
        self.joined = Slot(spark, T.StructType([*versions_df.schema.fields[:-1],
                                                *INTERESTS_BY_KEY_SCHEMA.fields[1:]]))
        self.match = Template(at.matching(self.joined.df))
        self.scored = Slot(spark, _with_fields(self.match.schema, ("verified_discount_pct", T.DoubleType()),
                                               *[(f.name, f.dataType) for f in ALERT_STATE_BY_DEAL_SCHEMA.fields[2:]]))
        self.newer = Template(at.newer_matches(at.verified(self.scored.df)))
        self.ordered = Slot(spark, _with_fields(self.newer.schema, ("earlier_price", T.DoubleType())))
        self.fire = Template(ad.dated(at.alerts_of(self.ordered.df)))
        self.positioned = Slot(spark, _with_fields(self.fire.schema, ("position", T.LongType())))
        self.state = Slot(spark, ALERT_STATE_BY_DEAL_SCHEMA)
        self.rows = [Template(frame) for frame in delivery_frames(ad.decided(self.positioned.df), self.state.df,
                                                                  topic)]

    def clear(self) -> None:
        for slot in (self.raw, self.joined, self.scored, self.ordered, self.positioned, self.state):
            slot.clear()
