"""Session fixtures shared by every test: settings, the one Spark session, the real stack.

Integration tests (marker `integration`) talk to the real Kafka and Cassandra started by
`exstreamly stack up`. Locally a missing service skips them with the reason; with CI=true it
fails the run instead, so CI can never pass by skipping.
"""
from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from conf.settings import Settings, load_settings

IN_CI = os.environ.get("CI", "").lower() == "true"
#: Two test runs may share one local stack (e.g. two worktrees) when each sets its own suffix.
_SUFFIX = os.environ.get("EXS_TEST_KEYSPACE_SUFFIX", "")
TEST_KEYSPACE = f"exs_test{_SUFFIX}"
#: Every keyspace the suite writes, created before Spark first connects: the connector caches
#: the schema it saw at connect time, so a keyspace created later may be unknown to it for a while.
API_TEST_KEYSPACE = f"exs_test_api{_SUFFIX}"
ACTIVITY_TEST_KEYSPACE = f"exs_test_activity{_SUFFIX}"
ACTIVITY_API_TEST_KEYSPACE = f"exs_test_activity_api{_SUFFIX}"
#: Seeded with plain CQL (no Spark) by the API security tests.
SECURITY_TEST_KEYSPACE = f"exs_test_security{_SUFFIX}"
UI_TEST_KEYSPACE = f"exs_test_ui{_SUFFIX}"
RECOMMEND_TEST_KEYSPACE = f"exs_test_recommend{_SUFFIX}"
#: Reviews and ratings (issue 18): the pipeline test's and the API test's.
REVIEWS_TEST_KEYSPACE = f"exs_test_reviews{_SUFFIX}"
REVIEWS_API_TEST_KEYSPACE = f"exs_test_reviews_api{_SUFFIX}"
#: Interest alerts (issue 14): the alerts stream's tests.
ALERTS_TEST_KEYSPACE = f"exs_test_alerts{_SUFFIX}"
ALERTS_API_TEST_KEYSPACE = f"exs_test_alerts_api{_SUFFIX}"  # plain CQL only: not needed before Spark
TEST_KEYSPACES = (TEST_KEYSPACE, API_TEST_KEYSPACE, ACTIVITY_TEST_KEYSPACE, ACTIVITY_API_TEST_KEYSPACE,
                  UI_TEST_KEYSPACE, RECOMMEND_TEST_KEYSPACE, REVIEWS_TEST_KEYSPACE, REVIEWS_API_TEST_KEYSPACE,
                  ALERTS_TEST_KEYSPACE)


