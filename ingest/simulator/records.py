"""One deal as the simulator stores it, and how it is generated and serialized.

The wire form is cached as bytes per version with `__BASE__`/`__KEY__` placeholders, so a page is a
byte join plus two replaces: the caller's own key and host end up in `url` and `image_url` (§5.4).
"""

from __future__ import annotations

import random
import time
from typing import Any

import orjson

from ingest.simulator import values
from pipeline.taxonomy import CATEGORY_NAMES


def fmt_ts(ts: float) -> str:
    """Seconds → `2016-02-09T06:18:35Z` (UTC, no fractions)."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


class DealRecord:
    """Mutable current version of a live deal."""

    __slots__ = (
        "id",
        "category",
        "provider",
        "online",
        "title",
        "short_title",
        "description",
        "fine_print",
        "number_sold",
        "untracked_url",
        "price",
        "value",
        "merchant",
        "expires_at",
        "expires_ts",
        "created_at",
        "updated_ts",
        "version",
        "lat",
        "lng",
        "_wire",
    )
    # The slots, declared for the type checker (annotations only: no class attributes, so `__slots__` holds).
    id: int
    category: str
    provider: str
    online: bool
    title: str
    short_title: str
    description: str | None
    fine_print: str | None
    number_sold: int | None
    untracked_url: str
    price: float
    value: float
    merchant: dict[str, object]
    expires_at: str | None
    expires_ts: float | None
    created_at: str
    updated_ts: float
    version: int
    lat: float | None
    lng: float | None
    _wire: bytes | None

    def __init__(self, **fields: Any) -> None:
        for name, value in fields.items():
            setattr(self, name, value)
        self.version = 1
        self._wire = None

    def to_deal(self) -> dict[str, Any]:
        """The API's deal object, in the successor's key order (§5.4)."""
        amount, pct = values.discount(self.price, self.value)
        base = f"__BASE__/deals/{self.id}"
        return {
            "id": self.id,
            "title": self.title,
            "short_title": self.short_title,
            "description": self.description,
            "fine_print": self.fine_print,
            "number_sold": self.number_sold,
            "url": f"{base}/click?api_key=__KEY__",
            "untracked_url": self.untracked_url,
            "price": self.price,
            "value": self.value,
            "discount_amount": amount,
            "discount_percentage": pct,
            "provider_name": values.PROVIDER_NAMES[self.provider],
            "provider_slug": self.provider,
            "category_name": CATEGORY_NAMES[self.category],
            "category_slug": self.category,
            "image_url": f"{base}/image?api_key=__KEY__",
            "online": self.online,
            "expires_at": self.expires_at,
            "created_at": self.created_at,
            "updated_at": fmt_ts(self.updated_ts),
            "merchant": self.merchant,
        }

    def wire(self) -> bytes:
        """`{"deal": {...}}` as bytes, cached until the next change."""
        if self._wire is None:
            self._wire = orjson.dumps({"deal": self.to_deal()})
        return self._wire

    def restate_price(self) -> None:
        """The title and short title made to state the current price and value (after a change of either)."""
        self.title = values.restated(self.title, self.price, self.value)
        self.short_title = values.short_title(self.price, self.value, self.merchant["name"])

    def touch(self, ts: float) -> None:
        """A new version: `updated_at` moves (whole seconds, as served) and the wire cache is dropped."""
        self.version += 1
        self.updated_ts = float(int(ts))
        self._wire = None

    def search_text(self) -> str:
        return " ".join(
            str(v)
            for v in (
                self.title,
                self.description,
                self.fine_print,
                self.merchant["name"],
                values.PROVIDER_NAMES[self.provider],
                CATEGORY_NAMES[self.category],
            )
            if v
        ).lower()


def new_deal(
    rng: random.Random, deal_id: int, now_ts: float, start_ts: float, merchant_id: int
) -> DealRecord:
    """A fresh deal; before `start_ts` it gets a back-dated `created_at`, as the initial catalog needs."""
    category = values.pick_category(rng)
    provider = values.pick_provider(rng, category)
    online = values.is_online(rng, category)
    name = values.merchant_name(rng, category)
    merchant = values.merchant(rng, merchant_id, name, online, provider)
    price, value = values.price_value(rng, category)
    _, pct = values.discount(price, value)
    created = now_ts - rng.uniform(0, 60 * 86_400) if now_ts <= start_ts else now_ts
    updated = created + (now_ts - created) * rng.random() if now_ts <= start_ts else now_ts
    expiry = values.expires_ts(rng, created, start_ts)
    return DealRecord(
        id=deal_id,
        category=category,
        provider=provider,
        online=online,
        title=values.title(rng, category, name, price, value, pct),
        short_title=values.short_title(price, value, name),
        description=values.description(rng, category, name),
        fine_print=values.fine_print(rng),
        number_sold=values.number_sold(rng),
        untracked_url=f"https://www.{provider}.com/deals/{deal_id}",
        price=price,
        value=value,
        merchant=merchant,
        expires_at=expiry if isinstance(expiry, str) or expiry is None else fmt_ts(expiry),
        expires_ts=expiry if isinstance(expiry, float) else None,
        created_at=fmt_ts(created),
        updated_ts=float(int(updated)),
        lat=merchant["latitude"],
        lng=merchant["longitude"],
    )


def duplicate_of(original: DealRecord, deal_id: int, now_ts: float) -> DealRecord:
    """The same offer under a new id (§7.2): identical title, short title, merchant and price."""
    fields = {name: getattr(original, name) for name in DealRecord.__slots__ if not name.startswith("_")}
    fields |= {
        "id": deal_id,
        "untracked_url": f"{original.untracked_url}-{deal_id}",
        "updated_ts": float(int(now_ts)),
    }
    return DealRecord(**fields)
