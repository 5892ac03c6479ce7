"""A leaky-bucket rate limiter shared by all threads of a process.

Virtual scheduling (GCRA): each `acquire()` books the next free slot, spaced `1/rate` apart, and sleeps
until it. Booking happens under a lock, sleeping outside it, so threads queue fairly and the long-run
rate never exceeds `rate` however many threads call. `burst` slots may be used back to back after an
idle period. Clock and sleep are injected so tests run against a fake clock.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable


class LeakyBucket:
    """At most `rate` acquisitions per second on average, with up to `burst` at once after idling."""

    def __init__(
        self,
        rate: float,
        *,
        burst: int = 1,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError(f"rate must be > 0 requests/s, got {rate}")
        if burst < 1:
            raise ValueError(f"burst must be >= 1, got {burst}")
        self.rate = rate
        self._interval = 1.0 / rate
        self._tolerance = (burst - 1) * self._interval
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._next: float | None = None

    def reserve(self) -> float:
        """Book the next slot and return how long the caller must wait for it (seconds, >= 0)."""
        with self._lock:
            now = self._clock()
            earliest = now - self._tolerance
            slot = earliest if self._next is None or self._next < earliest else self._next
            self._next = slot + self._interval
            return max(0.0, slot - now)

    def acquire(self) -> float:
        """Wait for a slot; returns the time waited."""
        wait = self.reserve()
        if wait > 0:
            self._sleep(wait)
        return wait
