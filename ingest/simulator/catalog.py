"""The live catalog: deals plus the sorted indexes that pages are served from.

Default order is newest first (id descending), so a new deal lands on page 1 and pushes every later row
one place down, and a removal pulls them up: the shifting pages of the real API (§7.1). Each category
keeps its own sorted list, so a page is a list slice. `updated_after` uses a list sorted by update time.
"""
from __future__ import annotations

import gc
import random
from bisect import bisect_right, insort
from typing import TYPE_CHECKING, TypeVar

from ingest.simulator import market
from ingest.simulator.config import SimConfig
from ingest.simulator.records import DealRecord, duplicate_of, fmt_ts, new_deal
from ingest.simulator.truth import TruthLog, Version

if TYPE_CHECKING:
    from _typeshed import SupportsRichComparison

_Key = TypeVar("_Key", bound="SupportsRichComparison")


class Catalog:
    """Live deals, indexes and the truth log; not thread-safe (the `Simulator` holds the lock)."""

    def __init__(self, config: SimConfig) -> None:
        self.config = config
        self.truth = TruthLog()
        self.live: dict[int, DealRecord] = {}
        self.mutations = 0  # bumps on every change; keys the query cache
        self._ids: list[int] = []  # live ids, for O(1) random picks
        self._slot: dict[int, int] = {}
        self.by_category: dict[str, list[int]] = {}  # negated ids, ascending = newest first
        self.all_ids: list[int] = []  # negated ids, ascending
        self.by_updated: list[tuple[float, int]] = []
        self._next_id = 3_900_000
        self._next_merchant = 1_000_000
        self.labels = market.Labels()  # the market's patterns and true prices (ground truth only)

    def build(self, rng: random.Random) -> None:
        """The initial catalog at `start_ts` (bulk: sorted once, not inserted one by one)."""
        start = self.config.start_ts
        gc.disable()  # hundreds of thousands of long-lived objects: collections would only cost time
        try:
            for _ in range(self.config.deals):
                self._register(self._fresh(rng, start), start)
        finally:
            gc.enable()
        self._plant_market(random.Random(f"{self.config.seed}:market"), start)
        self.all_ids.sort()
        self.by_updated.sort()
        for ids in self.by_category.values():
            ids.sort()

    def _plant_market(self, rng: random.Random, start: float) -> None:
        """Turn a seeded share of the built deals into market sellers and history scenarios, then re-index."""
        ids = sorted(self.live)
        rng.shuffle(ids)
        rates, taken = self.config.market, 0
        while taken < rates.market * len(ids) - 3:
            group = [self.live[i] for i in ids[taken:taken + rng.randint(4, 6)]]
            market.market_item(rng, self.labels, rates, group)
            taken += len(group)
        for pattern, share in ((market.OMNIBUS, rates.omnibus), (market.PERPETUAL, rates.perpetual),
                               (market.GENUINE, rates.reduction / 2), (market.NEW_LOW, rates.reduction / 2)):
            for deal_id in ids[taken:taken + int(share * len(ids))]:
                market.history_scenario(rng, self.labels, self.live[deal_id], pattern, start)
            taken += int(share * len(ids))
        self.by_category = {}
        for deal_id in self._ids:
            self.by_category.setdefault(self.live[deal_id].category, []).append(-deal_id)
        for deal_id in ids[:taken]:
            self.truth.born(self._version(self.live[deal_id], start))

    def _fresh(self, rng: random.Random, ts: float) -> DealRecord:
        self._next_id += rng.randint(1, 40)
        if self.live and rng.random() < self.config.duplicate_share:
            original = self.live[rng.choice(self._ids)]
            self.labels.copy_to(original.id, self._next_id)
            return duplicate_of(original, self._next_id, ts)
        self._next_merchant += rng.randint(1, 9)
        return new_deal(rng, self._next_id, ts, self.config.start_ts, self._next_merchant)

    def _register(self, record: DealRecord, ts: float) -> None:
        self.live[record.id] = record
        self._slot[record.id] = len(self._ids)
        self._ids.append(record.id)
        self.all_ids.append(-record.id)
        self.by_category.setdefault(record.category, []).append(-record.id)
        self.by_updated.append((record.updated_ts, record.id))
        self.truth.born(self._version(record, ts))
        self.mutations += 1

    # -- churn operations ------------------------------------------------------------------------------

    def add(self, rng: random.Random, ts: float) -> DealRecord:
        record = self._fresh(rng, ts)
        self.live[record.id] = record
        self._slot[record.id] = len(self._ids)
        self._ids.append(record.id)
        insort(self.all_ids, -record.id)
        insort(self.by_category.setdefault(record.category, []), -record.id)
        insort(self.by_updated, (record.updated_ts, record.id))
        self.truth.born(self._version(record, ts))
        self.mutations += 1
        return record

    def remove(self, deal_id: int, ts: float) -> None:
        record = self.live.pop(deal_id)
        last = self._ids.pop()
        if last != deal_id:
            self._ids[self._slot[deal_id]] = last
            self._slot[last] = self._slot[deal_id]
        del self._slot[deal_id]
        _discard(self.all_ids, -deal_id)
        _discard(self.by_category[record.category], -deal_id)
        _discard(self.by_updated, (record.updated_ts, deal_id))
        self.truth.died(deal_id, ts)
        self.mutations += 1

    def change(self, record: DealRecord, ts: float, **fields: object) -> None:
        """Apply field changes as a new version; `updated_at` moves, so `updated_after` sees it."""
        _discard(self.by_updated, (record.updated_ts, record.id))
        for name, value in fields.items():
            setattr(record, name, value)
        if "price" in fields or "value" in fields:
            record.restate_price()
        record.touch(ts)
        insort(self.by_updated, (record.updated_ts, record.id))
        self.truth.changed(self._version(record, ts))
        self.mutations += 1

    def _version(self, record: DealRecord, ts: float) -> Version:
        """The truth's record of the version being served from `ts`, with its true reference price."""
        regular = self.labels.regular.get(record.id, record.value)
        prior = self.truth.prior_low(record.id, ts, record.price)
        return Version(record.id, record.version, ts, None, fmt_ts(record.updated_ts), record.price, record.value,
                       record.number_sold, regular if prior is None else min(regular, prior),
                       self.labels.pattern.get(record.id, market.CATALOG))

    def pick(self, rng: random.Random) -> DealRecord | None:
        return self.live[rng.choice(self._ids)] if self._ids else None


def _discard(sorted_list: list[_Key], item: _Key) -> None:
    index = bisect_right(sorted_list, item) - 1
    if index < 0 or sorted_list[index] != item:
        raise KeyError(f"{item!r} is not indexed")
    del sorted_list[index]