@pytest.fixture(scope="session")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Local-stack settings with a test keyspace, test topics and a private lake/checkpoints."""
    work = tmp_path_factory.mktemp("exs")
    run = uuid.uuid4().hex[:8]
    return load_settings(
        keyspace=TEST_KEYSPACE,
        topic_deals_raw=f"test_deals_raw_{run}",
        topic_deal_pages=f"test_deal_pages_{run}",
        topic_user_events=f"test_user_events_{run}",
        lake_uri=(work / "lake").as_uri(),
        checkpoint_uri=(work / "checkpoints").as_uri(),
        trigger_seconds=0.5,
        # tests read what they just wrote; the answer cache has a test of its own
        api_response_cache_s=0.0,
    )


def _port_open(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1.0)
        return sock.connect_ex((host, port)) == 0


def require_service(name: str, host: str, port: int) -> None:
    """Fail in CI, skip elsewhere, when a service of the local stack is not listening."""
    if _port_open(host, port):
        return
    message = f"{name} is not reachable at {host}:{port}; start it with `exstreamly stack up`"
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)  # outside CI only: with CI=true the lines above fail the run


@pytest.fixture(scope="session")
def kafka_bootstrap(settings: Settings) -> str:
    require_service("Kafka", settings.kafka_host, settings.kafka_port)
    return settings.kafka_bootstrap


@contextmanager
def keyspace_session(settings: Settings) -> Iterator[Any]:
    """A driver session on `settings.keyspace`, schema applied (idempotently); Cassandra required."""
    require_service("Cassandra", settings.cassandra_host, settings.cassandra_port)
    from conf.clients import cassandra_cluster
    from stack.cql import apply_schema

    cluster = cassandra_cluster(settings)
    try:
        session = cluster.connect()
        apply_schema(session, settings)
        session.set_keyspace(settings.keyspace)
        yield session
    finally:
        cluster.shutdown()


def truncate_keyspace(session: Any, keyspace: str) -> None:
    """Empty every table of one test keyspace."""
    tables = session.execute("SELECT table_name FROM system_schema.tables WHERE keyspace_name = %s", (keyspace,))
    for row in tables:
        session.execute(f"TRUNCATE {keyspace}.{row.table_name}", timeout=60)


@pytest.fixture(scope="session")
def cassandra_session(settings: Settings) -> Iterator[Any]:
    """A driver session on the test keyspace, with the schema applied (idempotently)."""
    with keyspace_session(settings) as session:
        yield session


@pytest.fixture()
def clean_tables(cassandra_session: Any) -> Any:
    """Empty every table of the test keyspace before the test."""
    truncate_keyspace(cassandra_session, TEST_KEYSPACE)
    return cassandra_session


@pytest.fixture(scope="session")
def spark(settings: Settings) -> Iterator[Any]:
    """The one Spark session of the run: local[2], the project's Spark defaults and both connectors.

    Before it starts, the schema of every test keyspace is applied when Cassandra is there (see
    TEST_KEYSPACES); without Cassandra the tests that need it fail or skip on their own.
    """
    from stack.spark_local import local_session

    if _port_open(settings.cassandra_host, settings.cassandra_port):
        for keyspace in TEST_KEYSPACES:
            with keyspace_session(settings.model_copy(update={"keyspace": keyspace})):
                pass

    session = local_session(settings, app="exstreamly-tests", **{"spark.sql.shuffle.partitions": "2"})
    yield session
    session.stop()


def raw_records(payloads: list[Any], *, topic: str = "test", start_offset: int = 0,
                timestamp: datetime | None = None) -> list[tuple[Any, ...]]:
    """Rows shaped like RAW_RECORD_SCHEMA for payloads (dicts are JSON-encoded, strings kept raw)."""
    when = timestamp or datetime.now(UTC).replace(tzinfo=None)
    rows = []
    for i, payload in enumerate(payloads):
        value = payload if isinstance(payload, str) or payload is None else orjson.dumps(payload).decode()
        key = str(payload.get("id")) if isinstance(payload, dict) else None
        rows.append((key, value, topic, 0, start_offset + i, when))
    return rows


@contextmanager
def deals_sink_runner(spark: Any, settings: Settings) -> Iterator[Callable[..., Any]]:
    """The deal sink (its scores included) as a function of raw payloads; closed afterwards."""
    from pipeline.schemas import RAW_RECORD_SCHEMA
    from pipeline.sink import DealTablesSink

    sink = DealTablesSink(settings)

    def run(payloads: list[Any], **kwargs: Any) -> Any:
        return sink(spark.createDataFrame(raw_records(payloads, **kwargs), RAW_RECORD_SCHEMA), None)

    try:
        yield run
    finally:
        sink.close()


@pytest.fixture()
def run_deals_batch(spark: Any, settings: Settings, clean_tables: Any) -> Iterator[Callable[..., Any]]:
    """Seed the (emptied) test keyspace by running the batch layer's sink over raw payloads."""
    with deals_sink_runner(spark, settings) as run:
        yield run


def deselect_marked(config: pytest.Config, items: list[pytest.Item], marker: str) -> None:
    """Deselect (reported as such, never skipped) the items carrying `marker`: a suite's slow cases that
    run only when asked for (EXS_FAULTS=full, EXS_CLUSTER=full)."""
    deselected = [item for item in items if item.get_closest_marker(marker)]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = [item for item in items if item not in deselected]
