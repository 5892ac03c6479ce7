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

A batch of up to `sink_driver_max_keys` matches or alerts keeps them on the driver (`materialise`),
and its alerts are delivered from there (`_deliver_from_driver`): one Spark job collects the rows of
the three tables and the Kafka records, and the driver sends them in the same order. Through the
connector and Spark's Kafka writer, each of the four writes was a Spark job of its own, and with the
counts between the steps a batch of 30 deals ran about 16 jobs (2.7 s on a quiet 2-core machine).
"""
from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC

from kafka import KafkaProducer
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from conf.clients import kafka_producer
from conf.settings import Settings
from pipeline import alert_delivery as ad
from pipeline import alert_transforms as at
from pipeline import deal_transforms as dt
from pipeline.alert_interests import InterestIndex
from pipeline.alert_schemas import ALERT_STATE_BY_DEAL_SCHEMA, ALERTS_BY_INTEREST_DAY_SCHEMA, VERSION_SCORE_SCHEMA
from pipeline.cassandra_io import SinkTables, run_side_by_side
from pipeline.driver_rows import Held, held_on_driver, rows_frame
from pipeline.driver_sink import FRESH, CollectedRows, upsert_statements
from pipeline.table_rows import to_json_rows

log = logging.getLogger(__name__)
SCORE_POLL_S = 0.25
#: Interests under a held batch's keys above which it is matched in the application's session.
SMALL_MAX_INTERESTS = 20_000
MESSAGE = "message"  # kind of the collected Kafka records (`_deliver_from_driver`)


@dataclass(frozen=True)
class AlertReport:
    batch_id: int | None
    versions: int
    candidates: int
    alerts: int
    instant: int
    seconds: float


class AlertSink:
    """Matches a raw deal record frame against the saved interests; callable as a foreachBatch function."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._tables = SinkTables(settings)
        self._interests: dict[int, InterestIndex] = {}  # by session, see `_interest_index`
        self.reports: list[AlertReport] = []
        self._producer: KafkaProducer | None = None  # opened by the first batch delivered from the driver

    def __call__(self, raw_df: DataFrame, batch_id: int | None = None) -> AlertReport:
        started = time.monotonic()
        try:
            report = self._write(raw_df, batch_id, started)
        finally:
            self._tables.release()
        self.reports = [*self.reports[-999:], report]
        log.info("alerts batch %s: %d versions, %d candidates, %d alerts (%d instant), %.2fs", batch_id,
                 report.versions, report.candidates, report.alerts, report.instant, report.seconds)
        return report

    def _write(self, raw_df: DataFrame, batch_id: int | None, started: float) -> AlertReport:
        # A batch of up to `sink_driver_max_rows` records is matched in the small session (one partition,
        # interpreted; `driver_rows.small_session`): the steady stream's batches of a few dozen deals.
        # One whose keys hold many interests is matched in the application's session again: its
        # candidate pairs are too many for one interpreted task (100k interests: 351k pairs for 1,000 deals).
        held = held_on_driver(raw_df, self.settings.sink_driver_max_rows)
        versions, keys, interests_df = self._versions_and_interests(raw_df if held is None else held.df)
        if held is not None and keys and self._interest_index(versions.df).filed_under(keys) > SMALL_MAX_INTERESTS:
            versions, keys, interests_df = self._versions_and_interests(raw_df)
        if interests_df is None:
            return AlertReport(batch_id, versions.count, 0, 0, 0, time.monotonic() - started)
        # computed before the scores are looked up: their lookup and every later step read the matches
        matched = self._tables.materialise(at.match_interests(versions.df, interests_df))
        if not matched.count:
            return AlertReport(batch_id, versions.count, 0, 0, 0, time.monotonic() - started)
        candidates_df = self._with_scores(matched.df)
        fired = self._tables.materialise(at.fired_alerts(candidates_df, self._alert_state(candidates_df, matched)))
        if not fired.count:
            return AlertReport(batch_id, versions.count, matched.count, 0, 0, time.monotonic() - started)
        # only an instant alert of a capped interest needs what earlier batches delivered that day
        capped_df = fired.df.filter((F.col("delivery") == "INSTANT") & F.col("max_per_day").isNotNull())
        day_keys_df = capped_df.select("interest_id", F.date_format("alert_at", "yyyy-MM-dd").alias("day")).distinct()
        stored_days_df = self._tables.read("alerts_by_interest_day", day_keys_df, ALERTS_BY_INTEREST_DAY_SCHEMA)
        decided_df = ad.with_delivery(fired.df, stored_days_df)
        if fired.rows is not None:
            alerts, instant = self._deliver_from_driver(decided_df)
        else:
            alerts, instant = self._deliver_by_connector(self._tables.hold(decided_df))
        return AlertReport(batch_id, versions.count, matched.count, alerts, instant, time.monotonic() - started)

    def _versions_and_interests(self, raw_df: DataFrame) -> tuple[Held, set[str], DataFrame | None]:
        """The batch's deal versions (computed now), their index keys and the interests filed under them."""
        valid_df = raw_df.transform(dt.parse_deal_records).transform(dt.filter_valid_deals)
        versions = self._tables.materialise(at.alert_versions(valid_df))
        keys = {row[0] for row in at.with_index_keys(versions.df).select("index_key").distinct().collect()}
        interests_df = self._interest_index(versions.df).frame(versions.df.sparkSession, keys) if keys else None
        return versions, keys, interests_df

    def _alert_state(self, candidates_df: DataFrame, matched: Held) -> DataFrame:
        """The stored re-arm state of the candidates' deals (their ids from the driver when it holds them)."""
        if matched.rows is None:
            return self._tables.read("alert_state_by_deal", candidates_df.select("deal_id").distinct(),
                                     ALERT_STATE_BY_DEAL_SCHEMA)
        deal_ids = sorted({row["deal_id"] for row in matched.rows})
        return self._tables.read_keys_frame(candidates_df.sparkSession, "alert_state_by_deal", "deal_id", deal_ids,
                                            ALERT_STATE_BY_DEAL_SCHEMA)

    def _interest_index(self, df: DataFrame) -> InterestIndex:
        """The interest index of `df`'s session (one per session: the frame it caches is joined there)."""
        key = id(df.sparkSession)  # the sessions live as long as the application: ids are not reused
        if key not in self._interests:
            self._interests[key] = InterestIndex(self._tables.session, self.settings.keyspace)
        return self._interests[key]

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

    def _deliver_from_driver(self, decided_df: DataFrame) -> tuple[int, int]:
        """The same writes in the same order for a few alerts: one Spark job collects every table's rows
        and the Kafka messages, and the driver sends them (prepared upserts; its own Kafka producer)."""
        messages_df = ad.to_deal_alert_messages(decided_df).selectExpr(
            f"'{MESSAGE}' AS kind", f"'{self.settings.topic_deal_alerts}' AS table", "value AS json")
        rows = CollectedRows([to_json_rows(ad.to_alerts_by_user_rows(decided_df), FRESH, "alerts_by_user"),
                              to_json_rows(ad.to_alerts_by_interest_day_rows(decided_df), FRESH,
                                           "alerts_by_interest_day"),
                              to_json_rows(ad.to_alert_state_rows(decided_df), FRESH, "alert_state_by_deal"),
                              messages_df])
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
        """Candidates with `verified_discount_pct`, waiting briefly for scores the deals stream is writing."""
        needed_df = candidates_df.filter(F.col("min_verified_discount").isNotNull()).select("deal_id", "updated_at")
        # Spark hands back local times, the driver naive UTC ones: both compared as aware UTC
        wanted = {(r[0], r[1].astimezone(UTC)) for r in needed_df.distinct().collect()}
        if not wanted:
            return candidates_df.withColumn("verified_discount_pct", F.lit(None).cast("double"))
        deadline = time.monotonic() + self.settings.alert_score_wait_s
        while True:
            rows = self._tables.read_keys("deal_score_versions", "deal_id", sorted({deal for deal, _ in wanted}),
                                          VERSION_SCORE_SCHEMA)
            found = {(r[0], r[1]) for r in rows}
            if wanted <= found or time.monotonic() >= deadline:
                break
            time.sleep(SCORE_POLL_S)
        scores_df = rows_frame(candidates_df.sparkSession, rows, VERSION_SCORE_SCHEMA)
        return at.with_verified_discount(candidates_df, scores_df)

    def close(self) -> None:
        if self._producer is not None:
            self._producer.close()
            self._producer = None
        self._tables.close()


def alert_sink(settings: Settings) -> Callable[[DataFrame, int | None], AlertReport]:
    return AlertSink(settings)
