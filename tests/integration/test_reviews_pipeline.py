"""Reviews through the real stack (issue 18): Kafka -> both activity streams -> every review and rating
table equals a plain-Python oracle over the same log; a replayed micro-batch changes nothing; the
batch layer over the lake archive of the same topic writes the very same rows."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from batch.activity_job import run_activity_batch
from conf.settings import Settings
from pipeline.activity_sink import ActivityEventsSink
from pipeline.schemas import RAW_RECORD_SCHEMA
from streaming.activity_job import start_activity_streams
from streaming.archive_job import start_archive
from tests.conftest import REVIEWS_TEST_KEYSPACE, keyspace_session, truncate_keyspace
from tests.integration.activity_fixtures import produce_log, raw_rows
from tests.integration.review_tables import expected, snapshot
from tests.review_log import cell_ratings, latest_reviews, review_log

pytestmark = pytest.mark.integration
KEYSPACE = REVIEWS_TEST_KEYSPACE
LATENESS_S = 30.0
FLOOR = 5


@pytest.fixture(scope="module")
def rev_settings(settings: Settings, kafka_bootstrap: str) -> Settings:
    """Own keyspace and topic; small triggers, so reviews and their purchases meet across micro-batches."""
    return settings.model_copy(update={
        "keyspace": KEYSPACE, "topic_user_events": f"{settings.topic_user_events}_reviews",
        "max_offsets_per_trigger": 60, "activity_allowed_lateness_s": LATENESS_S,
        "activity_min_users_per_cell": FLOOR,
    })


@pytest.fixture(scope="module")
def rev_cassandra(rev_settings: Settings) -> Iterator[Any]:
    with keyspace_session(rev_settings) as session:
        truncate_keyspace(session, KEYSPACE)
        yield session


def test_the_log_exercises_every_case() -> None:
    reviews = latest_reviews(review_log())
    assert not reviews[(2001, 7)]["verified"] and not reviews[(2003, 9)]["verified"]  # never bought / bought later
    assert reviews[(2001, 1)]["rating"] == 2 and reviews[(2003, 11)]["verified"]  # reviewed twice / late purchase
    assert sum(1 for deal, _ in reviews if deal == 2002) == 1  # a deal with one review
    shown, rated = cell_ratings(review_log(), LATENESS_S, FLOOR), cell_ratings(review_log(), LATENESS_S, 1)
    assert rated - shown  # rated cells under the anonymity floor: the map must leave them out


def test_stream_equals_the_oracle_replays_change_nothing_and_batch_agrees(
        spark: Any, rev_settings: Settings, rev_cassandra: Any, tmp_path: Any) -> None:
    log = review_log()
    produce_log(rev_settings.kafka_bootstrap, rev_settings.topic_user_events, log)
    queries = start_activity_streams(spark, rev_settings, available_now=True,
                                     checkpoint_root=(tmp_path / "ck").as_uri())
    try:
        queries.await_both(900)
    finally:
        queries.stop()
    assert queries.events.exception() is None and queries.windows.exception() is None
    assert len(queries.events_sink.reports) >= 3  # reviews and purchases met across micro-batches

    streamed = snapshot(rev_cassandra, KEYSPACE)
    want = expected(log, LATENESS_S, FLOOR)
    for table, rows in want.items():
        assert streamed[table] == rows, (table, streamed[table] ^ rows)
    assert want["ratings_by_cell"] and want["review_feed_by_deal"]

    # A micro-batch replayed after a crash: the same rows again. It holds the middle of the log and the
    # events whose order matters: user 1's superseded review, user 11's late purchase that verifies an
    # earlier review, user 9's purchase after reviewing.
    tricky = {(1, 2001), (11, 2003), (9, 2003)}
    replayed = [e for i, e in enumerate(log) if len(log) // 3 <= i < 2 * len(log) // 3
                or (isinstance(e.payload, dict) and (e.payload["user_id"], e.payload["deal_id"]) in tricky)]
    assert {e.payload["event_type"] for e in replayed if isinstance(e.payload, dict)} >= {"review", "purchase"}
    replay = ActivityEventsSink(rev_settings)
    try:
        replay(spark.createDataFrame(raw_rows(replayed), RAW_RECORD_SCHEMA), 7)
    finally:
        replay.close()
    assert snapshot(rev_cassandra, KEYSPACE) == streamed

    archive = start_archive(spark, rev_settings, rev_settings.topic_user_events, available_now=True)
    try:
        archive.awaitTermination(600)
    finally:
        archive.stop()
    truncate_keyspace(rev_cassandra, KEYSPACE)
    run_activity_batch(spark, rev_settings.model_copy(update={"sink_driver_max_keys": 0, "review_driver_max_rows": 0}))
    assert snapshot(rev_cassandra, KEYSPACE) == streamed


def test_batches_of_purchases_alone_before_and_after_the_reviews(
        spark: Any, rev_settings: Settings, rev_cassandra: Any) -> None:
    """Three micro-batches: purchases of deals nobody has reviewed yet (the sink writes them without
    judging anything), the rest of the log, then purchases alone that verify their buyers' stored
    reviews (those must be judged again). Every table the events sink writes equals the oracle."""
    truncate_keyspace(rev_cassandra, KEYSPACE)
    log = review_log()
    rows, events = raw_rows(log), [e.payload if isinstance(e.payload, dict) else {} for e in log]

    def reviewed_before(i: int, *, by_buyer: bool) -> bool:
        return any(earlier.get("event_type") == "review" and earlier["deal_id"] == events[i]["deal_id"]
                   and (not by_buyer or earlier["user_id"] == events[i]["user_id"]) for earlier in events[:i])

    purchases = [i for i, e in enumerate(events) if e.get("event_type") == "purchase"]
    first = {i for i in purchases if not reviewed_before(i, by_buyer=False)}
    last = {i for i in purchases if reviewed_before(i, by_buyer=True)}
    assert first and last, "the log must hold purchases before any review of their deal, and late ones"
    sink = ActivityEventsSink(rev_settings)
    try:
        for batch_id, batch in enumerate([sorted(first), [i for i in range(len(rows)) if i not in first | last],
                                          sorted(last)]):
            sink(spark.createDataFrame([rows[i] for i in batch], RAW_RECORD_SCHEMA), batch_id)
    finally:
        sink.close()
    stored, want = snapshot(rev_cassandra, KEYSPACE), expected(log, LATENESS_S, FLOOR)
    for table in set(want) - {"ratings_by_cell"}:  # the map's cells are the windows query's
        assert stored[table] == want[table], (table, stored[table] ^ want[table])
