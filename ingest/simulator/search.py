"""`/v2/deals` semantics: query-string parsing (§3), filters and order (§4.1), and the `query` echo (§5.2).

Parsing is Rack-like: `&` and `;` both separate, `%xx` and `+` decode, unknown keys are ignored, bad
numbers fall back to defaults, `per_page` is clamped to 1..100. A category page in the default order is
a slice of a pre-sorted list; anything else is filtered, sorted once and cached until the catalog changes.
"""

from __future__ import annotations

import math
import re
from bisect import bisect_right
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from urllib.parse import unquote_plus

from ingest.api_model import parse_iso
from ingest.simulator.catalog import Catalog
from ingest.simulator.records import DealRecord, fmt_ts
from ingest.simulator.values import PLACES
from pipeline.cells import KM_PER_MILE, haversine_km

_ORDERS = {
    "number_sold": lambda r: r.number_sold or 0,
    "price": lambda r: r.price,
    "value": lambda r: r.value,
    "expires_at": lambda r: r.expires_ts if r.expires_ts is not None else math.inf,
    "updated_at": lambda r: r.updated_ts,
    "commission": lambda r: r.price * 0.1,
}
_LATLNG = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*,\s*(-?\d+(?:\.\d+)?)\s*$")


def parse_query_string(raw: str) -> dict[str, str]:
    """Split on `&` and `;` (§3), decode, last value wins."""
    params: dict[str, str] = {}
    for part in re.split(r"[&;]", raw):
        if part:
            key, _, value = part.partition("=")
            params[unquote_plus(key).strip()] = unquote_plus(value)
    return params


@dataclass(frozen=True)
class SimQuery:
    page: int = 1
    per_page: int = 10
    text: str | None = None
    location: dict[str, Any] | None = None
    radius: float = 10
    online: bool | None = None
    category_slugs: tuple[str, ...] = ()
    provider_slugs: tuple[str, ...] = ()
    updated_after: float | None = None
    order: str | None = None

    def filter_key(self) -> tuple[object, ...]:
        loc = (self.location or {}).get("latitude"), (self.location or {}).get("longitude")
        return (
            self.text,
            loc,
            self.radius,
            self.online,
            self.category_slugs,
            self.provider_slugs,
            self.updated_after,
            self.order,
        )

    def echo(self, total: int) -> dict[str, Any]:
        """The `query` object in the 2016 key order (§5.2)."""
        return {
            "total": total,
            "page": self.page,
            "per_page": self.per_page,
            "query": self.text,
            "location": self.location,
            "radius": self.radius,
            "online": self.online,
            "category_slugs": list(self.category_slugs),
            "provider_slugs": list(self.provider_slugs),
            "updated_after": fmt_ts(self.updated_after) if self.updated_after is not None else None,
        }


def to_query(params: dict[str, str]) -> SimQuery:
    """Coerce raw parameters with the API's defaults; never raises on bad input (§7.5)."""
    location = geocode(params.get("location"))
    online = _bool(params.get("online"))
    return SimQuery(
        page=max(1, _int(params.get("page"), 1)),
        per_page=min(100, max(1, _int(params.get("per_page"), 10))),
        text=params.get("query") or None,
        location=location,
        radius=_float(params.get("radius"), 10.0),
        online=False if location is not None else online,
        category_slugs=_list(params.get("category_slugs")),
        provider_slugs=_list(params.get("provider_slugs")),
        updated_after=_timestamp(params.get("updated_after")),
        order=params.get("order") if _order_ok(params.get("order")) else None,
    )


def select(
    catalog: Catalog, query: SimQuery, cache: dict[tuple[object, ...], tuple[int, list[int]]], shift: int = 0
) -> tuple[int, list[DealRecord]]:
    """(true total, the page's records). `shift` slides the window by rows (the drift quirk)."""
    start = max(0, (query.page - 1) * query.per_page + shift)
    ids = _fast_ids(catalog, query) if _is_simple(query) else _cached_ids(catalog, query, cache)
    window = ids[start : start + query.per_page]
    return len(ids), [catalog.live[abs(i)] for i in window]


def _is_simple(query: SimQuery) -> bool:
    return query == replace(
        SimQuery(),
        page=query.page,
        per_page=query.per_page,
        radius=query.radius,
        category_slugs=query.category_slugs[:1],
    )


