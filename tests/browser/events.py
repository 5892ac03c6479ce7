"""User events happening *now* (the live pages show the current hour, minute and seconds), about
deals that really are in the test keyspace, so the dashboard's links and names resolve."""
from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.activity_log import TOWNS, LoggedEvent

KINDS = ("view", "view", "view", "click", "click", "purchase", "review")
RECEIPT_LAG = timedelta(milliseconds=200)


@dataclass(frozen=True)
class DealRef:
    """What an event says about the deal it concerns."""

    deal_id: int
    title: str
    category_slug: str
    merchant_id: int
    merchant_name: str
    price: float


def deal_refs(raws: list[dict[str, Any]]) -> list[DealRef]:
    return [DealRef(raw["id"], raw["title"].strip(), raw["category_slug"], raw["merchant"]["id"],
                    raw["merchant"]["name"], raw["price"]) for raw in raws]


def utc_now() -> datetime:
    """Now as a naive UTC datetime (how the oracles and the driver see times)."""
    return datetime.now(UTC).replace(tzinfo=None)


def events_now(deals: list[DealRef], count: int, *, seed: int, prefix: str, spread_s: float = 20.0,
               end: datetime | None = None) -> list[LoggedEvent]:
    """`count` valid events spread over the `spread_s` seconds before `end` (default now), each
    received 0.2 s after it happened; towns 0-2 have 7 users each, town 3 only 3 (under a floor of 5)."""
    rng, newest = random.Random(seed), end or utc_now()
    log = []
    for i in range(count):
        occurred = newest - RECEIPT_LAG - timedelta(milliseconds=rng.randrange(0, int(spread_s * 1000) + 1))
        town = rng.randrange(len(TOWNS))
        user = town * 10 + rng.randrange(7 if town < 3 else 3)
        lat, lon = TOWNS[town]
        deal, kind = rng.choice(deals), rng.choice(KINDS)
        payload: dict[str, Any] = {
            "event_id": f"{prefix}-{i}", "event_type": kind,
            "occurred_at": occurred.isoformat(timespec="milliseconds") + "Z",
            "user_id": user, "user_name": f"User {user}", "user_city": f"Town {town}",
            "lat": round(lat + rng.uniform(-0.01, 0.01), 5), "lon": round(lon + rng.uniform(-0.01, 0.01), 5),
            "deal_id": deal.deal_id, "deal_title": deal.title, "category_slug": deal.category_slug,
            "merchant_id": deal.merchant_id, "merchant_name": deal.merchant_name, "price": deal.price,
        }
        if kind == "purchase":
            payload["quantity"] = rng.choice((1, 1, 2, 3))
        if kind == "review":
            payload["rating"] = rng.randint(1, 5)
        log.append(LoggedEvent(payload, occurred, occurred + RECEIPT_LAG))
    return sorted(log, key=lambda e: e.received)


def trend_score(log: list[LoggedEvent], slug: str) -> int:
    """views + 3 x clicks + 10 x purchases + 2 x reviews of one category, computed here."""
    weights = {"view": 1, "click": 3, "purchase": 10, "review": 2}
    return sum(weights[e.payload["event_type"]] for e in log
               if isinstance(e.payload, dict) and e.payload["category_slug"] == slug)
