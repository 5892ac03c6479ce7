"""Churn over simulated time: new deals, price changes, sales, withdrawals and natural expiries.

Events form one timeline drawn from a seeded RNG (Poisson arrivals) merged with the expiry dates, and are
applied lazily up to "now" whenever the simulator is asked something. The state at a simulated time
therefore depends on the seed only, never on when or how often clients called.
"""
from __future__ import annotations

import heapq
import random

from ingest.simulator.catalog import Catalog
from ingest.simulator.config import SimConfig

_HOUR = 3600.0


class Churn:
    """Applies the event timeline to a catalog, in time order, up to a given simulated time."""

    def __init__(self, config: SimConfig, catalog: Catalog, rng: random.Random) -> None:
        self._catalog = catalog
        self._rng = rng
        base = max(1, config.deals)
        rates = config.churn
        self._kinds = ("new", "change", "sold", "withdraw")
        self._weights = (rates.new, rates.change, rates.sold, rates.withdraw)
        self._rate = rates.total() * base / _HOUR  # events per simulated second
        self._next = config.start_ts + self._gap()
        self._expiries = [(r.expires_ts, r.id) for r in catalog.live.values() if r.expires_ts is not None]
        heapq.heapify(self._expiries)
        self._scheduled = list(catalog.labels.schedule)  # the market's planned price paths (market.py)
        heapq.heapify(self._scheduled)
        self.applied = 0

    def _gap(self) -> float:
        return self._rng.expovariate(self._rate) if self._rate > 0 else float("inf")

    def advance_to(self, ts: float) -> None:
        while True:
            expiry = self._expiries[0][0] if self._expiries else float("inf")
            planned = self._scheduled[0][0] if self._scheduled else float("inf")
            if min(expiry, self._next, planned) > ts:
                return
            if planned < min(expiry, self._next):
                self._planned(*heapq.heappop(self._scheduled))
            elif expiry <= self._next:
                self._expire(*heapq.heappop(self._expiries))
            else:
                self._event(self._next)
                self._next += self._gap()
            self.applied += 1

    def _expire(self, when: float, deal_id: int) -> None:
        record = self._catalog.live.get(deal_id)
        if record is not None and record.expires_ts == when:
            self._catalog.remove(deal_id, when)

    def _planned(self, when: float, deal_id: int, changes: dict[str, float]) -> None:
        record = self._catalog.live.get(deal_id)
        if record is not None:
            self._catalog.change(record, when, **changes)

    def _event(self, ts: float) -> None:
        kind = self._rng.choices(self._kinds, self._weights)[0]
        if kind == "new":
            added = self._catalog.add(self._rng, ts)
            if added.expires_ts is not None:
                heapq.heappush(self._expiries, (added.expires_ts, added.id))
            return
        record = self._catalog.pick(self._rng)
        if record is None:
            return
        if kind == "withdraw":
            self._catalog.remove(record.id, ts)
        elif kind == "change" and record.id not in self._catalog.labels.pattern:  # scenarios keep their path
            self._catalog.change(record, ts, **self._repriced(record.price, record.value))
        elif record.number_sold is not None:
            self._catalog.change(record, ts, number_sold=record.number_sold + self._rng.randint(1, 25))

    def _repriced(self, price: float, value: float) -> dict[str, float]:
        """A price move of ±5-30 %, sometimes with a new "value" claim; price stays below value."""
        if self._rng.random() < 0.3:
            value = round(value * self._rng.choice((0.9, 1.1, 1.25, 1.5)))
        price = round(price * self._rng.uniform(0.7, 1.05), 2)
        return {"price": max(1.0, min(price, round(value * 0.95, 2))), "value": float(value)}
