"""The simulator as one object: a seeded catalog, its churn, the simulated clock, and the truth.

The HTTP app (`ingest.simulator.app`) and in-process callers (tests, benchmarks) share one instance;
a lock serialises catalog access between the server's event loop and those callers.
"""
from __future__ import annotations

import logging
import random
import threading
import time

from ingest.simulator.catalog import Catalog
from ingest.simulator.churn import Churn
from ingest.simulator.clock import Clock, ScaledClock
from ingest.simulator.config import SimConfig
from ingest.simulator.records import DealRecord
from ingest.simulator.search import SimQuery, select
from ingest.simulator.truth import Version

log = logging.getLogger(__name__)


class Simulator:
    """A churning Sqoot-v2 catalog that knows which deal versions were live when."""

    def __init__(self, config: SimConfig, clock: Clock | None = None) -> None:
        began = time.perf_counter()
        self.config = config
        self.clock = clock or ScaledClock(config.start_ts, config.time_scale)
        self._lock = threading.Lock()
        self._cache: dict[tuple[object, ...], tuple[int, list[int]]] = {}
        # separate streams, so that serving (jitter, drift) never perturbs the catalog's own timeline
        self._served_rng = random.Random(f"{config.seed}:served")
        self.catalog = Catalog(config)
        self.catalog.build(random.Random(f"{config.seed}:catalog"))
        self._churn = Churn(config, self.catalog, random.Random(f"{config.seed}:churn"))
        log.info("simulator: %d deals built in %.2f s (seed %d)", len(self.catalog.live),
                 time.perf_counter() - began, config.seed)

    def now(self) -> float:
        """Simulated time, with the catalog brought up to it."""
        with self._lock:
            return self._sync()

    def _sync(self) -> float:
        now = self.clock.now()
        self._churn.advance_to(now)
        return now

    # -- what the API serves ---------------------------------------------------------------------------

    def search(self, query: SimQuery) -> tuple[int, list[bytes], float]:
        """(reported total, the page's deals as wire bytes, simulated time of the answer)."""
        with self._lock:
            now = self._sync()
            shift = 0
            if self.config.drift and self._served_rng.random() < self.config.drift:
                shift = self._served_rng.choice((-1, 1))
            total, records = select(self.catalog, query, self._cache, shift)
            return self._jittered(total), [r.wire() for r in records], now

    def deal(self, deal_id: int) -> tuple[bytes | None, float]:
        with self._lock:
            now = self._sync()
            record: DealRecord | None = self.catalog.live.get(deal_id)
            return (record.wire() if record else None), now

    def _jittered(self, total: int) -> int:
        jitter = self.config.total_jitter
        if not jitter or not total:
            return total
        return max(0, round(total * (1 + self._served_rng.uniform(-jitter, jitter))))

    # -- ground truth ----------------------------------------------------------------------------------

    def live_at(self, ts: float) -> set[int]:
        with self._lock:
            self._sync()
            return self.catalog.truth.live_at(ts)

    def live_throughout(self, start: float, end: float) -> set[int]:
        with self._lock:
            self._sync()
            return self.catalog.truth.live_throughout(start, end)

    def versions(self, deal_id: int) -> list[Version]:
        with self._lock:
            self._sync()
            return self.catalog.truth.versions(deal_id)

    def all_versions(self) -> list[Version]:
        with self._lock:
            self._sync()
            return self.catalog.truth.all_versions()

    def size(self) -> int:
        with self._lock:
            self._sync()
            return len(self.catalog.live)
