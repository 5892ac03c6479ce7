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
from tests.conftest import API_TEST_KEYSPACE, keyspace_session, raw_records, truncate_keyspace


@pytest.fixture(scope="session")
def api_settings(settings: Settings) -> Settings:
    """The test settings on the API tests' own keyspace."""
    return settings.model_copy(update={"keyspace": API_TEST_KEYSPACE})


@pytest.fixture(scope="session")
def api_cassandra(api_settings: Settings) -> Iterator[Any]:
    """A driver session on the API test keyspace, schema applied."""
    with keyspace_session(api_settings) as session:
        yield session


@pytest.fixture(scope="session")
def seed_api(spark: Any, api_settings: Settings, api_cassandra: Any) -> Iterator[Callable[[list[Any]], Any]]:
    """`seed_api(payloads)` empties the API keyspace and runs the pipeline sink over the payloads."""
    from pipeline.schemas import RAW_RECORD_SCHEMA
    from pipeline.sink import DealTablesSink

    sink = DealTablesSink(api_settings)

    def seed(payloads: list[Any]) -> Any:
        truncate_keyspace(api_cassandra, API_TEST_KEYSPACE)
        return sink(spark.createDataFrame(raw_records(payloads), RAW_RECORD_SCHEMA), None)

    yield seed
    sink.close()
