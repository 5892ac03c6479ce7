"""The sinks as `foreachBatch` takes them: Spark wants a function returning nothing."""
from __future__ import annotations

from collections.abc import Callable

from pyspark.sql import DataFrame


def foreach_batch(sink: Callable[[DataFrame, int], object]) -> Callable[[DataFrame, int], None]:
    """`sink` with its return value (a batch report, which Spark would ignore anyway) dropped.

    The sinks keep their reports themselves (`sink.reports`), so nothing is lost.
    """

    def run(batch_df: DataFrame, batch_id: int) -> None:
        sink(batch_df, batch_id)

    return run
