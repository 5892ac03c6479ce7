"""The trigger every streaming query of the speed layer starts with."""
from __future__ import annotations

from typing import Any


def trigger(available_now: bool, seconds: float) -> dict[str, Any]:
    """`DataStreamWriter.trigger` keywords: what Kafka holds, then stop (a catch-up, a test's drain), or
    a micro-batch every `seconds` (each query's own setting: how fresh its tables must be against what
    a batch costs on two cores)."""
    return {"availableNow": True} if available_now else {"processingTime": f"{seconds} seconds"}
