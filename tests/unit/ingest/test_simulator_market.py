"""The simulator's market: items with several sellers, dishonest patterns at their rates, and a truth
that agrees with a plain restatement of the Omnibus rule."""
from __future__ import annotations

import calendar
import re
import time
from collections import Counter, defaultdict

import requests

from ingest.simulator import ChurnRates, ManualClock, SimConfig, Simulator, SimulatorServer, Version, market
from ingest.simulator.config import SQOOT_2016

DAY = 86_400.0


def build(deals: int = 4000, seed: int = 5) -> tuple[Simulator, ManualClock]:
    clock = ManualClock(SQOOT_2016)
    slow = ChurnRates(new=0.0005, change=0.0005, sold=0.002, withdraw=0.0)  # scenarios live through the run
    return Simulator(SimConfig(seed=seed, deals=deals, total_jitter=0.0, churn=slow), clock=clock), clock


def test_market_items_have_several_sellers_and_patterns_at_their_rates() -> None:
    sim, _ = build()
    labels = sim.catalog.labels
    counts = Counter(labels.pattern.values())
    sellers = [i for i, p in labels.pattern.items() if p in (market.REGULAR, market.BELOW_STREET, market.INFLATED)]
    assert abs(len(sellers) / 4000 - 0.08) < 0.01
    assert 0.1 < counts[market.INFLATED] / len(sellers) < 0.3
    assert counts[market.OMNIBUS] == counts[market.PERPETUAL] == 80
    by_title = defaultdict(set)
    for deal_id in sellers:
        record = sim.catalog.live[deal_id]
        item = re.sub(r"^\$[\d.]+ for a | \(\$[\d.]+ Value\)$| at .*$", "", record.title)
        by_title[(item, record.category, record.merchant["locality"])].add(deal_id)
    assert min(len(ids) for ids in by_title.values()) >= 2
    again, _ = build()
    assert again.catalog.labels.pattern == labels.pattern  # seeded: the same market every time


def test_truth_follows_the_omnibus_rule_over_time() -> None:
    sim, clock = build()
    clock.advance(45 * DAY)
    sim.now()
    truths = [v.discount_truth() for v in sim.all_versions()]
    planned = {deal_id for _, deal_id, _ in sim.catalog.labels.schedule}  # not their later duplicates
    omnibus = [t for t in truths if t["pattern"] == market.OMNIBUS and t["advertised_discount_pct"] > 0.05
               and t["deal_id"] in planned]
    assert len({t["deal_id"] for t in omnibus}) == 80  # each "discounted" back to about its old price
    assert all(t["true_discount_pct"] <= 0.05 and not t["genuine"] for t in omnibus)
    inflated = [t for t in truths if t["pattern"] == market.INFLATED]
    assert inflated and not any(t["genuine"] for t in inflated)
    for v in sim.all_versions()[:2000]:  # after a price move, the reference is at most the window's low
        earlier = [w.price for w in sim.versions(v.deal_id) if w.valid_from < v.valid_from
                   and (w.valid_to is None or w.valid_to > v.valid_from - 30 * DAY)]
        if any(p != v.price for p in earlier):
            assert v.true_reference <= min(earlier)
        elif v.valid_from - on_offer_since(sim.versions(v.deal_id)[0]) < 30 * DAY:
            assert v.true_reference == sim.catalog.labels.regular.get(v.deal_id, v.value)


def on_offer_since(first: Version) -> float:
    """The first version is on offer since its updated_at (back-dated in the initial catalog)."""
    return min(first.valid_from, calendar.timegm(time.strptime(first.updated_at, "%Y-%m-%dT%H:%M:%SZ")))


def test_truth_endpoint_serves_every_version() -> None:
    sim, _ = build(deals=500)
    server = SimulatorServer(sim).start()
    try:
        body = requests.get(server.url.replace("/v2", "/_truth/discounts"), timeout=30).text
    finally:
        server.stop()
    assert len(body.splitlines()) == len(sim.all_versions())
