"""Parity of the alerts sink's two ways on one micro-batch: a small batch's joins, windows and ranks over
rows on the driver (`pipeline.alert_steps`, `alert_sink.small_batch_rows`) against the Spark transforms
a large batch runs (`alert_transforms`, `alert_delivery`), with the same stored state, scores and day's
deliveries. Every row either way writes (three tables and the Kafka records) is compared. Spark only:
what Cassandra would return is given as the rows it would return. (Both ways also meet the independent
oracle against the real stack: tests/integration/test_alert_sink.py.)"""
from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import orjson

from pipeline import alert_delivery as ad
from pipeline import alert_transforms as at
from pipeline import deal_transforms as dt
from pipeline.alert_schemas import (
    ALERT_STATE_BY_DEAL_SCHEMA,
    ALERTS_BY_INTEREST_DAY_SCHEMA,
    INTERESTS_BY_KEY_SCHEMA,
    VERSION_SCORE_SCHEMA,
)
from pipeline.alert_sink import MESSAGE, Stored, _AlertPlans, delivery_frames, small_batch_rows
from pipeline.driver_sink import FRESH, CollectedRows
from pipeline.plan_templates import SessionPlans
from pipeline.schemas import RAW_RECORD_SCHEMA
from tests.integration import alert_fixtures as fx

TOPIC = "deal_alerts"
TABLES = [(FRESH, "alerts_by_user"), (FRESH, "alerts_by_interest_day"), (FRESH, "alert_state_by_deal"),
          (MESSAGE, TOPIC)]


def _updated(raw: dict[str, Any]) -> datetime:
    return datetime.strptime(raw["updated_at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def stored_rows(records: list[dict[str, Any]], interests: list[dict[str, Any]], rng: random.Random) -> Stored:
    """Scores for most versions; a stored alert state for some pairs, at their deal's first version (so
    later versions are newer) or after all of them (so none is); two instant alerts already delivered on
    the batch's first day for every capped interest."""
    versions = sorted({(r["id"], _updated(r)) for r in records})  # one score per version, as its table keys it
    scores = [(deal_id, updated, round(rng.uniform(0.0, 0.8), 2)) for deal_id, updated in versions
              if rng.random() < 0.8]
    firsts = {r["id"]: r for r in reversed(records)}
    state = [(deal_id, i["interest_id"], round(raw["price"] * rng.choice((0.8, 1.0, 1.2)), 2),
              _updated(raw) + rng.choice((timedelta(0), timedelta(days=30))))
             for deal_id, raw in firsts.items() for i in interests if rng.random() < 0.1]
    day = "2026-11-20"
    stored_days = [(i["interest_id"], day, datetime(2026, 11, 20, 0, n, tzinfo=UTC), uuid.uuid4().hex, True, "INSTANT")
                   for i in interests if i.get("max_per_day") for n in range(2)]
    return Stored(scores, state, stored_days)


def by_table(rows: CollectedRows) -> dict[tuple[str, str], list[dict[str, Any]]]:
    return {table: sorted(rows.records(*table), key=lambda r: orjson.dumps(r, option=orjson.OPT_SORT_KEYS))
            for table in TABLES}


def test_a_small_batch_on_the_driver_writes_what_the_spark_steps_write(spark):
    rng = random.Random(8)
    records = fx.deal_records(150, seed=9)
    stamped = fx.stamped(records, datetime(2026, 11, 20, 0, 0, tzinfo=UTC), timedelta(seconds=97))  # ~0.4 days
    interests = fx.interests(12, seed=10)
    for n, interest in enumerate(interests):
        interest["interest_id"] = uuid.UUID(int=n + 1).hex
    raw_df = spark.createDataFrame([(str(r["id"]), orjson.dumps(r).decode(), "t", 0, n, t.replace(tzinfo=None))
                                    for n, (r, t) in enumerate(stamped)], RAW_RECORD_SCHEMA)
    interest_rows = fx.interest_rows(interests)
    stored = stored_rows(records, interests, rng)

    # the Spark steps, as a large batch runs them
    valid_df = raw_df.transform(dt.parse_deal_records).transform(dt.filter_valid_deals)
    candidates_df = at.with_verified_discount(
        at.match_interests(at.alert_versions(valid_df), spark.createDataFrame(interest_rows, INTERESTS_BY_KEY_SCHEMA)),
        spark.createDataFrame(stored.scores, VERSION_SCORE_SCHEMA))
    fired_df = at.fired_alerts(candidates_df, spark.createDataFrame(stored.state, ALERT_STATE_BY_DEAL_SCHEMA))
    # a replay's first attempt already delivered two of the batch's alerts: they take no place twice
    replayed = [(r["interest_id"], r["day"], r["alert_at"], r["alert_id"], True, "INSTANT")
                for r in ad.dated(fired_df).filter("is_candidate AND max_per_day IS NOT NULL").limit(2).collect()]
    stored = Stored(stored.scores, stored.state, stored.stored_days + replayed)
    decided_df = ad.with_delivery(fired_df, spark.createDataFrame(stored.stored_days, ALERTS_BY_INTEREST_DAY_SCHEMA))
    want = by_table(CollectedRows(delivery_frames(decided_df, ad.to_alert_state_rows(decided_df), TOPIC)))

    # the same batch held on the driver
    plans = SessionPlans(partial(_AlertPlans, topic=TOPIC)).of(spark)
    plans.raw.fill(raw_df)
    found = small_batch_rows(plans, lambda keys: [row for row in interest_rows if row[0] in keys],
                             lambda matched: stored, lambda _: None)
    plans.clear()
    assert found is not None and found[2] is not None
    got = by_table(found[2])

    assert got == want
    alerts = want[FRESH, "alerts_by_user"]
    assert len(alerts) > 50 and len(replayed) == 2
    assert {a["kind"] for a in alerts} == {"NEW_MATCH", "PRICE_DROP"}
    assert {a["delivery"] for a in alerts} >= {"INSTANT", "DAILY_CAP_DIGEST", "HOURLY_DIGEST", "QUIET_HOURS_DIGEST"}
    assert any(a["reason"] and "verified discount" in a["reason"] for a in alerts)
