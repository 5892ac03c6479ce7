"""Ground truth: which deal versions were live when. Written by the catalog, read by tests and benches."""
from __future__ import annotations

from dataclasses import dataclass


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

    def versions(self, deal_id: int) -> list[Version]:
        return list(self._versions.get(deal_id, ()))

    def all_versions(self) -> list[Version]:
        return [v for history in self._versions.values() for v in history]
