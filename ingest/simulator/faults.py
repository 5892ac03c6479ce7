"""Switchable misbehaviour of the simulated API: injected faults, latency, and a server-side rate limit."""

from __future__ import annotations

import math
import random
import threading
import time
from collections.abc import Callable

from ingest.simulator.config import FaultRates

HTML_503 = (
    b"<html><head><title>503 Service Unavailable</title></head><body><h1>Service Unavailable</h1>"
    b"<p>The server is temporarily unable to service your request.</p></body></html>"
)
HTML_MAINTENANCE = (
    b"<!DOCTYPE html><html><head><title>We're sorry, but something went wrong (500)</title>"
    b"</head><body><h1>We're sorry, but something went wrong.</h1></body></html>"
)


class FaultInjector:
    """Draws, per request, which fault (if any) to serve and how much extra delay to add."""

    def __init__(self, rates: FaultRates, rng: random.Random) -> None:
        self.rates = rates
        self._rng = rng
        self._lock = threading.Lock()
        self._bands = (
            ("rate_limited", rates.rate_limited),
            ("unavailable", rates.unavailable),
            ("html", rates.html),
            ("truncated", rates.truncated),
        )

    def draw(self) -> tuple[str | None, float]:
        with self._lock:
            roll, slow_roll = self._rng.random(), self._rng.random()
        delay = self.rates.slow_s if slow_roll < self.rates.slow else 0.0
        for name, share in self._bands:
            if roll < share:
                return name, delay
            roll -= share
        return None, delay


class TokenBucket:
    """Server-side limit: `rate` tokens/s, at most `burst` saved up. `take()` says how long until a token."""

    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.burst = float(burst)
        self._tokens = float(burst)
        self._clock = clock
        self._stamp = clock()
        self._lock = threading.Lock()

    def take(self) -> float:
        """0.0 when a token was taken; otherwise the seconds until one will be available."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
            self._stamp = now
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                return 0.0
            return (1.0 - self._tokens) / self.rate


def retry_after_header(wait_s: float) -> str:
    """delta-seconds are whole numbers in HTTP; never advertise 0."""
    return str(max(1, math.ceil(wait_s)))
