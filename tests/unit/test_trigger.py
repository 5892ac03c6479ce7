"""The speed layer's triggers are what Spark reads them as (streaming/trigger.py): the interval a
setting names, parsed by Spark's own `Trigger.ProcessingTime`."""
from __future__ import annotations

from typing import Any

import pytest

from streaming.trigger import trigger


@pytest.mark.parametrize("seconds", [0.5, 1, 60.0])
def test_a_processing_time_trigger_fires_every_seconds_of_its_setting(spark: Any, seconds: float) -> None:
    keywords = trigger(False, seconds)
    assert list(keywords) == ["processingTime"]
    parsed = spark._jvm.org.apache.spark.sql.streaming.Trigger.ProcessingTime(keywords["processingTime"])
    assert parsed.intervalMs() == round(seconds * 1000)


def test_available_now_reads_what_is_there_whatever_the_interval() -> None:
    assert trigger(True, 0.5) == trigger(True, 60.0) == {"availableNow": True}
