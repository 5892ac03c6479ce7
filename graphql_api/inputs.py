"""Input types and their validation; each message starts with the argument path it is about."""
from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum

import strawberry

from conf.settings import Settings
from graphql_api.cursors import Position, decode_cursor
from graphql_api.errors import InvalidInput
from pipeline.cells import cells_covering
from pipeline.taxonomy import CATEGORY_NAMES

MAX_DEAL_ID = 2**63 - 1
MAX_PAGE_SIZE = 100
MAX_TEXT_LENGTH = 100


@strawberry.enum(description="Order of a deal search.")
class DealSort(Enum):
    _value_: str  # each member's value is the string given to `enum_value` (strawberry unwraps it)

    BEST_DISCOUNT = strawberry.enum_value("BEST_DISCOUNT", description="Highest discount fraction first.")
    CHEAPEST = strawberry.enum_value("CHEAPEST", description="Lowest price first.")
    BIGGEST_SAVING = strawberry.enum_value(
        "BIGGEST_SAVING", description="Largest value - price first; ranked within a bounded read "
                                      "(see DealConnection.exhaustive).")
    NEAREST = strawberry.enum_value("NEAREST", description="Closest to filter.near first (needs filter.near).")
    VERIFIED_DISCOUNT = strawberry.enum_value(
        "VERIFIED_DISCOUNT", description="Highest verified discount first (Deal.score; not with filter.near).")
    BIGGEST_VERIFIED_SAVING = strawberry.enum_value(
        "BIGGEST_VERIFIED_SAVING", description="Largest reference price - price first (not with filter.near).")
    BEST_RATED = strawberry.enum_value(
        "BEST_RATED", description="Highest adjusted rating first (Deal.rating), within filter.category; takes no "
                                  "other filter. Deals without a verified review are not listed.")


@strawberry.input(description="A circle on the map.")
class NearInput:
    lat: float = strawberry.field(description="Latitude of the centre, -90..90.")
    lon: float = strawberry.field(description="Longitude of the centre, -180..180.")
    radius_km: float = strawberry.field(description="Radius in km, above 0 and at most the server's maximum "
                                                    "(50 km by default).")


@strawberry.input(description="Conditions every returned deal meets; omitted fields do not filter.")
class DealFilter:
    category: str | None = strawberry.field(
        default=None, description="Category slug (see `categories`); a parent includes its children.")
    min_price: float | None = strawberry.field(default=None, description="Lowest price, inclusive, >= 0.")
    max_price: float | None = strawberry.field(default=None, description="Highest price, inclusive.")
    min_discount: float | None = strawberry.field(
        default=None, description="Lowest discount fraction, inclusive, 0..1 (0.5 = half price).")
    near: NearInput | None = strawberry.field(default=None, description="Only deals within this circle.")
    online: bool | None = strawberry.field(
        default=None, description="true: online deals only; false: local deals only.")
    text: str | None = strawberry.field(
        default=None, description="Case-insensitive substring of the title or merchant name.")
    min_verified_discount: float | None = strawberry.field(
        default=None, description="Lowest verified discount fraction (Deal.score), inclusive, 0..1; with the "
                                  "VERIFIED_DISCOUNT and BIGGEST_VERIFIED_SAVING sorts.")


@dataclass(frozen=True, slots=True)
class Near:
    lat: float
    lon: float
    radius_km: float
    cells: tuple[str, ...]  # the geohash-4 cells covering the circle: one CQL read each


@dataclass(frozen=True, slots=True)
class DealQuery:
    """A validated search: every bound checked, the cursor decoded."""

    sort: DealSort
    first: int
    after: Position | None
    category: str | None = None
    min_price: float = 0.0
    max_price: float | None = None
    min_discount: float = 0.0
    near: Near | None = None
    online: bool | None = None
    text: str | None = None
    min_verified_discount: float = 0.0


def parse_deal_id(raw: str, *, field: str) -> int:
    """A deal id (a positive bigint) from its GraphQL ID form."""
    text = str(raw).strip()
    if not (text.isascii() and text.isdigit()) or not 0 < int(text) <= MAX_DEAL_ID:
        raise InvalidInput(field, f"expected a deal id (a positive integer), found {str(raw)[:40]!r}")
    return int(text)


def parse_first(first: int, *, field: str = "first") -> int:
    if not 1 <= first <= MAX_PAGE_SIZE:
        raise InvalidInput(field, f"must be between 1 and {MAX_PAGE_SIZE}, found {first}")
    return first


