"""Raw Sqoot-v2 deal payloads for tests, shaped like sqoot_api.md §5.4 and §6.1.

These build the *input*; expected outputs are always computed independently in the tests.
"""
from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

from pipeline.taxonomy import CHILDREN, PARENTS

BASE_TIME = datetime(2026, 11, 1, 12, 0, 0, tzinfo=UTC)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def merchant(rng: random.Random, merchant_id: int, *, online: bool) -> dict[str, Any]:
    if online:
        return {"id": merchant_id, "name": f"Online Store {merchant_id}", "address": None, "locality": None,
                "region": None, "postal_code": None, "country": None, "country_code": None,
                "latitude": None, "longitude": None, "phone_number": None, "url": None}
    return {
        "id": merchant_id, "name": f"Merchant {merchant_id}", "address": f"{rng.randint(1, 999)} Main St",
        "locality": "Milwaukee", "region": "WI", "postal_code": f"{rng.randint(0, 99999):05d}",
        "country": "United States", "country_code": "US",
        "latitude": round(rng.uniform(25.0, 48.0), 6), "longitude": round(rng.uniform(-123.0, -70.0), 6),
        "phone_number": f"+1414555{rng.randint(0, 9999):04d}", "url": None,
    }


def deal(rng: random.Random, deal_id: int, *, updated_at: datetime | None = None, **overrides: Any) -> dict[str, Any]:
    """One realistic deal; `overrides` replace top-level fields."""
    online = rng.random() < 0.3
    value = round(rng.uniform(10, 500), 2)
    price = round(value * rng.uniform(0.1, 0.95), 2)
    pct = round((value - price) / value, 2)
    slug = rng.choice(CHILDREN + PARENTS)
    merchant_id = 1000 + rng.randint(0, 40)
    mer = merchant(rng, merchant_id, online=online)
    updated = updated_at or BASE_TIME + timedelta(seconds=rng.randint(0, 86_400))
    body: dict[str, Any] = {
        "id": deal_id,
        "title": f"  Up to {round(pct * 100)}% Off at {mer['name']} ",
        "short_title": f"{round(pct * 100)}% off at {mer['name']}",
        "description": f"<p>Deal {deal_id} &amp; more.</p>\n<b>Great</b>",
        "fine_print": "Limit 1 per person." if rng.random() < 0.7 else "",
        "number_sold": None if rng.random() < 0.1 else rng.randint(0, 500),
        "url": f"http://api.example/v2/deals/{deal_id}/click?api_key=K",
        "untracked_url": f"https://provider.example/deals/{deal_id}",
        "price": price, "value": value, "discount_amount": round(value - price, 2), "discount_percentage": pct,
        "provider_name": "Groupon", "provider_slug": "groupon",
        "category_name": slug, "category_slug": slug,
        "image_url": f"https://api.example/v2/deals/{deal_id}/image?api_key=K",
        "online": online,
        "expires_at": None if rng.random() < 0.1 else "2040-03-03T05:59:59Z",
        "created_at": iso(updated - timedelta(days=3)),
        "updated_at": iso(updated),
        "merchant": mer,
    }
    body.update(overrides)
    return body


def deals(count: int, *, seed: int = 7, first_id: int = 4_000_000) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    return [deal(rng, first_id + i) for i in range(count)]
