"""A micro-batch is run again while Cassandra is unreachable, and only then (streaming/foreach_batch.py)."""
from __future__ import annotations

import pytest
from cassandra.cluster import NoHostAvailable

from streaming.foreach_batch import foreach_batch, is_cassandra_unavailable


class FlakySink:
    def __init__(self, errors: list[BaseException]) -> None:
        self.errors, self.calls = errors, 0

    def __call__(self, _df: object, _batch_id: int) -> None:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)


def test_a_batch_that_met_an_unreachable_cassandra_runs_again_until_it_passes(monkeypatch) -> None:
    monkeypatch.setattr("time.sleep", lambda _s: None)  # tenacity's waits
    sink = FlakySink([NoHostAvailable("down", {}), RuntimeError(
        "py4j.protocol.Py4JJavaError: java.io.IOException: Failed to open native connection to Cassandra")])
    prepared: list[object] = []
    foreach_batch(sink, retry_for_s=60, before_retry=prepared.append)("the batch", 7)  # type: ignore[arg-type]
    assert sink.calls == 3 and prepared == ["the batch", "the batch"]  # fresh sessions before each retry


def test_any_other_error_ends_the_batch_at_once() -> None:
    sink = FlakySink([ValueError("a bug")])
    with pytest.raises(ValueError, match="a bug"):
        foreach_batch(sink, retry_for_s=60)(None, 7)  # type: ignore[arg-type]
    assert sink.calls == 1


def test_with_no_retry_time_an_unreachable_cassandra_ends_the_batch() -> None:
    sink = FlakySink([NoHostAvailable("down", {})])
    with pytest.raises(NoHostAvailable):
        foreach_batch(sink, retry_for_s=0)(None, 7)  # type: ignore[arg-type]
    assert sink.calls == 1


@pytest.mark.parametrize(("error", "transient"), [
    (NoHostAvailable("x", {}), True),
    (RuntimeError("com.datastax.oss.driver.api.core.AllNodesFailedException: All 1 node(s) tried failed"), True),
    (RuntimeError("org.apache.spark.sql.AnalysisException: column price not found"), False),
    (KeyError("deal_id"), False),
])
def test_what_counts_as_cassandra_being_away(error: BaseException, transient: bool) -> None:
    assert is_cassandra_unavailable(error) is transient
