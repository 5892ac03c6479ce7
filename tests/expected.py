"""Independent plain-Python statements of what the pipeline must produce from raw deals.

Written from the documented rules (sqoot_api.md, conf/cassandra/schema.cql), not from the Spark
code: tests compare whole Cassandra tables and DataFrames against these.
"""
from __future__ import annotations

import html
import re
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from pipeline.taxonomy import CATEGORY_NAMES, PARENT_OF

_B32 = "0123456789bcdefghjkmnpqrstuvwxyz"


def round_half_up(x: float, places: int) -> float:
    return float(Decimal(repr(x)).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP))


def geohash(lat: float, lon: float, precision: int) -> str:
    """Textbook geohash by interval bisection."""
    lat_rng, lon_rng = [-90.0, 90.0], [-180.0, 180.0]
    out, bits, ch, even = [], 0, 0, True
    while len(out) < precision:
        rng, val = (lon_rng, lon) if even else (lat_rng, lat)
        mid = (rng[0] + rng[1]) / 2
        ch <<= 1
        if val >= mid:
            ch |= 1
            rng[0] = mid
        else:
            rng[1] = mid
        even, bits = not even, bits + 1
        if bits == 5:
            out.append(_B32[ch])
            bits, ch = 0, 0
    return "".join(out)


def _text(value: str | None) -> str | None:
    if value is None:
        return None
    plain = " ".join(html.unescape(re.sub(r"<[^>]*>", " ", value)).split())
    return plain or None


def _blank(value: str | None) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def _time(value: str | None) -> datetime | None:
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ") if value else None


def deal_row(raw: dict[str, Any]) -> dict[str, Any]:
    """The deals_by_id row of one valid raw deal."""
    m = raw.get("merchant") or {}
    price, value = round_half_up(raw["price"], 2), round_half_up(raw["value"], 2)
    pct = round_half_up((value - price) / value, 4) if value > 0 else 0.0
    online = bool(raw.get("online"))
    has_place = not online and m.get("latitude") not in (None, 0.0) and m.get("longitude") not in (None, 0.0)
    lat, lon = (m["latitude"], m["longitude"]) if has_place else (None, None)
    slug = raw["category_slug"].strip().lower()
    advertised = raw.get("discount_percentage")
    return {
        "deal_id": raw["id"], "title": raw["title"].strip(), "short_title": _blank(raw.get("short_title")),
        "description": _text(raw.get("description")), "fine_print": _text(raw.get("fine_print")),
        "number_sold": raw.get("number_sold"), "url": _blank(raw.get("url")),
        "untracked_url": _blank(raw.get("untracked_url")), "image_url": _blank(raw.get("image_url")),
        "price": price, "value": value, "discount_amount": round_half_up(value - price, 2), "discount_pct": pct,
        "advertised_discount_pct": advertised,
        "is_discount_consistent": None if advertised is None else abs(advertised - pct) <= 0.01,
        "provider_name": _blank(raw.get("provider_name")), "provider_slug": _blank(raw.get("provider_slug")),
        "category_slug": slug, "category_name": CATEGORY_NAMES[slug], "parent_category": PARENT_OF[slug],
        "online": online, "expires_at": _time(raw.get("expires_at")), "created_at": _time(raw.get("created_at")),
        "updated_at": _time(raw["updated_at"]),
        "merchant_id": m.get("id"), "merchant_name": _blank(m.get("name")),
        "merchant_address": _blank(m.get("address")), "merchant_locality": _blank(m.get("locality")),
        "merchant_region": _blank(m.get("region")), "merchant_postal_code": _blank(m.get("postal_code")),
        "merchant_country": _blank(m.get("country")), "merchant_phone": _blank(m.get("phone_number")),
        "merchant_url": _blank(m.get("url")), "latitude": lat, "longitude": lon,
        "geohash": geohash(lat, lon, 7) if has_place else None,
        "geocell": geohash(lat, lon, 4) if has_place else None,
    }


def latest_by_id(raws: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    """Newest version per deal id by updated_at; among equal times the later one in the list."""
    latest: dict[int, dict[str, Any]] = {}
    for raw in raws:
        current = latest.get(raw["id"])
        if current is None or _time(raw["updated_at"]) >= _time(current["updated_at"]):
            latest[raw["id"]] = raw
    return latest


def sorted_table_rows(rows: list[dict[str, Any]]) -> dict[str, set[tuple[Any, ...]]]:
    """Primary keys every sorted table must hold for these current deal rows."""
    keys: dict[str, set[tuple[Any, ...]]] = {t: set() for t in (
        "deals_by_category_discount", "deals_by_category_price", "online_deals_by_category",
        "deals_by_geocell", "deals_by_merchant")}
    for r in rows:
        for cat in {r["category_slug"], r["parent_category"]}:
            keys["deals_by_category_discount"].add((cat, r["discount_pct"], r["deal_id"]))
            keys["deals_by_category_price"].add((cat, r["price"], r["deal_id"]))
        if r["online"]:
            keys["online_deals_by_category"].add((r["parent_category"], r["discount_pct"], r["deal_id"]))
        if r["geocell"]:
            keys["deals_by_geocell"].add((r["geocell"], r["deal_id"]))
        if r["merchant_id"] is not None:
            keys["deals_by_merchant"].add((r["merchant_id"], r["deal_id"]))
    return keys


def merchant_ranking(rows: list[dict[str, Any]]) -> set[tuple[Any, ...]]:
    """(category_slug, deals_sold, merchant_id, deal_count) of merchants_by_category."""
    totals: dict[tuple[str, int], list[int]] = {}
    for r in rows:
        if r["merchant_id"] is None:
            continue
        for cat in {r["category_slug"], r["parent_category"]}:
            acc = totals.setdefault((cat, r["merchant_id"]), [0, 0])
            acc[0] += r["number_sold"] or 0
            acc[1] += 1
    return {(cat, sold, mid, count) for (cat, mid), (sold, count) in totals.items()}


def latest_by_version(raws: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One raw deal per (id, updated_at): the later one in the list, as a re-crawl replaces it."""
    versions: dict[tuple[int, str], dict[str, Any]] = {}
    for raw in raws:
        versions[(raw["id"], raw["updated_at"])] = raw
    return list(versions.values())
