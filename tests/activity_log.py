"""A seeded user-event log for the activity tests, and an independent plain-Python oracle of every
activity table (no Spark, no pipeline code: geohash comes from the API's pure-Python module)."""
from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from pipeline.cells import geohash
from pipeline.taxonomy import PARENT_OF

BASE = datetime(2026, 1, 5, 10, 58, 30)  # the log crosses an hour boundary
CATEGORIES = ("restaurants", "bars-clubs", "yoga", "spa", "electronics", "dining-nightlife")
#: (lat, lon) of a few towns; each town has its own small set of users
TOWNS = ((40.7128, -74.0060), (34.0522, -118.2437), (41.8781, -87.6298), (47.6062, -122.3321))
KINDS = ("view", "view", "view", "click", "click", "purchase", "review")


@dataclass(frozen=True)
class LoggedEvent:
    payload: dict[str, Any] | str
    occurred: datetime
    received: datetime


def event_log(count: int, *, seed: int, late_every: int = 25, in_margin_every: int = 9) -> list[LoggedEvent]:
    """`count` events over ~3 minutes: most received 0.2 s after they happened, some 10 s late (within
    the allowed 30 s), some 100 s late (beyond), a few malformed and one duplicate."""
    rng, log = random.Random(seed), []
    for i in range(count):
        occurred = BASE + timedelta(milliseconds=rng.randrange(0, 180_000))
        lag = 100.0 if i % late_every == 7 else 10.0 if i % in_margin_every == 4 else 0.2
        town = rng.randrange(len(TOWNS))
        user = town * 10 + rng.randrange(7 if town < 3 else 3)  # town 3 has too few users for the map floor
        lat, lon = TOWNS[town]
        kind = rng.choice(KINDS)
        payload: dict[str, Any] = {
            "event_id": f"t-{i}", "event_type": kind, "occurred_at": occurred.isoformat(timespec="milliseconds") + "Z",
            "user_id": user, "user_name": f"User {user}", "user_city": f"Town {town}",
            "lat": round(lat + rng.uniform(-0.01, 0.01), 5), "lon": round(lon + rng.uniform(-0.01, 0.01), 5),
            "deal_id": 1000 + rng.randrange(20), "deal_title": "A deal", "category_slug": rng.choice(CATEGORIES),
            "merchant_id": 500 + rng.randrange(4), "merchant_name": None, "price": rng.choice((9.99, 25.0, 12.35)),
        }
        payload["merchant_name"] = f"Merchant {payload['merchant_id']}"
        if kind == "purchase":
            payload["quantity"] = rng.choice((1, 1, 2, 3))
        if kind == "review":
            payload["rating"] = rng.randint(1, 5)
        log.append(LoggedEvent(payload, occurred, occurred + timedelta(seconds=lag)))
    log += [LoggedEvent("{not json", BASE, BASE + timedelta(seconds=1)),
            LoggedEvent({**log[0].payload, "event_type": "review", "rating": 7}, BASE, BASE + timedelta(seconds=2)),
            LoggedEvent(log[3].payload, log[3].occurred, log[3].received + timedelta(seconds=1))]  # a duplicate
    return sorted(log, key=lambda e: e.received)


def _valid(log: list[LoggedEvent]) -> list[LoggedEvent]:
    return [e for e in log if isinstance(e.payload, dict) and (e.payload.get("rating") or 1) <= 5]


def _floor(moment: datetime, seconds: int) -> datetime:
    epoch = int((moment - datetime(1970, 1, 1)).total_seconds())
    return datetime(1970, 1, 1) + timedelta(seconds=epoch - epoch % seconds)


def _on_time(log: list[LoggedEvent], lateness_s: float) -> list[LoggedEvent]:
    seen, kept = set(), []
    for e in _valid(log):
        if (e.received - e.occurred).total_seconds() <= lateness_s and e.payload["event_id"] not in seen:
            seen.add(e.payload["event_id"])
            kept.append(e)
    return kept


def _amount(p: dict[str, Any]) -> Decimal:
    return (Decimal(str(p["price"])) * p["quantity"]).quantize(Decimal("0.01"))


def expected_trending(log: list[LoggedEvent], lateness_s: float) -> set[tuple[Any, ...]]:
    weights = {"view": 1, "click": 3, "purchase": 10, "review": 2}
    sums: dict[tuple[Any, ...], dict[str, int]] = defaultdict(lambda: dict.fromkeys(weights, 0))
    for e in _on_time(log, lateness_s):
        for size in (1, 10, 300):
            sums[(size, _floor(e.occurred, size), e.payload["category_slug"])][e.payload["event_type"]] += 1
    return {(*k, PARENT_OF[k[2]], v["view"], v["click"], v["purchase"], v["review"],
             sum(v[t] * w for t, w in weights.items())) for k, v in sums.items()}


def expected_sales(log: list[LoggedEvent], lateness_s: float) -> set[tuple[Any, ...]]:
    sums: dict[datetime, list[Any]] = defaultdict(lambda: [0, 0, Decimal(0)])
    for e in _on_time(log, lateness_s):
        if e.payload["event_type"] == "purchase":
            row = sums[_floor(e.occurred, 1)]
            row[0], row[1], row[2] = row[0] + 1, row[1] + e.payload["quantity"], row[2] + _amount(e.payload)
    return {(_floor(s, 60), s, n, u, float(r)) for s, (n, u, r) in sums.items()}


def expected_cells(log: list[LoggedEvent], lateness_s: float, min_users: int) -> set[tuple[Any, ...]]:
    cells: dict[tuple[Any, ...], list[Any]] = defaultdict(lambda: [set(), 0, 0])
    for e in _on_time(log, lateness_s):
        cell5 = geohash(e.payload["lat"], e.payload["lon"], 5)
        for precision in (3, 4, 5):
            row = cells[(precision, cell5[:2], _floor(e.occurred, 3600), cell5[:precision])]
            row[0].add(e.payload["user_id"])
            row[1] += 1
            row[2] += e.payload["event_type"] == "purchase"
    return {(*k, len(users), n, p) for k, (users, n, p) in cells.items() if len(users) >= min_users}


def expected_merchant_sales(log: list[LoggedEvent], lateness_s: float) -> set[tuple[Any, ...]]:
    sums: dict[tuple[Any, ...], list[Any]] = defaultdict(lambda: [None, 0, 0, Decimal(0)])
    for e in _on_time(log, lateness_s):
        p = e.payload
        if p["event_type"] != "purchase":
            continue
        for slug in {p["category_slug"], PARENT_OF[p["category_slug"]]}:
            hour = _floor(e.occurred, 3600)
            row = sums[(slug, hour.strftime("%Y-%m-%d"), p["merchant_id"], hour)]
            row[0], row[1], row[2], row[3] = p["merchant_name"], row[1] + 1, row[2] + p["quantity"], row[3] + _amount(p)
    return {(*k, name, n, u, float(r)) for k, (name, n, u, r) in sums.items()}


def expected_purchases(log: list[LoggedEvent]) -> set[tuple[Any, ...]]:
    return {(_floor(e.occurred, 60), e.occurred, e.payload["event_id"], e.payload["user_id"], e.payload["quantity"],
             float(_amount(e.payload))) for e in _valid(log) if e.payload["event_type"] == "purchase"}


def expected_late(log: list[LoggedEvent], lateness_s: float) -> set[tuple[Any, ...]]:
    return {(e.received.strftime("%Y-%m-%d"), e.received, e.payload["event_id"], e.occurred)
            for e in _valid(log) if (e.received - e.occurred).total_seconds() > lateness_s}
