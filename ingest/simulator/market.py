"""A market with a ground truth: items sold by several merchants, and dishonest patterns at known rates.

Seeded from its own stream (`<seed>:market`), so the base catalog of a seed is unchanged apart from
the deals the market takes the place of. Two kinds of scenario:

* **market items** — a product (brand and model, sold online) or a local service (a measured service
  in one city) offered by 4–6 merchants at once. Most sell at about the street price; some run a
  genuine reduction; some claim an inflated "value" (an MSRP 1.6–2.4x the street price).
* **history scenarios** on single deals — the EU Omnibus case (price raised, then "discounted" back
  within the 30-day window), a perpetual sale (republished at the same "sale" price for weeks), a
  genuine reduction from a regular price, and a new historic low below that.

`Labels` holds, per deal, its pattern and the true regular price the truth measures discounts by.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field

from ingest.simulator import values
from ingest.simulator.records import DealRecord, new_deal

DAY = 86_400.0
BRANDS = ("Acme", "Zento", "Norvik", "Kalani", "Orbis", "Vexa", "Lumo", "Tavra")
PRODUCTS = ("Wireless Earbuds", "Smart Watch", "Bluetooth Speaker", "LED Desk Lamp", "Cookware Set", "Duffel Bag")
SERVICES = (("60-Minute Swedish Massage", "massage"), ("90-Minute Deep Tissue Massage", "massage"),
            ("3-Course Dinner for 2", "restaurants"), ("10-Class Yoga Pass", "yoga"),
            ("2-Hour Photo Session", "photography-services"))
_PLACE_FIELDS = ("address", "locality", "region", "postal_code", "country", "country_code", "latitude",
                 "longitude", "phone_number")
#: Pattern names served by /_truth/discounts.
REGULAR, BELOW_STREET, INFLATED = "regular", "genuine_below_street", "inflated_value"
GENUINE = "genuine_reduction"
OMNIBUS, PERPETUAL, NEW_LOW, CATALOG = "raised_before_discount", "perpetual_sale", "new_historic_low", "catalog"


@dataclass(frozen=True)
class MarketRates:
    """Shares of the catalog (market items' sellers and history scenarios) and seller roles."""

    market: float = 0.08  # deals that are sellers of a market item
    inflated: float = 0.2  # of market sellers: inflated value claim
    genuine: float = 0.15  # of market sellers: a genuine reduction below street
    omnibus: float = 0.02  # of the catalog: raised-before-discount
    perpetual: float = 0.02  # of the catalog: perpetual sale
    reduction: float = 0.02  # of the catalog: a genuine reduction, then (half of them) a new historic low


@dataclass
class Labels:
    """Per deal id: its pattern and true regular price (None: the deal's current value is honest)."""

    pattern: dict[int, str] = field(default_factory=dict)
    regular: dict[int, float] = field(default_factory=dict)
    schedule: list[tuple[float, int, dict[str, float]]] = field(default_factory=list)  # (ts, id, changes)

    def copy_to(self, original: int, duplicate: int) -> None:
        if original in self.pattern:
            self.pattern[duplicate] = self.pattern[original]
        if original in self.regular:
            self.regular[duplicate] = self.regular[original]


def _cents(x: float) -> float:
    return round(x, 2)


def _retitle(record: DealRecord, item: str, price: float, value: float) -> None:
    record.price, record.value = price, value
    record.title = f"${price:g} for a {item} (${value:g} Value)" if record.online else f"{item} at " \
        f"{record.merchant['name']}"
    record.short_title = values.short_title(price, value, record.merchant["name"])


def _sellers(rng: random.Random, start_ts: float, first_id: int, count: int,
             next_merchant: int) -> list[DealRecord]:
    return [new_deal(rng, first_id + i, start_ts, start_ts, next_merchant + 7 * i) for i in range(count)]


def market_item(rng: random.Random, labels: Labels, rates: MarketRates, sellers: list[DealRecord]) -> None:
    """Turn `sellers` into offers of one item: same title item, category (and city), street price."""
    online = rng.random() < 0.6
    if online:
        item, category = f"{rng.choice(BRANDS)} {rng.choice('XKMZ')}{rng.randint(10, 990)} {rng.choice(PRODUCTS)}", \
            rng.choice(("electronics", "home_goods", "fashion_accessories"))
        place = None
    else:
        item, category = rng.choice(SERVICES)
        place = rng.choice(values.PLACES)
    street = _cents(float(rng.choice((20, 35, 50, 80, 120, 200, 350))) * rng.uniform(0.9, 1.1))
    for record in sellers:
        record.category, record.online = category, online
        if place is None:
            record.merchant = {**record.merchant, **{k: None for k in _PLACE_FIELDS}}
            record.lat = record.lng = None
        else:
            record.lat = round(place.latitude + rng.uniform(-0.01, 0.01), 6)
            record.lng = round(place.longitude + rng.uniform(-0.01, 0.01), 6)
            record.merchant = {**record.merchant, "locality": place.locality, "region": place.region,
                               "latitude": record.lat, "longitude": record.lng}
        own = _cents(street * rng.uniform(0.98, 1.02))
        draw = rng.random()
        if draw < rates.inflated:
            claim = float(round(street * rng.uniform(1.6, 2.4)))
            pattern, price, value = INFLATED, _cents(street * rng.uniform(0.95, 1.0)), claim
        elif draw < rates.inflated + rates.genuine:
            pattern, price, value = BELOW_STREET, _cents(own * rng.uniform(0.5, 0.8)), own
        else:
            pattern, price, value = REGULAR, _cents(own * rng.uniform(0.97, 1.0)), own
        _retitle(record, item, max(1.0, price), value)
        labels.pattern[record.id], labels.regular[record.id] = pattern, street


def history_scenario(rng: random.Random, labels: Labels, record: DealRecord, pattern: str, start_ts: float) -> None:
    """Schedule a single deal's price path; it starts at its regular price (value honest)."""
    regular = record.value
    record.price = regular if pattern != PERPETUAL else _cents(regular * rng.uniform(0.4, 0.7))
    record.expires_ts, record.expires_at = None, None
    labels.pattern[record.id] = pattern
    t = start_ts + rng.uniform(1, 6) * DAY
    if pattern == OMNIBUS:
        raised = _cents(regular * rng.uniform(1.3, 1.5))
        labels.schedule.append((t, record.id, {"price": raised, "value": raised}))
        back = _cents(regular * rng.uniform(1.0, 1.05))
        labels.schedule.append((t + rng.uniform(2, 10) * DAY, record.id, {"price": back, "value": raised}))
    elif pattern == PERPETUAL:  # the "value" is never charged: after 30 days the sale price is the price
        for k in range(1, 16):
            labels.schedule.append((start_ts + k * rng.uniform(2.5, 3.5) * DAY, record.id, {}))
    else:
        reduced = _cents(regular * rng.uniform(0.55, 0.8))
        labels.schedule.append((t, record.id, {"price": reduced}))
        if pattern == NEW_LOW:
            labels.schedule.append((t + rng.uniform(35, 40) * DAY, record.id, {"price": _cents(reduced * 0.85)}))
    record.restate_price()