def parse_category(slug: str, *, field: str) -> str:
    if slug not in CATEGORY_NAMES:
        raise InvalidInput(field, f"unknown category {slug[:60]!r}; the `categories` query lists them")
    return slug


def _number(value: float | None, field: str, low: float, high: float) -> float | None:
    return None if value is None else _bounded(value, field, low, high)


def _bounded(value: float, field: str, low: float, high: float) -> float:
    if not (math.isfinite(value) and low <= value <= high):
        raise InvalidInput(field, f"must be between {low:g} and {high:g}, found {value!r}")
    return value


def parse_near(near: NearInput, settings: Settings) -> Near:
    lat = _bounded(near.lat, "filter.near.lat", -90.0, 90.0)
    lon = _bounded(near.lon, "filter.near.lon", -180.0, 180.0)
    radius = _bounded(near.radius_km, "filter.near.radiusKm", 0.0, settings.api_max_radius_km)
    if not radius:
        raise InvalidInput("filter.near.radiusKm", f"must be above 0, found {near.radius_km!r}")
    cells = tuple(cells_covering(lat, lon, radius))
    if len(cells) > settings.api_max_near_cells:
        # near a pole a circle spans every longitude: thousands of cells, one read each
        raise InvalidInput("filter.near", f"a {radius:g} km circle at latitude {lat:g} covers {len(cells)} map "
                                          f"cells; at most {settings.api_max_near_cells}: use a smaller radius")
    return Near(lat=lat, lon=lon, radius_km=radius, cells=cells)


def parse_deal_query(flt: DealFilter | None, sort: DealSort, first: int, after: str | None,
                     settings: Settings) -> DealQuery:
    """Check every argument of `deals` and return the search it describes."""
    flt = flt or DealFilter()
    min_price = _number(flt.min_price, "filter.minPrice", 0.0, 1e12) or 0.0
    max_price = _number(flt.max_price, "filter.maxPrice", 0.0, 1e12)
    if max_price is not None and max_price < min_price:
        raise InvalidInput("filter.maxPrice", f"must be at least filter.minPrice ({min_price:g}), found {max_price:g}")
    near = None if flt.near is None else parse_near(flt.near, settings)
    if sort is DealSort.NEAREST and near is None:
        raise InvalidInput("sort", "NEAREST needs filter.near")
    _check_verified(flt, sort, near)
    _check_rated(flt, sort)
    text = None if flt.text is None else flt.text.strip().lower()
    if text is not None and len(text) > MAX_TEXT_LENGTH:
        raise InvalidInput("filter.text", f"at most {MAX_TEXT_LENGTH} characters, found {len(text)}")
    return DealQuery(
        sort=sort, first=parse_first(first),
        after=None if after is None else decode_cursor(after, tag=sort.value),
        category=None if flt.category is None else parse_category(flt.category, field="filter.category"),
        min_price=min_price, max_price=max_price,
        min_discount=_number(flt.min_discount, "filter.minDiscount", 0.0, 1.0) or 0.0,
        near=near, online=flt.online, text=text or None,
        min_verified_discount=_number(flt.min_verified_discount, "filter.minVerifiedDiscount", 0.0, 1.0) or 0.0,
    )


def _check_rated(flt: DealFilter, sort: DealSort) -> None:
    """BEST_RATED ranks one category's rating partition (issue 18): the other filters have no column there."""
    if sort is not DealSort.BEST_RATED:
        return
    if flt.category is None:
        raise InvalidInput("filter.category", "sort BEST_RATED needs a category")
    others = [name for name, value in (("minPrice", flt.min_price), ("maxPrice", flt.max_price),
                                       ("minDiscount", flt.min_discount), ("near", flt.near), ("online", flt.online),
                                       ("text", flt.text), ("minVerifiedDiscount", flt.min_verified_discount))
              if value is not None]
    if others:
        raise InvalidInput(f"filter.{others[0]}", "sort BEST_RATED takes filter.category only")


VERIFIED_SORTS = frozenset({DealSort.VERIFIED_DISCOUNT, DealSort.BIGGEST_VERIFIED_SAVING})


def _check_verified(flt: DealFilter, sort: DealSort, near: Near | None) -> None:
    """The verified sorts read the score tables, which have no place; only they carry the score."""
    if sort in VERIFIED_SORTS and near is not None:
        raise InvalidInput("sort", f"{sort.value} does not combine with filter.near")
    if flt.min_verified_discount is not None and sort not in VERIFIED_SORTS:
        raise InvalidInput("filter.minVerifiedDiscount", "needs sort VERIFIED_DISCOUNT or BIGGEST_VERIFIED_SAVING")