def _fast_ids(catalog: Catalog, query: SimQuery) -> list[int]:
    if query.category_slugs:
        return catalog.by_category.get(query.category_slugs[0], [])
    return catalog.all_ids


def _cached_ids(
    catalog: Catalog, query: SimQuery, cache: dict[tuple[object, ...], tuple[int, list[int]]]
) -> list[int]:
    key = query.filter_key()
    hit = cache.get(key)
    if hit is not None and hit[0] == catalog.mutations:
        return hit[1]
    ids = [r.id for r in _ordered(_matching(catalog, query), query)]
    if len(cache) > 64:
        cache.pop(next(iter(cache)))
    cache[key] = (catalog.mutations, ids)
    return ids


def _matching(catalog: Catalog, query: SimQuery) -> list[DealRecord]:
    if query.updated_after is not None:
        first = bisect_right(catalog.by_updated, (query.updated_after, math.inf))
        records = [catalog.live[i] for _, i in catalog.by_updated[first:]]
    elif query.category_slugs:
        records = [catalog.live[-i] for s in query.category_slugs for i in catalog.by_category.get(s, [])]
    else:
        records = list(catalog.live.values())
    cats, provs = set(query.category_slugs), set(query.provider_slugs)
    text = query.text.lower() if query.text else None
    return [
        r
        for r in records
        if (not cats or r.category in cats)
        and (not provs or r.provider in provs)
        and (query.online is None or r.online == query.online)
        and (text is None or text in r.search_text())
        and (query.location is None or _within(r, query.location, query.radius))
    ]


def _ordered(records: list[DealRecord], query: SimQuery) -> list[DealRecord]:
    records.sort(key=lambda r: -r.id)  # the default order, and the tie-break of every other order
    if query.order:
        field, desc = (query.order[:-5], True) if query.order.endswith("_desc") else (query.order, False)
        key = _ORDERS.get(field) or (lambda r: _miles(r, query.location or {}))
        records.sort(key=key, reverse=desc)
    return records


def geocode(raw: str | None) -> dict[str, Any] | None:
    """A fixed lookup table stands in for the geocoder: `lat,lng`, a city name (`Milwaukee, WI`) or a ZIP."""
    if not raw:
        return None
    match = _LATLNG.match(raw)
    if match:
        lat, lng = float(match[1]), float(match[2])
        return {
            "address": None,
            "locality": None,
            "region": None,
            "postal_code": None,
            "country": None,
            "latitude": lat,
            "longitude": lng,
        }
    wanted = raw.lower().replace(",", " ").split()
    for place in PLACES:
        if " ".join(wanted).startswith(place.locality.lower()) or (
            wanted and wanted[0][:3] == place.zip_prefix
        ):
            return {
                "address": None,
                "locality": place.locality,
                "region": place.region,
                "postal_code": None,
                "country": "United States",
                "latitude": place.latitude,
                "longitude": place.longitude,
            }
    return None


def _within(record: DealRecord, location: dict[str, Any], radius: float) -> bool:
    return record.lat is not None and _miles(record, location) <= radius


def _miles(record: DealRecord, location: dict[str, Any]) -> float:
    if record.lat is None or record.lng is None or location.get("latitude") is None:
        return math.inf
    km = haversine_km(record.lat, record.lng, location["latitude"], location["longitude"])
    return km / KM_PER_MILE


def _int(raw: str | None, default: int) -> int:
    try:
        return int(raw) if raw is not None else default
    except ValueError:
        return default


def _float(raw: str | None, default: float) -> float:
    try:
        value = float(raw) if raw is not None else default
    except ValueError:
        return default
    return int(value) if value.is_integer() else value


def _bool(raw: str | None) -> bool | None:
    return None if raw is None else raw.strip().lower() in ("true", "1", "yes")


def _list(raw: str | None) -> tuple[str, ...]:
    return tuple(s.strip() for s in raw.split(",") if s.strip()) if raw else ()


def _timestamp(raw: str | None) -> float | None:
    if not raw:
        return None
    try:
        moment: datetime = parse_iso(raw)
    except ValueError:
        return None
    return moment.timestamp()


def _order_ok(raw: str | None) -> bool:
    if not raw:
        return False
    field = raw[:-5] if raw.endswith("_desc") else raw
    return field in _ORDERS or field == "distance"

