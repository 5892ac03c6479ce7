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
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from conf.settings import Settings
from pipeline import alert_delivery as ad
from pipeline import alert_transforms as at
from pipeline import deal_transforms as dt
from pipeline.alert_interests import InterestIndex
from pipeline.alert_schemas import ALERT_STATE_BY_DEAL_SCHEMA, ALERTS_BY_INTEREST_DAY_SCHEMA, VERSION_SCORE_SCHEMA
from pipeline.cassandra_io import SinkTables, run_side_by_side
from pipeline.driver_rows import held_on_driver, rows_frame

log = logging.getLogger(__name__)
SCORE_POLL_S = 0.25
#: Interests under a held batch's keys above which it is matched in the application's session.
SMALL_MAX_INTERESTS = 20_000


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
        versions_df, keys, interests_df = self._versions_and_interests(raw_df if held is None else held.df)
        if held is not None and keys and self._interest_index(versions_df).filed_under(keys) > SMALL_MAX_INTERESTS:
            versions_df, keys, interests_df = self._versions_and_interests(raw_df)
        versions = versions_df.count()
        if interests_df is None:
            return AlertReport(batch_id, versions, 0, 0, 0, time.monotonic() - started)
        # held before the scores are looked up: their lookup and every later step read the matches
        candidates_df = self._with_scores(self._tables.hold(at.match_interests(versions_df, interests_df)))
        counts = candidates_df.agg(F.count(F.lit(1)).alias("n")).first()
        if not counts or not counts["n"]:
            return AlertReport(batch_id, versions, 0, 0, 0, time.monotonic() - started)
        state_df = self._tables.read("alert_state_by_deal", candidates_df.select("deal_id").distinct(),
                                     ALERT_STATE_BY_DEAL_SCHEMA)
        fired_df = self._tables.hold(at.fired_alerts(candidates_df, state_df))
        if fired_df.isEmpty():
            return AlertReport(batch_id, versions, counts["n"], 0, 0, time.monotonic() - started)
        # only an instant alert of a capped interest needs what earlier batches delivered that day
        capped_df = fired_df.filter((F.col("delivery") == "INSTANT") & F.col("max_per_day").isNotNull())
        day_keys_df = capped_df.select("interest_id", F.date_format("alert_at", "yyyy-MM-dd").alias("day")).distinct()
        stored_days_df = self._tables.read("alerts_by_interest_day", day_keys_df, ALERTS_BY_INTEREST_DAY_SCHEMA)
        decided_df = self._tables.hold(ad.with_delivery(fired_df, stored_days_df))
        self._publish(decided_df)
        self._tables.append(ad.to_alert_state_rows(decided_df), "alert_state_by_deal")  # last: see the module doc
        totals = decided_df.agg(F.count(F.lit(1)).alias("alerts"),
                                F.count(F.when(F.col("delivery_mode") == "INSTANT", 1)).alias("instant")).first()
        assert totals is not None
        return AlertReport(batch_id, versions, counts["n"], totals["alerts"], totals["instant"],
                           time.monotonic() - started)

    def _versions_and_interests(self, raw_df: DataFrame) -> tuple[DataFrame, set[str], DataFrame | None]:
        """The batch's deal versions (held), their index keys and the interests filed under them."""
        valid_df = raw_df.transform(dt.parse_deal_records).transform(dt.filter_valid_deals)
        versions_df = self._tables.hold(at.alert_versions(valid_df))
        keys = {row[0] for row in at.with_index_keys(versions_df).select("index_key").distinct().collect()}
        interests_df = self._interest_index(versions_df).frame(versions_df.sparkSession, keys) if keys else None
        return versions_df, keys, interests_df

    def _interest_index(self, df: DataFrame) -> InterestIndex:
        """The interest index of `df`'s session (one per session: the frame it caches is joined there)."""
        key = id(df.sparkSession)  # the sessions live as long as the application: ids are not reused
        if key not in self._interests:
            self._interests[key] = InterestIndex(self._tables.session, self.settings.keyspace)
        return self._interests[key]

    def _publish(self, decided_df: DataFrame) -> None:
        """The two alert tables side by side, then Kafka (a consumer may then find the rows)."""
        run_side_by_side(lambda: self._tables.append(ad.to_alerts_by_user_rows(decided_df), "alerts_by_user"),
                         lambda: self._tables.append(ad.to_alerts_by_interest_day_rows(decided_df),
                                                     "alerts_by_interest_day"))
        (ad.to_deal_alert_messages(decided_df).write.format("kafka")
         .option("kafka.bootstrap.servers", self.settings.kafka_bootstrap)
         .option("kafka.acks", "all").option("kafka.enable.idempotence", "true")
         .option("topic", self.settings.topic_deal_alerts).save())

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
        self._tables.close()


def alert_sink(settings: Settings) -> Callable[[DataFrame, int | None], AlertReport]:
    return AlertSink(settings)
