"""Simulated time. The catalog's churn is a function of simulated time only, so it is reproducible."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Simulated epoch seconds."""
        ...


class ScaledClock:
    """Simulated time runs `scale` times as fast as the wall clock, from `start_ts`."""

    def __init__(
        self, start_ts: float, scale: float = 1.0, wall: Callable[[], float] = time.monotonic
    ) -> None:
        self._start = start_ts
        self._scale = scale
        self._wall = wall
        self._origin = wall()

    def now(self) -> float:
        return self._start + (self._wall() - self._origin) * self._scale


class ManualClock:
    """Moves only when told to: for tests."""

    def __init__(self, start_ts: float) -> None:
        self._now = start_ts
        self._lock = threading.Lock()

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> float:
        with self._lock:
            self._now += seconds
            return self._now
