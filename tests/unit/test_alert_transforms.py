"""The alert transforms on one micro-batch, against the independent oracle (tests/alert_oracle.py):
matching by index key, the re-arm rule over several versions in one batch, reasons, and delivery
(quiet hours, daily caps, hourly and daily digests). Spark only; no Kafka, no Cassandra."""
from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta

import orjson
from pyspark.sql import functions as F

from pipeline import alert_delivery as ad
from pipeline import alert_transforms as at
from pipeline import deal_transforms as dt
from pipeline.alert_schemas import ALERT_STATE_BY_DEAL_SCHEMA, ALERTS_BY_INTEREST_DAY_SCHEMA, INTERESTS_BY_KEY_SCHEMA
from pipeline.schemas import RAW_RECORD_SCHEMA
from tests import alert_oracle
from tests.integration import alert_fixtures as fx


def test_one_batch_alerts_and_delivery_equal_the_oracle(spark):
    records = fx.deal_records(400, seed=5)
    start = datetime(2026, 11, 20, 0, 0, tzinfo=UTC)
    stamped = fx.stamped(records, start, timedelta(seconds=97))  # ~1.3 days
    interests = fx.interests(9, seed=6)
    for interest in interests:
        interest["interest_id"] = uuid.UUID(int=random.Random(id(interest)).getrandbits(128)).hex
    raw_df = spark.createDataFrame([(str(r["id"]), orjson.dumps(r).decode(), "t", 0, n, t.replace(tzinfo=None))
                                    for n, (r, t) in enumerate(stamped)], RAW_RECORD_SCHEMA)
    versions_df = at.alert_versions(raw_df.transform(dt.parse_deal_records).transform(dt.filter_valid_deals))
    interests_df = spark.createDataFrame(fx.interest_rows(interests), INTERESTS_BY_KEY_SCHEMA)
    candidates_df = at.match_interests(versions_df, interests_df).withColumn(
        "verified_discount_pct", F.lit(0.5))
    fired_df = at.fired_alerts(candidates_df, spark.createDataFrame([], ALERT_STATE_BY_DEAL_SCHEMA))
    decided = ad.with_delivery(fired_df, spark.createDataFrame([], ALERTS_BY_INTEREST_DAY_SCHEMA)).collect()

    scores = {(r["id"], datetime.strptime(r["updated_at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)): 0.5
              for r in records}
    want = alert_oracle.fired(stamped, interests, scores)
    modes = alert_oracle.with_delivery(want)
    got = {(r["user_id"], r["interest_id"], r["deal_id"], r["updated_at"].astimezone(UTC)):
           (r["kind"], r["price"], r["previous_price"], r["delivery_mode"], r["deliver_at"].astimezone(UTC))
           for r in decided}
    assert len(got) == len(decided) > 50
    assert got == {k: (a["kind"], a["price"], a["previous_price"], *modes[k]) for k, a in want.items()}
    assert {m for m, _ in modes.values()} >= {"INSTANT", "QUIET_HOURS_DIGEST", "HOURLY_DIGEST"}
    drop = next(r for r in decided if r["kind"] == "PRICE_DROP")
    assert drop["reason"].startswith(f"price dropped from ${drop['previous_price']:,.2f} to ${drop['price']:,.2f}")
