"""Ground truth: which deal versions were live when. Written by the catalog, read by tests and benches."""
from __future__ import annotations

import calendar
import time
from dataclasses import dataclass

from pipeline.score_rules import ScoreRules

#: The advertised discount may exceed the true one by this much and still be genuine (as the score).
GENUINE_TOLERANCE = ScoreRules().verdict_tolerance
OMNIBUS_S = 30 * 86_400.0


@dataclass(frozen=True)
class Version:
    """One version of a deal and the simulated interval [valid_from, valid_to) it was served in."""

    deal_id: int
    version: int
    valid_from: float
    valid_to: float | None
    updated_at: str
    price: float
    value: float
    number_sold: int | None
    true_reference: float | None = None  # what the discount really is against (market.py's rule)
    pattern: str | None = None  # the market scenario the deal follows (market.py), "catalog" otherwise

    def discount_truth(self) -> dict[str, object]:
        """Whether this version's advertised discount is genuine, and the true discount (fractions)."""
        advertised = round((self.value - self.price) / self.value, 4) if self.value else 0.0
        ref = self.true_reference if self.true_reference is not None else self.value
        true = round(max(0.0, (ref - self.price) / ref), 4) if ref else 0.0
        return {"deal_id": self.deal_id, "version": self.version, "updated_at": self.updated_at,
                "price": self.price, "value": self.value, "advertised_discount_pct": advertised,
                "true_reference": ref, "true_discount_pct": true,
                "genuine": round(advertised - true, 4) <= GENUINE_TOLERANCE, "pattern": self.pattern}


class TruthLog:
    """Birth, death and every version of every deal the simulator ever served."""

    def __init__(self) -> None:
        self._born: dict[int, float] = {}
        self._died: dict[int, float] = {}
        self._versions: dict[int, list[Version]] = {}

    def born(self, version: Version) -> None:
        self._born[version.deal_id] = version.valid_from
        self._versions[version.deal_id] = [version]

    def changed(self, version: Version) -> None:
        history = self._versions[version.deal_id]
        last = history[-1]
        history[-1] = Version(**{**last.__dict__, "valid_to": version.valid_from})
        history.append(version)

    def died(self, deal_id: int, ts: float) -> None:
        self._died[deal_id] = ts
        last = self._versions[deal_id][-1]
        self._versions[deal_id][-1] = Version(**{**last.__dict__, "valid_to": ts})

    def live_at(self, ts: float) -> set[int]:
        """Deals being served at simulated time `ts`."""
        return {i for i, b in self._born.items() if b <= ts and self._died.get(i, float("inf")) > ts}

    def live_throughout(self, start: float, end: float) -> set[int]:
        """Deals served during the whole window: any crawl over [start, end] can be expected to find them."""
        return {i for i, b in self._born.items() if b <= start and self._died.get(i, float("inf")) > end}

    def prior_low(self, deal_id: int, ts: float, price: float) -> float | None:
        """The lowest price applied in the 30 days before `ts` (EU Omnibus Directive, Art. 6a), when it
        is the reference: another price was applied then, or the "sale" at `price` has run for 30 days
        at no higher price (then it is the regular price). None otherwise."""
        history: list[Version] = self._versions.get(deal_id, [])
        prices = [v.price for v in history if v.valid_from < ts and (v.valid_to is None or v.valid_to > ts - OMNIBUS_S)]
        if not prices:
            return None
        # the first version says since when it is on offer (its updated_at may predate the simulation)
        since = min(self._born[deal_id], calendar.timegm(time.strptime(history[0].updated_at, "%Y-%m-%dT%H:%M:%SZ")))
        perpetual = ts - since >= OMNIBUS_S and max(prices) <= price
        return min(prices) if perpetual or any(p != price for p in prices) else None

    def versions(self, deal_id: int) -> list[Version]:
        return list(self._versions.get(deal_id, ()))

    def all_versions(self) -> list[Version]:
        return [v for history in self._versions.values() for v in history]
