"""The sinks' side-by-side Spark actions run in the scheduler pool of the query that called them: the
scheduler reads a job's pool from the submitting thread's `spark.scheduler.pool` local property."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from pipeline.cassandra_io import run_concurrently, run_side_by_side

POOL = "spark.scheduler.pool"


@pytest.fixture
def in_pool(spark: Any) -> Iterator[Any]:
    sc = spark.sparkContext
    sc.setLocalProperty(POOL, "deals")
    yield sc
    sc.setLocalProperty(POOL, None)


def test_actions_run_side_by_side_see_the_callers_pool(in_pool: Any) -> None:
    def pool_of() -> str | None:
        return in_pool.getLocalProperty(POOL)

    assert run_concurrently([pool_of, pool_of, pool_of]) == ["deals"] * 3
    assert run_side_by_side(pool_of, pool_of) == ("deals", "deals")

