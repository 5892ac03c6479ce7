"""Fixtures of the API integration tests: their own keyspace, seeded once per module through the
real pipeline sink (the same `DealTablesSink` as `run_deals_batch`).

A separate keyspace (`exs_test_api`) keeps the API tests independent of the pipeline tests, which
empty `exs_test` per test; module scope keeps the seeding (a Spark job) to one run per module.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from conf.settings import Settings
from tests.conftest import raw_records, require_service

API_TEST_KEYSPACE = "exs_test_api"


@pytest.fixture(scope="session")
def api_settings(settings: Settings) -> Settings:
    """The test settings on the API tests' own keyspace."""
    return settings.model_copy(update={"keyspace": API_TEST_KEYSPACE})


@pytest.fixture(scope="session")
def api_cassandra(api_settings: Settings) -> Iterator[Any]:
    """A driver session on the API test keyspace, schema applied."""
    require_service("Cassandra", api_settings.cassandra_host, api_settings.cassandra_port)
    from stack.cql import apply_schema, cluster_for

    cluster = cluster_for(api_settings)
    session = cluster.connect()
    apply_schema(session, api_settings)
    yield session
    cluster.shutdown()


@pytest.fixture(scope="session")
def seed_api(spark: Any, api_settings: Settings, api_cassandra: Any) -> Iterator[Callable[[list[Any]], Any]]:
    """`seed_api(payloads)` empties the API keyspace and runs the pipeline sink over the payloads."""
    from pipeline.schemas import RAW_RECORD_SCHEMA
    from pipeline.sink import DealTablesSink

    sink = DealTablesSink(api_settings)

    def seed(payloads: list[Any]) -> Any:
        tables = api_cassandra.execute(
            "SELECT table_name FROM system_schema.tables WHERE keyspace_name = %s", (API_TEST_KEYSPACE,))
        for row in tables:
            api_cassandra.execute(f"TRUNCATE {API_TEST_KEYSPACE}.{row.table_name}")
        return sink(spark.createDataFrame(raw_records(payloads), RAW_RECORD_SCHEMA), None)

    yield seed
    sink.close()
