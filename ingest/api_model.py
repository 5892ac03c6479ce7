"""The shapes of the Sqoot v2 deals API (sqoot_api.md §4-§5): request parameters and parsed answers.

Parsing is strict about the envelope (a wrong shape is a `BadPayload` naming the URL) and lenient about
the deals inside it: an element that is not `{"deal": {"id": <int>, ...}}` is counted, not fatal.
Deal objects are kept exactly as the API sent them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ingest.errors import BadPayload

Deal = dict[str, Any]


def iso_z(moment: datetime) -> str:
    """UTC ISO 8601 with a `Z` and no fractions, the API's timestamp format (§5.4)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text: str) -> datetime:
    """Parse `2016-02-06T17:23:12Z` or a zone-less `2016-02-06T17:23:12` (taken as UTC, §3)."""
    moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@dataclass(frozen=True)
class DealsQuery:
    """Every parameter of `GET /v2/deals` (§4.1); None or empty means "not sent"."""

    page: int = 1
    per_page: int = 100
    category_slugs: tuple[str, ...] = ()
    provider_slugs: tuple[str, ...] = ()
    updated_after: datetime | None = None
    query: str | None = None
    location: str | None = None
    radius: float | None = None
    online: bool | None = None
    order: str | None = None

    def __post_init__(self) -> None:
        if self.page < 1:
            raise ValueError(f"page is 1-based, got {self.page}")
        if not 1 <= self.per_page <= 100:
            raise ValueError(f"per_page must be 1..100 (the API's maximum), got {self.per_page}")

    def params(self) -> dict[str, str]:
        """Query-string parameters in the API's spelling (lists comma-joined, booleans true/false)."""
        raw: dict[str, object] = {
            "query": self.query, "location": self.location, "radius": self.radius,
            "online": None if self.online is None else str(self.online).lower(),
            "category_slugs": ",".join(self.category_slugs) or None,
            "provider_slugs": ",".join(self.provider_slugs) or None,
            "updated_after": iso_z(self.updated_after) if self.updated_after else None,
            "order": self.order, "page": self.page, "per_page": self.per_page,
        }
        return {key: str(value) for key, value in raw.items() if value is not None}


@dataclass(frozen=True)
class Category:
    slug: str
    name: str
    parent_slug: str | None


@dataclass(frozen=True)
class DealsPage:
    """One page of `/v2/deals`: the echoed `query`, the unwrapped deal objects, and the server's clock."""

    url: str
    total: int
    page: int
    per_page: int
    deals: list[Deal]
    query: dict[str, Any]
    server_time: datetime | None = None
    invalid_items: int = 0
    body_bytes: int = field(default=0, compare=False)


def _shape_error(url: str, status: int, expected: str, data: object) -> BadPayload:
    found = f"keys {sorted(data)[:8]}" if isinstance(data, dict) else type(data).__name__
    return BadPayload(f"expected {expected}, found {found}", url=url, status=status)


def parse_deals_page(
    url: str, status: int, data: object, server_time: datetime | None, size: int
) -> DealsPage:
    """Validate a `/v2/deals` body and unwrap `deals[i].deal`."""
    if not isinstance(data, dict) or not isinstance(data.get("query"), dict) or not isinstance(
        data.get("deals"), list
    ):
        raise _shape_error(url, status, "{'query': {...}, 'deals': [...]}", data)
    query = data["query"]
    total = query.get("total")
    if not isinstance(total, int) or isinstance(total, bool):
        raise BadPayload(f"expected an integer query.total, found {total!r}", url=url, status=status)
    deals: list[Deal] = []
    for item in data["deals"]:
        deal = item.get("deal") if isinstance(item, dict) else None
        if isinstance(deal, dict) and isinstance(deal.get("id"), int):
            deals.append(deal)
    return DealsPage(
        url=url, total=total, page=int(query.get("page") or 1), per_page=int(query.get("per_page") or 0),
        deals=deals, query=query, server_time=server_time,
        invalid_items=len(data["deals"]) - len(deals), body_bytes=size,
    )


def parse_categories(url: str, status: int, data: object) -> list[Category]:
    """Validate a `/v2/categories` body and unwrap `categories[i].category`."""
    if not isinstance(data, dict) or not isinstance(data.get("categories"), list):
        raise _shape_error(url, status, "{'categories': [...]}", data)
    categories = []
    for item in data["categories"]:
        cat = item.get("category") if isinstance(item, dict) else None
        if not isinstance(cat, dict) or not isinstance(cat.get("slug"), str):
            expected = "{'category': {'slug': ...}}"
            raise BadPayload(f"expected {expected}, found {item!r:.120}", url=url, status=status)
        categories.append(Category(cat["slug"], str(cat.get("name") or cat["slug"]), cat.get("parent_slug")))
    return categories


def parse_single_deal(url: str, status: int, data: object) -> Deal:
    """Validate a `/v2/deals/{id}` body and unwrap `deal`."""
    deal = data.get("deal") if isinstance(data, dict) else None
    if not isinstance(deal, dict) or not isinstance(deal.get("id"), int):
        raise _shape_error(url, status, "{'deal': {'id': <int>, ...}}", data)
    return deal
