"""The alerts sink in-process, micro-batch by micro-batch: an interest saved through the API between
two batches matches from the next batch on (no restart), a re-crawl raises nothing, a further price
drop re-arms, and a batch replayed after its writes raises nothing new. Expected alerts come from
the independent oracle over the records each interest could see."""
from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from starlette.testclient import TestClient

from conf.settings import Settings
from graphql_api.app import create_app
from pipeline.alert_sink import AlertSink
from pipeline.schemas import RAW_RECORD_SCHEMA
from tests import alert_oracle
from tests.conftest import ALERTS_TEST_KEYSPACE, keyspace_session, truncate_keyspace
from tests.integration import alert_fixtures as fx

pytestmark = pytest.mark.integration


def frame(spark: Any, stamped: list[tuple[dict[str, Any], datetime]], first_offset: int) -> Any:
    import orjson

    rows = [(str(raw["id"]), orjson.dumps(raw).decode(), "deals_raw", 0, first_offset + i, at.replace(tzinfo=None))
            for i, (raw, at) in enumerate(stamped)]
    return spark.createDataFrame(rows, RAW_RECORD_SCHEMA)


def stored(session: Any) -> set[tuple[Any, ...]]:
    return {(r.user_id, r.interest_id, r.deal_id, r.deal_updated_at.replace(tzinfo=UTC), r.kind, r.price)
            for r in session.execute("SELECT * FROM alerts_by_user")}


def expected(alerts: dict[alert_oracle.Key, dict[str, Any]]) -> set[tuple[Any, ...]]:
    return {(*key, a["kind"], a["price"]) for key, a in alerts.items()}


#: A small batch held on the driver and read by key from it; a large one in Spark jobs and the connector.
WAYS = {"small-session": {"sink_driver_max_keys": 2000}, "connector": {"sink_driver_max_keys": 0,
                                                                       "sink_driver_max_rows": 0}}


@pytest.mark.parametrize("way", sorted(WAYS))
def test_interests_apply_from_the_next_batch_and_replays_raise_nothing(spark: Any, settings: Settings,
                                                                       kafka_bootstrap: str, way: str) -> None:
    sink_settings = settings.model_copy(update={"keyspace": ALERTS_TEST_KEYSPACE, "alert_score_wait_s": 0.0,
                                                "topic_deal_alerts": f"test_deal_alerts_{uuid.uuid4().hex[:8]}",
                                                **WAYS[way]})
    rng = random.Random(3)
    deals = [fx.deal(rng, 7_000_000 + i) for i in range(300)]
    drops = [fx.later_version(rng, d, 1) for d in deals[:150]]
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3)
    first = fx.stamped(deals, start, timedelta(seconds=1))
    second = fx.stamped(drops + deals[150:200], start + timedelta(minutes=10), timedelta(seconds=1))  # + re-crawls
    early = {"user_id": 1, "category": "restaurants", "max_per_day": 3}  # capped: reads its stored day
    late = {"user_id": 2, "near": (fx.CITIES[0][0], fx.CITIES[0][1], 50.0)}
    sink = AlertSink(sink_settings)
    try:
        with keyspace_session(sink_settings) as session, TestClient(create_app(sink_settings)) as client:
            truncate_keyspace(session, ALERTS_TEST_KEYSPACE)
            fx.save_through_api(client, sink_settings, [early])
            sink(frame(spark, first, 0), 0)
            fx.save_through_api(client, sink_settings, [late])  # while the "stream" runs: no restart
            second_df = frame(spark, second, len(first))
            sink(second_df, 1)
            after_two = stored(session)
            report = sink(second_df, 1)  # a replay of the same batch after all its writes
            assert stored(session) == after_two and report.alerts == 0
    finally:
        sink.close()
    want = expected(alert_oracle.fired(first + second, [early])) | expected(alert_oracle.fired(second, [late]))
    assert len(want) > 20 and after_two == want
    assert {a[4] for a in want} == {"NEW_MATCH", "PRICE_DROP"}
