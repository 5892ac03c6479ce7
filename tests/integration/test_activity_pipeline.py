"""User activity through the real stack: Kafka -> both streaming queries -> Cassandra equals a
plain-Python oracle over the same event log (whole tables), and the batch layer over the lake
archive of the same topic writes the very same rows."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from batch.activity_job import run_activity_batch
from conf.settings import Settings
from streaming.activity_job import start_activity_streams
from streaming.archive_job import start_archive
from tests.activity_log import (
    event_log,
    expected_cells,
    expected_late,
    expected_merchant_sales,
    expected_purchases,
    expected_sales,
    expected_trending,
)
from tests.conftest import ACTIVITY_TEST_KEYSPACE, keyspace_session, truncate_keyspace
from tests.integration.activity_fixtures import produce_log, snapshot

pytestmark = pytest.mark.integration
KEYSPACE = ACTIVITY_TEST_KEYSPACE
LATENESS_S = 30.0
FLOOR = 5


@pytest.fixture(scope="module")
def act_settings(settings: Settings, kafka_bootstrap: str) -> Settings:
    """Own keyspace and topic; small triggers so the stream merges state over several micro-batches."""
    return settings.model_copy(update={
        "keyspace": KEYSPACE, "topic_user_events": f"{settings.topic_user_events}_pipeline",
        "max_offsets_per_trigger": 150, "activity_allowed_lateness_s": LATENESS_S,
        "activity_min_users_per_cell": FLOOR,
    })


@pytest.fixture(scope="module")
def act_cassandra(act_settings: Settings) -> Iterator[Any]:
    with keyspace_session(act_settings) as session:
        truncate_keyspace(session, KEYSPACE)
        yield session


def test_stream_equals_the_oracle_and_batch_over_the_lake_agrees(spark: Any, act_settings: Settings,
                                                                 act_cassandra: Any, tmp_path: Any) -> None:
    log = event_log(450, seed=6)
    produce_log(act_settings.kafka_bootstrap, act_settings.topic_user_events, log)
    queries = start_activity_streams(spark, act_settings, available_now=True,
                                     checkpoint_root=(tmp_path / "ck").as_uri())
    try:
        queries.await_both(300)
    finally:
        queries.stop()
    assert queries.events.exception() is None and queries.windows.exception() is None
    assert len(queries.windows_sink.reports) >= 3  # state really was carried across micro-batches

    streamed = snapshot(act_cassandra, KEYSPACE)
    assert streamed["trending"] == expected_trending(log, LATENESS_S)
    assert streamed["sales"] == expected_sales(log, LATENESS_S)
    assert streamed["cells"] == expected_cells(log, LATENESS_S, FLOOR)
    assert streamed["merchants"] == expected_merchant_sales(log, LATENESS_S)
    assert streamed["purchases"] == expected_purchases(log)
    assert streamed["late"] == expected_late(log, LATENESS_S)
    lags = [(e.received - e.occurred).total_seconds() for e in log]
    assert streamed["late"] and any(5 < lag <= LATENESS_S for lag in lags)  # both kinds of late are exercised
    hidden = expected_cells(log, LATENESS_S, 1) - streamed["cells"]
    assert hidden and all(row[4] < FLOOR for row in hidden) and all(row[4] >= FLOOR for row in streamed["cells"])
    assert streamed["dead"] == {("payload is not a JSON object (malformed or truncated JSON)",),
                                ("a review needs a rating of 1-5 stars",)}

    archive = start_archive(spark, act_settings, act_settings.topic_user_events, available_now=True)
    archive.awaitTermination(300)
    archive.stop()
    truncate_keyspace(act_cassandra, KEYSPACE)
    # The stream held its small micro-batches on the driver; the batch layer holds its windows in
    # Spark (no driver path at all here), so the two ways of holding a batch are compared too.
    run_activity_batch(spark, act_settings.model_copy(update={"sink_driver_max_keys": 0, "review_driver_max_rows": 0}))
    assert snapshot(act_cassandra, KEYSPACE) == streamed
