"""What the simulator simulates: catalog size and seed, churn rates, faults, latency, limits."""
from __future__ import annotations

from dataclasses import dataclass, field

from ingest.simulator.market import MarketRates

SQOOT_2016 = 1_454_284_800.0  # 2016-02-01T00:00:00Z, the era of the recorded corpus


@dataclass(frozen=True)
class ChurnRates:
    """Churn events per simulated hour, as fractions of the initial catalog size (Poisson processes)."""

    new: float = 0.03  # a new deal appears (at the front of the default order, so pages shift)
    change: float = 0.06  # price and value change
    sold: float = 0.25  # number_sold grows
    withdraw: float = 0.03  # pulled before its expiry (sold out); natural expiries come on top

    def total(self) -> float:
        return self.new + self.change + self.sold + self.withdraw


NO_CHURN = ChurnRates(0.0, 0.0, 0.0, 0.0)


@dataclass(frozen=True)
class FaultRates:
    """Share of `/v2` requests answered with each fault; drawn independently of the catalog's RNG."""

    rate_limited: float = 0.0  # 429 with Retry-After
    unavailable: float = 0.0  # 503 with an HTML error page
    html: float = 0.0  # 200 with a text/html maintenance page instead of JSON
    truncated: float = 0.0  # 200 with the JSON cut in the middle
    slow: float = 0.0  # an extra `slow_s` delay (independent of the others)
    slow_s: float = 2.0
    retry_after_s: int = 1

    def __post_init__(self) -> None:
        if self.rate_limited + self.unavailable + self.html + self.truncated > 1.0:
            raise ValueError("fault rates add up to more than 1")


@dataclass(frozen=True)
class SimConfig:
    """A simulator run: everything that is not the clock. Same config and seed, same catalog and churn."""

    seed: int = 2016
    deals: int = 20_000
    start_ts: float = SQOOT_2016
    time_scale: float = 1.0  # simulated seconds per wall-clock second; 0 freezes the catalog
    churn: ChurnRates = field(default_factory=ChurnRates)
    faults: FaultRates = field(default_factory=FaultRates)
    latency_s: float = 0.0  # added to every /v2 answer
    latency_jitter_s: float = 0.0  # uniform extra 0..jitter
    rate_limit_per_s: float = 0.0  # server-side token bucket; 0 = unlimited
    rate_burst: int = 0  # bucket size; 0 = a tenth of a second's worth (at least 1)
    total_jitter: float = 0.0015  # `total` moves by up to ±0.15 % per call, as seen in 2016 (§7.1)
    duplicate_share: float = 0.01  # same offer under a new id (§7.2)
    drift: float = 0.0  # share of requests whose page window slips by one row (§10.6)
    keys: tuple[str, ...] = ("local-dev-key",)
    market: MarketRates = field(default_factory=MarketRates)  # items sold by several merchants, patterns

    def __post_init__(self) -> None:
        if self.deals < 0 or self.time_scale < 0 or self.latency_s < 0:
            raise ValueError("deals, time_scale and latency_s must be >= 0")
