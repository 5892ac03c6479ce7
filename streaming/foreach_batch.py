"""The sinks as `foreachBatch` takes them: Spark wants a function returning nothing, and a micro-batch
that failed only because Cassandra was unreachable is worth retrying rather than ending the query."""
from __future__ import annotations

import logging
from collections.abc import Callable

from pyspark.sql import DataFrame
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_delay, wait_exponential_jitter

log = logging.getLogger(__name__)
#: What an unreachable or overloaded Cassandra looks like, from the Python driver (exception class
#: names) and from the spark-cassandra-connector inside a failed Spark job (the Java error's text).
CASSANDRA_UNAVAILABLE = (
    "NoHostAvailable", "OperationTimedOut", "Unavailable", "WriteTimeout", "ReadTimeout",
    "AllNodesFailedException", "Failed to open native connection to Cassandra", "DriverTimeoutException",
    "ConnectionInitException", "ClosedConnectionException", "BusyConnectionException",
)


def is_cassandra_unavailable(error: BaseException) -> bool:
    text = f"{type(error).__name__}: {error}"
    return any(marker in text for marker in CASSANDRA_UNAVAILABLE)


def foreach_batch(sink: Callable[[DataFrame, int], object], *, retry_for_s: float,
                  before_retry: Callable[[DataFrame], None] | None = None) -> Callable[[DataFrame, int], None]:
    """`sink` with its return value (a batch report, which Spark would ignore anyway) dropped, and the
    whole micro-batch run again while Cassandra is unreachable, for up to `retry_for_s` seconds.

    Running a micro-batch twice is safe: every sink writes keyed rows (a replay after a crash does the
    same). Without the retry a Cassandra restart ends the query, and its driver with it. Any other
    error, or Cassandra still away after `retry_for_s`, ends the query as before. `before_retry` runs
    before each new attempt (default: forget the connector's idle sessions). The sinks keep their
    reports themselves (`sink.reports`), so nothing is lost.
    """
    prepare_retry = before_retry or forget_idle_connector_sessions

    def run(batch_df: DataFrame, batch_id: int) -> None:
        for attempt in Retrying(retry=retry_if_exception(is_cassandra_unavailable), stop=stop_after_delay(retry_for_s),
                                wait=wait_exponential_jitter(initial=1, max=15), before_sleep=_say_retry(batch_id),
                                reraise=True):
            with attempt:
                if attempt.retry_state.attempt_number > 1:
                    prepare_retry(batch_df)
                sink(batch_df, batch_id)

    return run


def forget_idle_connector_sessions(batch_df: DataFrame) -> None:
    """Close the spark-cassandra-connector's idle cached sessions, so the retry opens a new one.

    A session that lived through the outage may still be reconnecting its control connection, and the
    connector's schema refresh on such a session can wait forever (the Java driver's refreshSchema() has
    no timeout: scylladb/java-driver#343): the micro-batch, and so the query, would hang instead of
    failing. Sessions in use by other queries are left alone (the connector only evicts idle ones).
    """
    jvm = batch_df.sparkSession.sparkContext._jvm
    assert jvm is not None
    jvm.com.datastax.spark.connector.cql.CassandraConnector.evictCache()


def _say_retry(batch_id: int) -> Callable[[RetryCallState], None]:
    def say(state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        first_line = str(error).strip().splitlines()[0][:300] if error else ""
        log.warning("batch %s: Cassandra unreachable (%s: %s); retrying the micro-batch in %.1fs (attempt %d)",
                    batch_id, type(error).__name__, first_line,
                    state.next_action.sleep if state.next_action else 0.0, state.attempt_number)
    return say
